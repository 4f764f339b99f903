//! `scimgw dev`: the gateway's SCIM API on one loopback port, with in-memory state, in
//! front of the embedded Identity Center emulator (or of another SCIM endpoint given with
//! `--target`). It prints the URLs and credentials to use and runs until Ctrl-C.
//!
//! It serves exactly the router the Lambda serves (`edge::scim_router`); only the
//! adapters differ: an in-memory audit log, the identity rules, and secrets held in a
//! [`StaticSecretSource`] instead of Secrets Manager.
//!
//! It also serves the audit API at `/audit` on the same port, over an in-memory audit
//! store that the SCIM path audits into, with a local token issuer
//! (see [`crate::dev_audit`]) that also signs auditors in to the console at
//! `/audit/ui`, and the Okta event hook at `/hooks/okta`, with an
//! in-process queue, the worker and an embedded Okta API emulator
//! (see [`crate::dev_events`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use clap::builder::TypedValueParser as _;
use clients::{HttpTargetScimClient, TargetClientConfig};
use edge::metrics::{LogSink, RequestMetrics};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use gateway::audit::InMemoryAuditLog;
use gateway::rules::{ActiveRuleSet, FixedRules, IDENTITY_VERSION, IdentityRules, RuleSource};
use gateway::{ScimService, SecretId, SecretSource, SecretString, SystemClock, TargetDialect};
use ic_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use rand::Rng;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The `rules_version` of `scimgw dev --stored-rules`: the state table's active set.
pub(crate) const STORED_RULES_VERSION: &str = "stored";

/// The time allowed for the target calls of one request, as in the Lambda's default.
const REQUEST_BUDGET: Duration = Duration::from_secs(20);

const TARGET_TOKEN_SECRET: &str = "dev/target-token";
const INBOUND_TOKENS_SECRET: &str = "dev/scim-tokens";

/// Options of `scimgw dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Loopback address to serve the SCIM API on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The bearer token SCIM clients must send (random when not given). Also read from
    /// SCIMGW_DEV_SCIM_TOKEN, which keeps it out of the process list.
    #[arg(long, env = "SCIMGW_DEV_SCIM_TOKEN", hide_env_values = true)]
    scim_token: Option<String>,
    /// SCIM base URL of another target instead of the embedded emulator.
    #[arg(long, requires = "target_token", value_name = "URL")]
    target: Option<String>,
    /// Bearer token for --target. Also read from SCIMGW_DEV_TARGET_TOKEN.
    #[arg(
        long,
        env = "SCIMGW_DEV_TARGET_TOKEN",
        hide_env_values = true,
        requires = "target"
    )]
    target_token: Option<String>,
    /// The dialect --target speaks.
    #[arg(
        long,
        default_value = "identity-center",
        value_parser = clap::builder::PossibleValuesParser::new(["identity-center", "scim"])
            .try_map(|name| name.parse::<TargetDialect>()),
        requires = "target"
    )]
    target_dialect: TargetDialect,
    /// Write the URLs and credentials as JSON to this file (mode 0600), for scripts.
    #[arg(long, value_name = "PATH")]
    info_json: Option<PathBuf>,
    /// Run with this attribute-mapping rule set active (YAML, docs/rules.md); it must
    /// validate. Without it the identity rules apply.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// With --aws-endpoint: apply the rule set active in the state table, as the
    /// deployed functions do (reloaded within 30 s of a switch), instead of the identity;
    /// `scimgw rules apply --table <prefix>-state --aws-endpoint URL` changes it.
    #[arg(long, requires = "aws_endpoint", conflicts_with = "rules")]
    stored_rules: bool,
    /// Seed the embedded Okta API emulator from this JSON file: `{"users": [...],
    /// "groups": [...], "memberships": {"<group id>": ["<user id>", ...]}}` in the Okta
    /// API's own shapes.
    #[arg(long, value_name = "FILE")]
    okta_seed: Option<PathBuf>,
    /// The event hook's shared secret, Okta's Authorization value (random when not
    /// given). Also read from SCIMGW_DEV_HOOK_SECRET.
    #[arg(long, env = "SCIMGW_DEV_HOOK_SECRET", hide_env_values = true)]
    hook_secret: Option<String>,
    /// Keep every stateful part (the audit table with its KMS keys and anchor bucket,
    /// the state table, the secrets, the events queues) at this AWS endpoint, e.g. a
    /// local moto server, instead of in memory; created on start when missing.
    #[arg(long, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// The region for --aws-endpoint (default us-east-1).
    #[arg(long, requires = "aws_endpoint")]
    region: Option<String>,
    /// What the names of the tables, keys, bucket and queues at --aws-endpoint start
    /// with.
    #[arg(long, requires = "aws_endpoint", default_value = crate::dev_aws::DEFAULT_PREFIX)]
    aws_prefix: String,
    /// With --aws-endpoint (an emulator such as moto): also make a small organization
    /// (a root, the OUs Production and Sandbox, three accounts) and, in the endpoint's
    /// Identity Center instance, the permission sets AdministratorAccess and
    /// ReadOnlyAccess and the groups Admins and Readers, to try `scimgw entitlements plan
    /// --dev INFO_JSON` on; their ids are in the info JSON (`entitlements_sandbox`).
    #[arg(long, requires = "aws_endpoint")]
    entitlements_sandbox: bool,
}

/// What `scimgw dev` prints, and writes with `--info-json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DevInfo {
    /// The gateway's SCIM base URL: Okta's "Base URL".
    pub scim_url: String,
    /// The inbound bearer token: Okta's "API Token".
    pub scim_token: String,
    /// The embedded emulator's SCIM base URL, when it is the target.
    pub emulator_url: Option<String>,
    /// The embedded emulator's bearer token, when it is the target.
    pub emulator_token: Option<String>,
    /// The target's SCIM base URL, whichever it is.
    pub target_url: String,
    /// The audit API's base URL (`…/audit`).
    pub audit_url: String,
    /// The auditor console (`…/audit/ui`), signing in through the local issuer.
    pub console_url: String,
    /// A bearer token for the audit API, valid for 12 hours.
    pub auditor_token: String,
    /// The version of the active rule set: `identity`, `file-<digest>` of `--rules`, or
    /// `stored` with `--stored-rules` (the state table's active version, which may
    /// change while dev runs: `scimgw rules list` names it).
    pub rules_version: String,
    /// The Okta event hook's URL (`…/hooks/okta`).
    pub hook_url: String,
    /// The hook's shared secret: the `Authorization` value a delivery carries.
    pub hook_secret: String,
    /// The embedded Okta API emulator's org URL (the API is under `/api/v1`).
    pub okta_url: String,
    /// Its API token, sent as `Authorization: SSWS <token>`.
    pub okta_token: String,
    /// With `--aws-endpoint`: the endpoint every stateful part is kept at.
    pub aws_endpoint: Option<String>,
    /// With `--aws-endpoint`: the region.
    pub region: Option<String>,
    /// With `--aws-endpoint`: the audit table.
    pub audit_table: Option<String>,
    /// With `--aws-endpoint`: the state table (mirror, event ledger).
    pub state_table: Option<String>,
    /// With `--aws-endpoint`: the bucket of seal anchors.
    pub seal_bucket: Option<String>,
    /// With `--aws-endpoint`: the events FIFO queue.
    pub events_queue_url: Option<String>,
    /// With `--aws-endpoint`: its dead-letter queue (`scimgw events dlq`).
    pub events_dlq_url: Option<String>,
    /// With `--aws-endpoint`: the queue that takes a note of every read of the audit
    /// trail (`scimgw audit --reads-queue`).
    pub audit_reads_queue_url: Option<String>,
    /// With `--aws-endpoint`: the audit trail's KMS HMAC key (`--mac-key-ids`).
    pub audit_mac_key: Option<String>,
    /// With `--entitlements-sandbox`: the organization and Identity Center set-up made
    /// at the endpoint (names → ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entitlements_sandbox: Option<crate::dev_aws::EntitlementsSandbox>,
    /// With `--aws-endpoint`: the audit trail's KMS seal key (`--seal-key-ids`).
    pub audit_seal_key: Option<String>,
}

/// A running `scimgw dev`: the gateway, and the emulator when it is the target.
pub struct DevServer {
    info: DevInfo,
    audit: Arc<InMemoryAuditLog>,
    emulator: Option<RunningEmulator>,
    events: crate::dev_events::DevEvents,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    stop_background: tokio::sync::watch::Sender<bool>,
    sealer: JoinHandle<()>,
    reads_writer: Option<JoinHandle<()>>,
}

impl DevServer {
    /// Starts the emulator (unless `--target` is given) and the gateway.
    pub async fn start(args: DevArgs) -> anyhow::Result<Self> {
        let listen: SocketAddr = args.listen.parse().with_context(|| {
            format!("--listen {}: expected an IP address and port", args.listen)
        })?;
        if !listen.ip().is_loopback() {
            // In-memory secrets and a printed token are for one developer's machine only.
            bail!("--listen {listen}: scimgw dev serves on a loopback address only");
        }
        let scim_token = args.scim_token.clone().unwrap_or_else(random_token);
        if scim_token.is_empty() || !scim_token.chars().all(|c| c.is_ascii_graphic()) {
            bail!("--scim-token: expected printable ASCII without spaces");
        }
        let hook_secret = args.hook_secret.clone().unwrap_or_else(random_token);
        if hook_secret.trim().is_empty() || hook_secret.len() > 4096 {
            bail!("--hook-secret: expected 1 to 4096 characters, not blank");
        }
        let okta_seed = args
            .okta_seed
            .as_deref()
            .map(crate::dev_events::read_seed)
            .transpose()?;

        let (emulator, target_url, target_token, dialect) = match &args.target {
            None => {
                let token = random_token();
                let running = Emulator::start(EmulatorConfig::new(token.clone()), "127.0.0.1:0")
                    .await
                    .context("starting the embedded Identity Center emulator")?;
                let url = running.base_url();
                (
                    Some((running, token.clone())),
                    url,
                    token,
                    TargetDialect::IdentityCenter,
                )
            }
            Some(url) => {
                let token = args
                    .target_token
                    .clone()
                    .context("--target needs --target-token")?;
                let dialect = args.target_dialect;
                (None, url.trim_end_matches('/').to_owned(), token, dialect)
            }
        };

        let aws = match &args.aws_endpoint {
            Some(endpoint) => Some(
                crate::dev_aws::DevAws::prepare(endpoint, args.region.as_deref(), &args.aws_prefix)
                    .await?,
            ),
            None => None,
        };
        let entitlements_sandbox = match (&aws, args.entitlements_sandbox) {
            (Some(aws), true) => Some(
                aws.entitlements_sandbox()
                    .await
                    .context("--entitlements-sandbox")?,
            ),
            _ => None,
        };
        let inbound = inbound_tokens_secret(&[&scim_token]);
        let secrets: Arc<dyn SecretSource> = match &aws {
            Some(aws) => Arc::new(
                aws.secrets(&[
                    (TARGET_TOKEN_SECRET, &target_token),
                    (INBOUND_TOKENS_SECRET, &inbound),
                ])
                .await?,
            ),
            None => Arc::new(
                StaticSecretSource::new()
                    .with(
                        SecretId::new(TARGET_TOKEN_SECRET),
                        SecretString::new(target_token),
                    )
                    .with(
                        SecretId::new(INBOUND_TOKENS_SECRET),
                        SecretString::new(inbound),
                    ),
            ),
        };
        let target = HttpTargetScimClient::new(
            TargetClientConfig::new(
                target_url.clone(),
                SecretId::new(TARGET_TOKEN_SECRET),
                dialect,
            ),
            secrets.clone(),
        )
        .context("--target: the target client could not be built")?;
        let counters = target.counters();
        let target: Arc<dyn gateway::TargetScimClient> = Arc::new(target);
        let (rule_source, rules_version) = match &aws {
            Some(aws) if args.stored_rules => (aws.stored_rules(), STORED_RULES_VERSION.to_owned()),
            _ => rule_source(args.rules.as_deref())?,
        };
        let audit = Arc::new(InMemoryAuditLog::new());
        let audit_store: Arc<dyn crate::dev_audit::Trail> = match &aws {
            Some(aws) => Arc::new(aws.audit_store()),
            None => crate::dev_audit::store()?,
        };
        let audit_log = crate::dev_audit::log(audit.clone(), audit_store.clone());
        // The SCIM API and the event worker share what the gateway knows of the target.
        let mirror: Arc<dyn gateway::mirror::Mirror> = match &aws {
            Some(aws) => Arc::new(aws.mirror()),
            None => Arc::new(gateway::mirror::InMemoryMirror::new()),
        };
        let service = ScimService::new(
            target.clone(),
            rule_source.clone(),
            audit_log.clone(),
            Arc::new(SystemClock),
            REQUEST_BUDGET,
        )
        .with_mirror(mirror.clone());
        let worker_service = ScimService::new(
            target,
            rule_source.clone(),
            audit_log,
            Arc::new(SystemClock),
            REQUEST_BUDGET,
        )
        .with_mirror(mirror);
        let events = crate::dev_events::DevEvents::start(
            okta_seed,
            &hook_secret,
            random_token(),
            Arc::new(worker_service),
            aws.as_ref(),
        )
        .await?;
        let authenticator = BearerAuthenticator::new(secrets, SecretId::new(INBOUND_TOKENS_SECRET));
        // Metrics as in Lambda, but as debug log lines: stdout is the developer's terminal.
        let metrics = RequestMetrics::new("scim-api")
            .with_target_counts(Arc::new(move || counters.take()))
            .with_sink(Arc::new(LogSink));
        let app = Arc::new(ScimApp::new(service, authenticator).with_metrics(metrics));

        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener
            .local_addr()
            .context("reading the listening address")?;
        let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
        let sealer = tokio::spawn(crate::dev_audit::seal_on_a_clock(
            audit_store.clone(),
            background_stopped.clone(),
        ));
        let (notes, reads_writer) =
            crate::dev_audit::read_notes(audit_store.clone(), aws.as_ref(), background_stopped);
        let dev_audit = crate::dev_audit::DevAudit::new(addr, audit_store, notes)?;
        // The hook as a plain service on its own path, in front of the rest, as API
        // Gateway routes it to its own function.
        let hook = events.hook.clone().into_service::<axum::body::Body>();
        let router = axum::Router::new()
            .route_service(edge::HOOK_PATH, hook.clone())
            .route_service(&format!("{}/", edge::HOOK_PATH), hook)
            .fallback_service(dev_audit.router(scim_router(app)));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // With the peer's address, which refusals are logged with.
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });

        let info = DevInfo {
            scim_url: format!("http://{addr}{}", edge::SCIM_BASE_PATH),
            scim_token,
            emulator_url: emulator.as_ref().map(|(e, _)| e.base_url()),
            emulator_token: emulator.as_ref().map(|(_, t)| t.clone()),
            target_url,
            audit_url: dev_audit.audit_url.clone(),
            console_url: dev_audit.console_url.clone(),
            auditor_token: dev_audit.auditor_token.clone(),
            rules_version,
            hook_url: format!("http://{addr}{}", edge::HOOK_PATH),
            hook_secret,
            okta_url: events.okta.base_url(),
            okta_token: events.okta_token.clone(),
            aws_endpoint: aws.as_ref().map(|a| a.endpoint.clone()),
            region: aws.as_ref().map(|a| a.region.clone()),
            audit_table: aws.as_ref().map(|a| a.audit_table.clone()),
            state_table: aws.as_ref().map(|a| a.state_table.clone()),
            seal_bucket: aws.as_ref().map(|a| a.seal_bucket.clone()),
            events_queue_url: aws.as_ref().map(|a| a.queue_url.clone()),
            events_dlq_url: aws.as_ref().map(|a| a.dlq_url.clone()),
            audit_reads_queue_url: aws.as_ref().map(|a| a.reads_queue_url.clone()),
            audit_mac_key: aws.as_ref().map(|a| a.keys.mac.clone()),
            entitlements_sandbox,
            audit_seal_key: aws.as_ref().map(|a| a.keys.seal.clone()),
        };
        Ok(Self {
            info,
            audit,
            emulator: emulator.map(|(e, _)| e),
            events,
            stop,
            server,
            stop_background,
            sealer,
            reads_writer,
        })
    }

    /// The URLs and credentials.
    pub fn info(&self) -> &DevInfo {
        &self.info
    }

    /// How many audit records the gateway has written.
    pub fn audit_records(&self) -> usize {
        self.audit.records().len()
    }

    /// Stops the gateway (letting requests in flight finish), then the emulator.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server
            .await
            .context("the gateway's server task failed")?
            .context("the gateway's server failed")?;
        let _ = self.stop_background.send(true);
        let _ = self.sealer.await;
        if let Some(reads_writer) = self.reads_writer {
            let _ = reads_writer.await;
        }
        self.events.shutdown().await;
        if let Some(emulator) = self.emulator {
            emulator.shutdown().await;
        }
        Ok(())
    }
}

/// 256 random bits as 64 hex digits: a valid bearer token (RFC 6750 `b64token`).
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rule source `--rules` asks for, and its version: the file's rule set, which must
/// validate (its warnings go to stderr), or the identity. `scimgw sync --dev` loads the
/// same file the same way, so that both name the same version.
pub(crate) fn rule_source(path: Option<&Path>) -> anyhow::Result<(Arc<dyn RuleSource>, String)> {
    let Some(path) = path else {
        return Ok((Arc::new(IdentityRules::new()), IDENTITY_VERSION.to_owned()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--rules {}: the file could not be read", path.display()))?;
    let loaded = rules::RuleSet::load(&text).map_err(|invalid| {
        let problems: Vec<String> = invalid.problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "--rules {}: the rule set is invalid:\n  {}",
            path.display(),
            problems.join("\n  ")
        )
    })?;
    for warning in &loaded.warnings {
        eprintln!("scimgw dev: --rules: warning: {warning}");
    }
    let digest = gateway::ports::rule_store::document_sha256(&text);
    let version = format!("file-{}", &digest[..12.min(digest.len())]);
    let active = ActiveRuleSet::new(version.clone(), loaded.rule_set);
    Ok((Arc::new(FixedRules::new(active)), version))
}

/// Writes `info` as JSON, readable by the owner only: it holds bearer tokens.
pub(crate) fn write_info_json(path: &Path, info: &DevInfo) -> anyhow::Result<()> {
    use std::io::Write as _;
    let json = serde_json::to_string_pretty(info).context("serializing the info JSON")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(json.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Runs `scimgw dev` until Ctrl-C.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let info_json = args.info_json.clone();
    let server = DevServer::start(args).await?;
    let info = server.info().clone();
    println!("scimgw dev: the SCIM gateway is running (Ctrl-C stops it)");
    println!();
    println!("  SCIM base URL:   {}", info.scim_url);
    println!("  SCIM API token:  {}", info.scim_token);
    println!("  Rules:           {}", info.rules_version);
    match (&info.emulator_url, &info.emulator_token) {
        (Some(url), Some(token)) => {
            println!("  Target:          embedded Identity Center emulator");
            println!("  Emulator URL:    {url}");
            println!("  Emulator token:  {token}");
        }
        _ => println!("  Target:          {}", info.target_url),
    }
    println!("  Audit API URL:   {}", info.audit_url);
    println!("  Auditor token:   {}", info.auditor_token);
    println!("  Audit console:   {}", info.console_url);
    println!("  Event hook URL:  {}", info.hook_url);
    println!("  Hook secret:     {}", info.hook_secret);
    println!("  Okta API (emu):  {}/api/v1", info.okta_url);
    println!("  Okta API token:  {}", info.okta_token);
    println!();
    println!(
        "  Try: curl -H 'Authorization: Bearer {}' {}/Users",
        info.scim_token, info.scim_url
    );
    if let Some(path) = &info_json {
        write_info_json(path, &info)?;
        println!("  Wrote {}", path.display());
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!(
        audit_records = server.audit_records(),
        "scimgw dev stopping"
    );
    server.shutdown().await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: DevArgs,
    }

    fn args(extra: &[&str]) -> Result<DevArgs, clap::Error> {
        let mut argv = vec!["x", "--listen", "127.0.0.1:0"];
        argv.extend_from_slice(extra);
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }

    #[test]
    fn a_target_needs_its_token_and_a_dialect_needs_a_target() {
        assert!(args(&["--target", "http://127.0.0.1:1/v2"]).is_err());
        assert!(args(&["--target-dialect", "scim"]).is_err());
        let parsed = args(&[
            "--target",
            "http://x/v2",
            "--target-token",
            "t",
            "--target-dialect",
            "scim",
        ])
        .unwrap();
        assert_eq!(parsed.target_dialect, TargetDialect::Rfc7644);
    }

    #[tokio::test]
    async fn dev_applies_a_rules_file_names_its_version_and_refuses_an_invalid_one() {
        // Arrange
        let example = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/rules/group-prefix.yaml"
        );
        let invalid =
            std::env::temp_dir().join(format!("scimgw-rules-{}.yaml", std::process::id()));
        std::fs::write(&invalid, "users:\n  - set:\n      password: 'x'\n").unwrap();
        let token = ["--scim-token", "dev-token-r"];
        let server = DevServer::start(args(&[token[0], token[1], "--rules", example]).unwrap())
            .await
            .unwrap();

        // Act
        let created = reqwest::Client::new()
            .post(format!("{}/Groups", server.info().scim_url))
            .bearer_auth("dev-token-r")
            .json(&serde_json::json!({"displayName": "Engineers", "members": []}))
            .send()
            .await
            .unwrap();
        let refused = DevServer::start(args(&["--rules", invalid.to_str().unwrap()]).unwrap())
            .await
            .err()
            .unwrap();

        // Assert
        assert!(server.info().rules_version.starts_with("file-"));
        assert_eq!(created.status(), 201);
        let body: serde_json::Value = created.json().await.unwrap();
        assert_eq!(body["displayName"], "Engineers");
        let emulator = server.emulator.as_ref().unwrap();
        assert_eq!(
            emulator.emulator().groups()[0].display_name,
            "okta-Engineers"
        );
        assert!(refused.to_string().contains("invalid"), "{refused}");
        let _ = std::fs::remove_file(&invalid);
    }

    #[tokio::test]
    async fn a_non_loopback_listen_address_is_refused() {
        let mut parsed = args(&[]).unwrap();
        parsed.listen = "0.0.0.0:0".into();
        let error = DevServer::start(parsed).await.err().unwrap();
        assert!(error.to_string().contains("loopback"), "{error}");
    }

    #[tokio::test]
    async fn dev_serves_the_gateway_in_front_of_the_emulator_and_writes_its_info() {
        // Arrange
        let dir = std::env::temp_dir().join(format!("scimgw-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let info_path = dir.join("info.json");
        let server = DevServer::start(args(&["--scim-token", "dev-token-1"]).unwrap())
            .await
            .unwrap();
        write_info_json(&info_path, server.info()).unwrap();
        let http = reqwest::Client::new();

        // Act
        let created = http
            .post(format!("{}/Users", server.info().scim_url))
            .bearer_auth("dev-token-1")
            .json(&serde_json::json!({
                "schemas": [scim_core::USER_SCHEMA],
                "userName": "ada@example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "displayName": "Ada Lovelace",
                "emails": [{"value": "ada@example.com", "primary": true, "type": "work"}],
                "password": "placeholder-Pw1!",
                "active": true
            }))
            .send()
            .await
            .unwrap();
        let refused = http
            .get(format!("{}/Users", server.info().scim_url))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();

        // Assert
        assert_eq!(created.status(), 201);
        assert_eq!(refused.status(), 401);
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&info_path).unwrap()).unwrap();
        assert_eq!(info["scim_token"], "dev-token-1");
        assert!(info["scim_url"].as_str().unwrap().ends_with("/scim/v2"));
        assert!(
            info["emulator_url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
        assert!(info["emulator_token"].as_str().unwrap().len() == 64);
        // The create's intent and outcome; the refused token leaves none.
        assert_eq!(server.audit_records(), 2);
        server.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn dev_applies_an_okta_event_from_the_seeded_okta_emulator() {
        // Arrange: Okta holds one user; the hook secret is given.
        let dir = std::env::temp_dir().join(format!("scimgw-dev-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let seed = dir.join("okta.json");
        std::fs::write(
            &seed,
            serde_json::json!({
                "users": [{"id": "00u1grace1grace1grac", "status": "ACTIVE",
                           "profile": {"login": "grace@example.com", "email": "grace@example.com",
                                       "firstName": "Grace", "lastName": "Hopper"}}],
                "groups": [],
                "memberships": {}
            })
            .to_string(),
        )
        .unwrap();
        let server = DevServer::start(
            args(&[
                "--okta-seed",
                seed.to_str().unwrap(),
                "--hook-secret",
                "s3cret-hook",
            ])
            .unwrap(),
        )
        .await
        .unwrap();
        let info = server.info().clone();
        let http = reqwest::Client::new();
        let delivery = serde_json::json!({
            "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
            "eventId": "env-1",
            "data": {"events": [{
                "uuid": "ev-1", "published": "2026-12-01T10:00:00.000Z",
                "eventType": "user.lifecycle.create", "actor": null,
                "target": [{"id": "00u1grace1grace1grac", "type": "User"}]
            }]}
        });

        // Act
        let wrong = http
            .post(&info.hook_url)
            .header("authorization", "nope")
            .json(&delivery)
            .send()
            .await
            .unwrap();
        let accepted = http
            .post(&info.hook_url)
            .header("authorization", "s3cret-hook")
            .json(&delivery)
            .send()
            .await
            .unwrap();
        // The worker runs beside the API: wait for the user to reach Identity Center.
        let mut found = None;
        for _ in 0..100 {
            let users: serde_json::Value = http
                .get(format!("{}/Users", info.scim_url))
                .bearer_auth(&info.scim_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if users["totalResults"] == 1 {
                found = Some(users["Resources"][0].clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Assert
        assert_eq!(wrong.status(), 401);
        assert_eq!(accepted.status(), 200);
        let user = found.expect("the event created the user");
        assert_eq!(user["userName"], "grace@example.com");
        assert_eq!(info.hook_secret, "s3cret-hook");
        assert!(info.okta_url.starts_with("http://127.0.0.1:"));
        assert_eq!(info.okta_token.len(), 64);
        let okta = http
            .get(format!(
                "{}/api/v1/users/00u1grace1grace1grac",
                info.okta_url
            ))
            .header("authorization", format!("SSWS {}", info.okta_token))
            .send()
            .await
            .unwrap();
        assert_eq!(okta.status(), 200, "the Okta emulator answers its own API");
        server.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn random_tokens_are_64_hex_digits_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
