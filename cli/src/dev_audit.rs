//! The audit half of `scimgw dev`: an in-memory audit store that is both the SCIM
//! path's audit log and the store behind `/audit`, a local OIDC issuer whose key set is
//! served at [`JWKS_PATH`] on the dev port, and an auditor token it mints, so that the
//! audit API runs locally exactly as in Lambda: the same router, the same JWKS verifier.
//!
//! Its tokens carry what the deployed audit API requires of Okta's: the audience, the
//! scope [`SCOPE`] in `scp`, the client [`CLIENT_ID`] in `cid` (the dev verifier allows
//! that client only) and the auditors' group.
//!
//! The issuer also signs auditors in to the console at `/audit/ui` by OpenID Connect
//! with PKCE, through a local sign-in page (see [`crate::dev_oidc`]).
//!
//! The issuer signs with an ES256 key generated at start (aws-lc-rs, the crypto
//! backend jsonwebtoken already uses here); nothing about it outlives the process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::routing::get;
use clients::jwks::{JwksVerifier, JwksVerifierConfig};
use edge::audit::{CONSOLE_PATH, ConsoleConfig};
use edge::metrics::{LogSink, RequestMetrics};
use edge::{AuditApp, audit_router};
use gateway::SystemClock;
use gateway::audit::{Appended, AuditError, AuditLog, AuditRecord, InMemoryAuditLog};
use gateway::audit_reads::{AppendingReadNotes, ReadNoteWriter, ReadNotes, SenderTrust};
use gateway::audit_store::{AuditStore, AuditStoreError, InMemoryAuditStore};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// Where the dev issuer's key set is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The audience of the dev issuer's tokens.
pub const AUDIENCE: &str = "api://scimgw-dev-audit";

/// The group the dev audit API requires, and the auditor token carries.
pub const AUDITOR_GROUP: &str = "scimgw-auditors";

/// The scope the dev audit API requires, and the auditor token carries: the deployed
/// API's default (`AuditJwtScope`).
pub const SCOPE: &str = clients::jwks::DEFAULT_REQUIRED_SCOPE;

/// The OAuth client the dev tokens are issued to, and the only one the dev audit API
/// accepts (as `AuditJwtClientIds` can restrict the deployed one).
pub const CLIENT_ID: &str = "scimgw-dev";

/// How long the printed auditor token is valid.
pub const TOKEN_LIFETIME: time::Duration = time::Duration::hours(12);

/// How long dev's records are kept: the production default (the retention floor
/// applies to every record all the same).
pub const RETENTION: time::Duration = time::Duration::days(400);

/// What dev audits into and serves `/audit` from: an audit log and store in one, which
/// dev also seals on a clock, as the stack's `sealer` does.
#[async_trait]
pub trait Trail: AuditLog + AuditStore {
    /// Seals every finished hour not sealed yet.
    async fn seal(&self) -> Result<(), AuditStoreError>;

    /// Tries the records kept through an outage of the store once; answers how many
    /// are still kept.
    async fn settle(&self) -> usize;
}

#[async_trait]
impl Trail for InMemoryAuditStore {
    async fn seal(&self) -> Result<(), AuditStoreError> {
        self.seal_due().await.map(|_| ())
    }

    async fn settle(&self) -> usize {
        self.ledger().settle_owed().await
    }
}

#[async_trait]
impl Trail for aws_adapters::DynamoDbAuditLog {
    async fn seal(&self) -> Result<(), AuditStoreError> {
        self.seal_due().await.map(|_| ())
    }

    async fn settle(&self) -> usize {
        self.ledger().settle_owed().await
    }
}

/// How often dev's sealer runs: as the stack's schedule.
pub const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// How often dev tries records its trail kept through an outage of the store, when no
/// append has tried them meanwhile (appends try them first once a try is due).
pub const SETTLE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `trail`'s sealer every [`SEAL_EVERY`], logging a failure (the next run tries
/// again), and tries the records it kept through an outage every [`SETTLE_EVERY`], until
/// `stopped` fires: dev may sit idle after an outage, where a Lambda function's next
/// invocation appends (and so tries them) anyway.
pub async fn seal_on_a_clock(
    trail: Arc<dyn Trail>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    // The first run a period after start, as a schedule would: at start dev has written
    // nothing of its own, and it seals as it writes besides.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + SEAL_EVERY, SEAL_EVERY);
    let mut settles = tokio::time::interval(SETTLE_EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = trail.seal().await {
                    tracing::warn!(target: "scimgw::audit", error = %error, "dev: sealing failed");
                }
            }
            _ = settles.tick() => {
                trail.settle().await;
            }
            _ = stopped.changed() => {
                let left = trail.settle().await;
                if left > 0 {
                    tracing::error!(target: "scimgw::audit", kept = left, "dev: stopping with audit records the store has not taken; they are lost");
                }
                return;
            }
        }
    }
}

/// The in-memory trail: one process with every power (random local keys), sealing as
/// it writes.
pub fn store() -> anyhow::Result<Arc<InMemoryAuditStore>> {
    Ok(Arc::new(
        InMemoryAuditStore::ephemeral(Arc::new(SystemClock), RETENTION)
            .context("generating the local audit keys")?,
    ))
}

/// Where the audit API's notes of reads go, and the task that appends them when they go
/// to a queue: without `aws`, straight into `trail` (dev holds the writers' power); with
/// it, to the reads queue there, drained by a writer as the stack's `event-worker` does
/// (every sender trusted: dev is the audit API and the writer in one).
pub fn read_notes(
    trail: Arc<dyn Trail>,
    aws: Option<&crate::dev_aws::DevAws>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> (Arc<dyn ReadNotes>, Option<tokio::task::JoinHandle<()>>) {
    let log: Arc<dyn AuditLog> = trail;
    let Some(aws) = aws else {
        return (Arc::new(AppendingReadNotes::new(log)), None);
    };
    let writer = ReadNoteWriter::new(log, SenderTrust::Everyone, Arc::new(SystemClock));
    let poller = aws.reads_poller();
    let task = tokio::spawn(async move {
        poller.run(&writer, stopped).await;
    });
    (Arc::new(aws.read_notes()), Some(task))
}

/// The SCIM path's audit log: `dev`'s own in-memory log (it counts records) and the
/// audit store, written in that order.
pub fn log(own: Arc<InMemoryAuditLog>, store: Arc<dyn Trail>) -> Arc<dyn AuditLog> {
    Arc::new(Both { own, store })
}

struct Both {
    own: Arc<InMemoryAuditLog>,
    store: Arc<dyn Trail>,
}

#[async_trait]
impl AuditLog for Both {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.own.append(record.clone()).await?;
        self.store.append(record).await
    }

    async fn append_or_keep(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        self.own.append(record.clone()).await?;
        self.store.append_or_keep(record).await
    }
}

/// The local issuer: a signing key and its public JWK.
pub struct DevIssuer {
    issuer: String,
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl DevIssuer {
    /// A fresh ES256 key for the issuer `issuer`.
    pub fn generate(issuer: String) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| anyhow::anyhow!("generating the dev issuer's key"))?;
        let der = pair
            .to_pkcs8v1()
            .map_err(|_| anyhow::anyhow!("encoding the dev issuer's key"))?;
        let encoding = EncodingKey::from_ec_der(der.as_ref());
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .context("the dev issuer's public key")?;
        let kid = format!("scimgw-dev-{}", &crate_random_hex()[..12]);
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        Ok(Self {
            issuer,
            kid,
            encoding,
            jwk,
        })
    }

    /// The issuer's key set.
    pub fn key_set(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// A token for `subject` in `groups`, with the scope [`SCOPE`], valid for
    /// `lifetime` from now.
    pub fn mint(
        &self,
        subject: &str,
        groups: &[&str],
        lifetime: time::Duration,
    ) -> anyhow::Result<String> {
        self.mint_with_scopes(subject, groups, &[SCOPE], lifetime)
    }

    /// A token for `subject` in `groups` with exactly `scopes` (in `scp`, as Okta
    /// writes them), valid for `lifetime` from now.
    pub fn mint_with_scopes(
        &self,
        subject: &str,
        groups: &[&str],
        scopes: &[&str],
        lifetime: time::Duration,
    ) -> anyhow::Result<String> {
        self.access_token(
            subject,
            groups,
            scopes,
            time::OffsetDateTime::now_utc(),
            lifetime,
        )
    }

    /// An access token for `subject` in `groups` with exactly `scopes`, issued at
    /// `issued` and valid for `lifetime` from then.
    pub fn access_token(
        &self,
        subject: &str,
        groups: &[&str],
        scopes: &[&str],
        issued: time::OffsetDateTime,
        lifetime: time::Duration,
    ) -> anyhow::Result<String> {
        let now = issued.unix_timestamp();
        self.sign(&json!({
            "iss": self.issuer, "aud": AUDIENCE, "sub": subject, "cid": CLIENT_ID,
            "scp": scopes, "iat": now, "nbf": now, "exp": now + lifetime.whole_seconds(),
            "groups": groups,
        }))
    }

    /// An OpenID Connect ID token for `subject`, issued to `client` at `issued`, with
    /// the sign-in's `nonce`.
    pub fn id_token(
        &self,
        subject: &str,
        client: &str,
        nonce: Option<&str>,
        issued: time::OffsetDateTime,
    ) -> anyhow::Result<String> {
        let now = issued.unix_timestamp();
        self.sign(&json!({
            "iss": self.issuer, "aud": client, "sub": subject, "iat": now,
            "exp": now + TOKEN_LIFETIME.whole_seconds(), "nonce": nonce,
            "preferred_username": subject,
        }))
    }

    fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing a dev token")
    }
}

fn crate_random_hex() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The audit side of a running `scimgw dev`, for the address it serves on.
pub struct DevAudit {
    /// The audit API's base URL, `http://<addr>/audit`.
    pub audit_url: String,
    /// The auditor console, `http://<addr>/audit/ui`.
    pub console_url: String,
    /// A token of the required group, valid for [`TOKEN_LIFETIME`].
    pub auditor_token: String,
    issuer: Arc<DevIssuer>,
    sign_in: Arc<crate::dev_oidc::DevSignIn>,
    app: Arc<AuditApp>,
}

impl DevAudit {
    /// Sets up the issuer, the verifier (fetching the key set from the dev port itself,
    /// as the Lambda fetches Okta's) and the audit API over `store`, noting each read
    /// through `notes`.
    pub fn new(
        addr: SocketAddr,
        store: Arc<dyn Trail>,
        notes: Arc<dyn ReadNotes>,
    ) -> anyhow::Result<Self> {
        let base = format!("http://{addr}");
        let issuer = Arc::new(DevIssuer::generate(base.clone())?);
        let verifier = JwksVerifier::new(
            JwksVerifierConfig::new(base.clone(), AUDIENCE, AUDITOR_GROUP)
                .with_jwks_url(Some(format!("{base}{JWKS_PATH}")))
                .with_required_scope(SCOPE)
                .with_allowed_client_ids(vec![CLIENT_ID.to_owned()]),
        )
        .context("the dev audit API's token verifier")?;
        let auditor_token = issuer.mint("dev-auditor", &[AUDITOR_GROUP], TOKEN_LIFETIME)?;
        let console = ConsoleConfig {
            issuer: base.clone(),
            client_id: Some(CLIENT_ID.to_owned()),
            scope: SCOPE.to_owned(),
        };
        Ok(Self {
            audit_url: format!("{base}{}", edge::audit::AUDIT_BASE_PATH),
            console_url: format!("{base}{CONSOLE_PATH}"),
            auditor_token,
            sign_in: crate::dev_oidc::DevSignIn::new(issuer.clone(), base),
            issuer,
            app: Arc::new(
                AuditApp::new(store, Arc::new(verifier), notes)
                    .with_metrics(RequestMetrics::new("audit-api").with_sink(Arc::new(LogSink)))
                    .with_console(console),
            ),
        })
    }

    /// `scim` with the issuer's key set at [`JWKS_PATH`] and the audit API at `/audit`
    /// in front of it.
    pub fn router(&self, scim: Router) -> Router {
        // As a plain service, not nested: the audit router routes on the whole path, as
        // it does in Lambda (axum refuses a `Router` given to `route_service`).
        let audit = audit_router(self.app.clone()).into_service::<axum::body::Body>();
        let key_set = self.issuer.key_set();
        Router::new()
            .route(
                JWKS_PATH,
                get(move || async move { axum::Json(key_set.clone()) }),
            )
            .merge(self.sign_in.router())
            .route_service(edge::audit::AUDIT_BASE_PATH, audit.clone())
            .route_service("/audit/{*rest}", audit)
            .fallback_service(scim)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use serde_json::Value;

    use super::*;
    use crate::dev::{DevArgs, DevServer};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: DevArgs,
    }

    #[tokio::test]
    async fn dev_serves_the_audit_api_with_its_own_issuer_and_the_scim_calls_show_up_in_it() {
        // Arrange
        let args = Wrapper::try_parse_from([
            "x",
            "--listen",
            "127.0.0.1:0",
            "--scim-token",
            "dev-token-2",
        ])
        .unwrap()
        .args;
        let server = DevServer::start(args).await.unwrap();
        let info = server.info().clone();
        let http = reqwest::Client::new();

        // Act: one SCIM call, then the trail through the audit API.
        let listed = http
            .get(format!("{}/Users", info.scim_url))
            .bearer_auth("dev-token-2")
            .send()
            .await
            .unwrap();
        let records = http
            .get(format!("{}/records", info.audit_url))
            .bearer_auth(&info.auditor_token)
            .send()
            .await
            .unwrap();
        let status = records.status();
        let body: Value = records.json().await.unwrap();
        let verified: Value = http
            .get(format!("{}/verify", info.audit_url))
            .bearer_auth(&info.auditor_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let jwks: Value = http
            .get(format!(
                "{}{JWKS_PATH}",
                info.audit_url.trim_end_matches("/audit")
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let no_token = http
            .get(format!("{}/records", info.audit_url))
            .send()
            .await
            .unwrap()
            .status();
        let scim_token = http
            .get(format!("{}/records", info.audit_url))
            .bearer_auth("dev-token-2")
            .send()
            .await
            .unwrap()
            .status();

        // Assert
        assert_eq!(listed.status(), 200);
        assert_eq!(status, 200, "{body}");
        let ops: Vec<&str> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["record"]["operation"].as_str().unwrap())
            .collect();
        assert_eq!(ops, ["list"]);
        assert_eq!(verified["intact"], true, "{verified}");
        assert_eq!(jwks["keys"][0]["alg"], "ES256");
        assert_eq!(no_token, 401);
        assert_eq!(scim_token, 401, "the SCIM token is not an auditor token");
        let written = serde_json::to_value(&info).unwrap();
        assert!(written["audit_url"].as_str().unwrap().ends_with("/audit"));
        assert_eq!(written["auditor_token"], info.auditor_token.as_str());
        server.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn the_dev_audit_api_requires_the_scope_and_the_dev_client_as_the_deployed_one_does() {
        // Arrange: the audit side alone, served on its own loopback port (the verifier
        // fetches the key set from it).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let trail = store().unwrap();
        let notes = Arc::new(AppendingReadNotes::new(trail.clone()));
        let audit = DevAudit::new(addr, trail, notes).unwrap();
        let router = audit.router(Router::new());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let http = reqwest::Client::new();
        let status = |token: String| {
            let request = http
                .get(format!("{}/records", audit.audit_url))
                .bearer_auth(token);
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (
                    status,
                    body["error"].as_str().unwrap_or_default().to_owned(),
                )
            }
        };
        let mint = |scopes: &[&str]| {
            audit
                .issuer
                .mint_with_scopes("dev-auditor", &[AUDITOR_GROUP], scopes, TOKEN_LIFETIME)
                .unwrap()
        };

        // Act
        let printed = status(audit.auditor_token.clone()).await;
        let other_scope = status(mint(&["openid", "email"])).await;
        let no_scope = status(mint(&[])).await;
        let scoped = status(mint(&["openid", SCOPE])).await;

        // Assert
        assert_eq!(printed, (200, String::new()));
        assert_eq!(scoped, (200, String::new()));
        assert_eq!(other_scope, (403, "insufficient_scope".to_owned()));
        assert_eq!(no_scope, (403, "insufficient_scope".to_owned()));
        server.abort();
    }

    #[test]
    fn the_auditor_token_lasts_twelve_hours_and_carries_the_group() {
        let issuer = DevIssuer::generate("http://127.0.0.1:1".into()).unwrap();
        let token = issuer
            .mint("dev-auditor", &[AUDITOR_GROUP], TOKEN_LIFETIME)
            .unwrap();
        let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            12 * 3600
        );
        assert_eq!(claims["groups"], json!([AUDITOR_GROUP]));
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["scp"], json!([SCOPE]));
        assert_eq!(claims["cid"], CLIENT_ID);
    }
}
