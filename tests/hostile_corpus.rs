//! The hostile-input corpus (`tests/fixtures/hostile/`, `docs/hostile-input.md`): every
//! request in it sent to the real SCIM, event-hook and audit routers in process, each
//! answered with its expected status and error, never a 5xx, never passed on (to
//! Identity Center, the events queue, or an auditor), never echoing a secret it carried.
//! Every failing entry is reported, by name, in one failure.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use edge::metrics::{RecordingSink, RequestMetrics};
use edge::{AuditApp, BearerAuthenticator, HookApp, StaticSecretSource, audit_router, hook_router};
use gateway::audit::AuditLog;
use gateway::audit_reads::InMemoryReadNotes;
use gateway::audit_store::InMemoryAuditStore;
use gateway::events::{EventIntake, InMemoryEventLedger, LocalEventQueue};
use gateway::{SecretId, SecretString, SystemClock};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use crate::audit_api::{self, ISSUER, KID};
use crate::okta_events::{HOOK_SECRET, HOOK_SECRET_ID};
use crate::scim_support::{
    INBOUND_TOKEN, INBOUND_TOKEN_2, RecordingEmulator, TARGET_TOKEN, TestGateway, init_test_log,
};

/// The fewest requests a corpus file may hold, so that it cannot shrink unnoticed.
const MIN_ENTRIES: usize = 200;

/// One request of the corpus and what it must be answered with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    method: String,
    path: Text,
    #[serde(default)]
    headers: Vec<(String, Text)>,
    body: Option<Text>,
    expect: u16,
    /// The SCIM error's `scimType` (SCIM routes): absent when the error has none.
    #[serde(rename = "scimType")]
    scim_type: Option<String>,
    /// The `error` code of the hook's and the audit API's error bodies.
    error: Option<String>,
    /// The exact JSON body of a successful answer.
    answer: Option<Value>,
}

/// A path, header value or body: plain text, or parts joined.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Parts(Vec<Part>),
}

/// One piece of a [`Text`].
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Part {
    Literal(String),
    Repeat(Repeat),
    Bytes(RawBytes),
    Secret(SecretPart),
    Jwt(JwtPart),
}

/// `repeat`, `times` times over: large inputs stay small in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    repeat: String,
    times: usize,
}

/// Bytes that are not UTF-8, in base64.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBytes {
    base64: String,
}

/// One of the test's secrets, by name ([`secret`]): the files hold none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretPart {
    secret: String,
}

/// An access token for the audit API, made to a recipe ([`Issuer::token`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtPart {
    jwt: JwtSpec,
}

/// How to make an access token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtSpec {
    /// Merged over `{"alg": "ES256", "kid": KID, "typ": "JWT"}`; `null` removes a field.
    #[serde(default)]
    header: Map<String, Value>,
    /// Merged over a valid auditor's claims; `null` removes one, `{"now": n}` is now + n
    /// seconds, `{"issuer": s}` the issuer followed by `s`.
    #[serde(default)]
    claims: Map<String, Value>,
    /// Who signs: `issuer` (the default), `stranger`, `none`, `hs256-public-key`,
    /// `hs512-public-key` (the issuer's public JWK as an HMAC secret), `hs256-secret`.
    sign: Option<String>,
    /// What is done to the token after signing (see [`Issuer::token`]).
    tamper: Option<String>,
    /// Puts the signer's public key in the header (`jwk`), as if it vouched for itself.
    #[serde(default)]
    embed_key: bool,
}

/// A rendered request: the bytes to send and every secret put into them.
struct Rendered {
    request: Request,
    secrets: Vec<String>,
}

/// An answer, whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// The named secrets a corpus may use, with look-alikes that must not pass for them.
fn secret(name: &str) -> Option<String> {
    let tabbed = |s: &str| format!("{}\t{}", &s[..s.len() / 2], &s[s.len() / 2..]);
    Some(match name {
        "scim_token" => INBOUND_TOKEN.to_owned(),
        "scim_token_2" => INBOUND_TOKEN_2.to_owned(),
        "scim_token_truncated" => INBOUND_TOKEN[..INBOUND_TOKEN.len() - 1].to_owned(),
        "scim_token_upper" => INBOUND_TOKEN.to_uppercase(),
        "scim_token_tabbed" => tabbed(INBOUND_TOKEN),
        "scim_token_sha256" => edge::hash_token(INBOUND_TOKEN),
        "target_token" => TARGET_TOKEN.to_owned(),
        "hook_secret" => HOOK_SECRET.to_owned(),
        "hook_secret_truncated" => HOOK_SECRET[..HOOK_SECRET.len() - 1].to_owned(),
        "hook_secret_upper" => HOOK_SECRET.to_uppercase(),
        "hook_secret_tabbed" => tabbed(HOOK_SECRET),
        "hook_secret_sha256" => edge::hash_token(HOOK_SECRET),
        _ => return None,
    })
}

/// The secrets no answer may ever carry, whatever the request held.
const NEVER_ECHOED: &[&str] = &[INBOUND_TOKEN, INBOUND_TOKEN_2, TARGET_TOKEN, HOOK_SECRET];

/// The audit API's token issuer, and a stranger with a key of its own.
struct Issuer {
    signing: audit_api::Key,
    stranger: audit_api::Key,
}

impl Issuer {
    fn new() -> Self {
        Self {
            signing: audit_api::key(KID),
            stranger: audit_api::key(KID),
        }
    }

    /// A token made to `spec`: the header and claims of a valid auditor's token with the
    /// spec's changes, signed as it says, then tampered with as it says.
    fn token(&self, spec: &JwtSpec) -> Result<String, String> {
        let default_header = json!({"alg": "ES256", "kid": KID, "typ": "JWT"});
        let mut header = default_header.clone();
        merge(&mut header, &spec.header);
        if spec.embed_key {
            let signer = match spec.sign.as_deref() {
                Some("stranger") => &self.stranger,
                _ => &self.signing,
            };
            header["jwk"] = serde_json::to_value(&signer.jwk).map_err(|e| e.to_string())?;
        }
        let mut claims = audit_api::claims();
        merge(&mut claims, &resolve(&spec.claims));
        let url = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let tamper = spec.tamper.as_deref();
        // What is signed: the token's own header and claims, unless the tampering signs
        // something else (and may swap the token's own in after).
        let (signed_header, signed_payload) = match tamper {
            Some("swap-header") => (url(&default_header), url(&claims)),
            Some("swap-payload") => (url(&header), url(&audit_api::claims())),
            Some("payload-not-json") => (url(&header), URL_SAFE_NO_PAD.encode("not json")),
            Some("payload-is-scim-token") => (url(&header), URL_SAFE_NO_PAD.encode(INBOUND_TOKEN)),
            Some("standard-base64") => (
                STANDARD_NO_PAD.encode(header.to_string()),
                STANDARD_NO_PAD.encode(claims.to_string()),
            ),
            _ => (url(&header), url(&claims)),
        };
        let input = format!("{signed_header}.{signed_payload}");
        let signature = self.sign(spec.sign.as_deref().unwrap_or("issuer"), &input)?;
        let token = format!("{input}.{signature}");
        let tampered = match tamper {
            None | Some("payload-not-json" | "payload-is-scim-token") => return Ok(token),
            // Compared with the same token in the URL-safe alphabet, below.
            Some("standard-base64") => format!("{}.{}.{signature}", url(&header), url(&claims)),
            Some("swap-header") => format!("{}.{signed_payload}.{signature}", url(&header)),
            Some("swap-payload") => format!("{signed_header}.{}.{signature}", url(&claims)),
            Some("extra-segment") => format!("{token}.e30"),
            Some("tab-inside") => format!("{signed_header}.\t{signed_payload}.{signature}"),
            Some("flip-signature") => {
                let flipped = if signature.starts_with('A') { "B" } else { "A" };
                format!("{input}.{flipped}{}", &signature[1..])
            }
            Some("truncate-signature") => format!("{input}.{}", &signature[..signature.len() - 4]),
            Some("strip-signature") => format!("{input}."),
            Some("other-signature") => {
                let other = format!("{signed_header}.{}", url(&json!({"sub": "someone-else"})));
                format!("{input}.{}", self.sign("issuer", &other)?)
            }
            Some("padded-signature") => {
                format!("{token}{}", "=".repeat((4 - signature.len() % 4) % 4))
            }
            Some(other) => return Err(format!("unknown tampering `{other}`")),
        };
        // A tampering that changes nothing would test a valid token.
        if tampered == token {
            return Err(format!(
                "tampering `{}` changed nothing",
                tamper.unwrap_or_default()
            ));
        }
        Ok(if tamper == Some("standard-base64") {
            token
        } else {
            tampered
        })
    }

    fn sign(&self, how: &str, input: &str) -> Result<String, String> {
        let public_key = || serde_json::to_vec(&self.signing.jwk).map_err(|e| e.to_string());
        let (key, algorithm) = match how {
            "issuer" => (self.signing.encoding.clone(), Algorithm::ES256),
            "stranger" => (self.stranger.encoding.clone(), Algorithm::ES256),
            "none" => return Ok(String::new()),
            "hs256-public-key" => (EncodingKey::from_secret(&public_key()?), Algorithm::HS256),
            "hs512-public-key" => (EncodingKey::from_secret(&public_key()?), Algorithm::HS512),
            "hs256-secret" => (EncodingKey::from_secret(b"secret"), Algorithm::HS256),
            other => return Err(format!("unknown signer `{other}`")),
        };
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, algorithm).map_err(|e| e.to_string())
    }
}

/// Sets `changes` on the object `base`; a `null` removes the field.
fn merge(base: &mut Value, changes: &Map<String, Value>) {
    if let Some(object) = base.as_object_mut() {
        for (key, value) in changes {
            if value.is_null() {
                object.remove(key);
            } else {
                object.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Claims with `{"now": n}` and `{"issuer": s}` worked out.
fn resolve(claims: &Map<String, Value>) -> Map<String, Value> {
    fn value(v: &Value) -> Value {
        let only = |key: &str| match v {
            Value::Object(o) if o.len() == 1 => o.get(key),
            _ => None,
        };
        match v {
            _ if let Some(seconds) = only("now").and_then(Value::as_i64) => {
                json!(audit_api::now() + seconds)
            }
            _ if let Some(suffix) = only("issuer").and_then(Value::as_str) => {
                json!(format!("{ISSUER}{suffix}"))
            }
            Value::Array(items) => Value::Array(items.iter().map(value).collect()),
            other => other.clone(),
        }
    }
    claims.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

impl Text {
    /// The bytes, with every secret and token put in also noted in `secrets`.
    fn render(
        &self,
        issuer: Option<&Issuer>,
        secrets: &mut Vec<String>,
    ) -> Result<Vec<u8>, String> {
        let parts = match self {
            Text::Plain(text) => return Ok(text.as_bytes().to_vec()),
            Text::Parts(parts) => parts,
        };
        let mut out = Vec::new();
        for part in parts {
            match part {
                Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
                Part::Repeat(Repeat { repeat, times }) => {
                    out.extend_from_slice(repeat.repeat(*times).as_bytes());
                }
                Part::Bytes(RawBytes { base64 }) => {
                    out.extend(STANDARD.decode(base64).map_err(|e| e.to_string())?);
                }
                Part::Secret(SecretPart { secret: name }) => {
                    let value = secret(name).ok_or_else(|| format!("no secret `{name}`"))?;
                    out.extend_from_slice(value.as_bytes());
                    secrets.push(value);
                }
                Part::Jwt(JwtPart { jwt }) => {
                    let issuer = issuer.ok_or("a token where none is expected")?;
                    let token = issuer.token(jwt)?;
                    out.extend_from_slice(token.as_bytes());
                    secrets.push(token);
                }
            }
        }
        Ok(out)
    }
}

impl Entry {
    fn render(&self, issuer: Option<&Issuer>) -> Result<Rendered, String> {
        if self.expect >= 500 {
            return Err("a corpus entry never expects a 5xx".into());
        }
        let mut secrets = Vec::new();
        let method = Method::from_bytes(self.method.as_bytes()).map_err(|e| e.to_string())?;
        let uri = Uri::try_from(self.path.render(issuer, &mut secrets)?)
            .map_err(|e| format!("path: {e}"))?;
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_bytes(&value.render(issuer, &mut secrets)?)
                .map_err(|e| format!("header {name}: {e}"))?;
            builder = builder.header(name, value);
        }
        let body = match &self.body {
            Some(body) => Body::from(body.render(issuer, &mut secrets)?),
            None => Body::empty(),
        };
        let request = builder.body(body).map_err(|e| e.to_string())?;
        Ok(Rendered { request, secrets })
    }
}

/// The corpus of `route`, with every line that does not read as an entry reported.
fn corpus(route: &str) -> (Vec<Entry>, Vec<String>) {
    let path = corpus_dir().join(format!("{route}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(error) => failures.push(format!("{route}.jsonl line {}: {error}", n + 1)),
        }
    }
    (entries, failures)
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/hostile")
}

async fn send(router: &Router, request: Request) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// What every answer must be, on every route: the expected status, no 5xx, no secret.
fn check_common(entry: &Entry, answer: &Answer, secrets: &[String], problems: &mut Vec<String>) {
    if answer.status != entry.expect {
        problems.push(format!(
            "status {} (expected {}): {}",
            answer.status,
            entry.expect,
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    if answer.status >= 500 {
        problems.push("a server error".into());
    }
    let mut texts = vec![String::from_utf8_lossy(&answer.body).into_owned()];
    texts.extend(
        answer
            .headers
            .values()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    );
    let sent = secrets.iter().map(String::as_str);
    for secret in sent.chain(NEVER_ECHOED.iter().copied()) {
        if texts.iter().any(|t| t.contains(secret)) {
            problems.push("the answer echoes a secret".into());
        }
    }
    if answer.status == 405 && !answer.headers.contains_key("allow") {
        problems.push("a 405 without Allow".into());
    }
}

/// The `{"error", "message", "correlation_id"}` body of the hook's and the audit API's
/// errors, and nothing else.
fn check_plain_error(entry: &Entry, answer: &Answer, problems: &mut Vec<String>) {
    let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
        problems.push("the error body is not JSON".into());
        return;
    };
    let keys: HashSet<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if keys != HashSet::from(["error", "message", "correlation_id"]) {
        problems.push(format!(
            "the error body holds more or less than an error: {body}"
        ));
    }
    if body["error"].as_str() != entry.error.as_deref() {
        problems.push(format!(
            "error {} (expected {:?})",
            body["error"], entry.error
        ));
    }
    if answer
        .headers
        .get("content-type")
        .map(HeaderValue::as_bytes)
        != Some(b"application/json")
    {
        problems.push("an error that is not application/json".into());
    }
}

/// Sends every entry of `route` through `check`, and fails once, naming every entry that
/// failed.
async fn run<F>(route: &str, issuer: Option<&Issuer>, mut check: F)
where
    F: AsyncFnMut(&Entry, Rendered) -> Vec<String>,
{
    let (entries, mut failures) = corpus(route);
    let mut failed = 0;
    for entry in &entries {
        let problems = match entry.render(issuer) {
            Ok(rendered) => check(entry, rendered).await,
            Err(error) => vec![format!("cannot be sent: {error}")],
        };
        failed += usize::from(!problems.is_empty());
        failures.extend(
            problems
                .into_iter()
                .map(|p| format!("{route} `{}`: {p}", entry.name)),
        );
    }
    assert!(
        failures.is_empty(),
        "{failed} of {} {route} requests were answered wrongly:\n{}",
        entries.len(),
        failures.join("\n")
    );
}

#[test]
fn every_corpus_file_holds_at_least_200_requests_with_distinct_names() {
    for route in ["scim", "hook", "audit"] {
        let (entries, failures) = corpus(route);
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(
            entries.len() >= MIN_ENTRIES,
            "{route}.jsonl holds {} requests",
            entries.len()
        );
        let mut names = HashSet::new();
        let repeated: Vec<&str> = entries
            .iter()
            .filter(|e| !names.insert(e.name.as_str()))
            .map(|e| e.name.as_str())
            .collect();
        assert!(repeated.is_empty(), "{route}.jsonl repeats {repeated:?}");
    }
}

#[test]
fn the_corpus_files_are_what_generate_py_writes() {
    let output = std::process::Command::new("python3")
        .arg(corpus_dir().join("generate.py"))
        .arg("--check")
        .output()
        .expect("python3 runs tests/fixtures/hostile/generate.py");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_scim_corpus_is_refused_at_the_edge_with_rfc_7644_errors() {
    init_test_log();
    let emulator = RecordingEmulator::start().await;
    let gateway = TestGateway::over(&emulator);
    run("scim", None, async |entry: &Entry, rendered: Rendered| {
        let mut problems = Vec::new();
        if entry.error.is_some() || entry.answer.is_some() {
            problems.push("`error` and `answer` are for the hook and the audit API".into());
        }
        let (requests, received) = (emulator.requests(), emulator.received().len());
        let answer = send(&gateway.router, rendered.request).await;
        check_common(entry, &answer, &rendered.secrets, &mut problems);
        if emulator.requests() != requests || emulator.received().len() != received {
            problems.push("it reached Identity Center".into());
        }
        // RFC 7644 §3.12: the error schema, `status` as a string, `scimType` when one fits.
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if body["schemas"] != json!([scim_core::ERROR_SCHEMA]) {
            problems.push(format!("not a SCIM error: {body}"));
        }
        if body["status"] != json!(answer.status.to_string()) {
            problems.push(format!("`status` is not the status as a string: {body}"));
        }
        if body["scimType"].as_str() != entry.scim_type.as_deref() {
            problems.push(format!(
                "scimType {} (expected {:?})",
                body["scimType"], entry.scim_type
            ));
        }
        if answer
            .headers
            .get("content-type")
            .map(HeaderValue::as_bytes)
            != Some(scim_core::SCIM_MEDIA_TYPE.as_bytes())
        {
            problems.push("not application/scim+json".into());
        }
        if !answer.headers.contains_key(edge::CORRELATION_HEADER) {
            problems.push("no correlation id".into());
        }
        let challenge = answer.headers.get("www-authenticate");
        if answer.status == 401 && !challenge.is_some_and(|c| c.as_bytes().starts_with(b"Bearer")) {
            problems.push("a 401 without a Bearer challenge".into());
        }
        problems
    })
    .await;
}

#[tokio::test]
async fn the_hook_corpus_is_answered_as_documented_and_queues_nothing() {
    init_test_log();
    let ledger = Arc::new(InMemoryEventLedger::new());
    let queue = Arc::new(LocalEventQueue::new(3, |_| Duration::ZERO));
    let intake = EventIntake::new(ledger.clone(), queue.clone(), Arc::new(SystemClock));
    let secrets = StaticSecretSource::new().with(
        SecretId::new(HOOK_SECRET_ID),
        SecretString::new(edge::inbound_tokens_secret(&[HOOK_SECRET])),
    );
    let authenticator =
        BearerAuthenticator::hook_secret(Arc::new(secrets), SecretId::new(HOOK_SECRET_ID));
    let sink = RecordingSink::default();
    let app = HookApp::new(intake, authenticator)
        .with_metrics(RequestMetrics::new("okta-hook").with_sink(Arc::new(sink)));
    let router = hook_router(Arc::new(app));
    run("hook", None, async |entry: &Entry, rendered: Rendered| {
        let mut problems = Vec::new();
        if entry.scim_type.is_some() {
            problems.push("`scimType` is for the SCIM routes".into());
        }
        let answer = send(&router, rendered.request).await;
        check_common(entry, &answer, &rendered.secrets, &mut problems);
        if queue.depth() != (0, 0) || !ledger.states().is_empty() {
            problems.push("an event was recorded or queued".into());
        }
        match (answer.status, &entry.answer) {
            (200, Some(expected)) => {
                let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                if body != *expected {
                    problems.push(format!("answered {body}, expected {expected}"));
                }
            }
            (200, None) if !answer.body.is_empty() => {
                problems.push("an acknowledgement with a body".into());
            }
            (200, _) => {}
            _ => check_plain_error(entry, &answer, &mut problems),
        }
        problems
    })
    .await;
}

#[tokio::test]
async fn the_audit_corpus_is_refused_and_hands_out_no_record() {
    init_test_log();
    let issuer = Issuer::new();
    let (jwks_url, jwks) = audit_api::serve_jwks(vec![issuer.signing.jwk.clone()]).await;
    let store = Arc::new(
        InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400))
            .expect("store"),
    );
    // Records a wrongly answered request could hand out.
    for n in 1..=2 {
        store
            .append(audit_api::deleted_group_record(n, "scim-token-1", 1))
            .await
            .expect("append");
    }
    let notes = Arc::new(InMemoryReadNotes::new());
    let app = AuditApp::new(
        store,
        Arc::new(audit_api::verifier(jwks_url)),
        notes.clone(),
    )
    .with_metrics(RequestMetrics::new("audit-api").with_sink(Arc::new(RecordingSink::default())));
    let router = audit_router(Arc::new(app));
    run(
        "audit",
        Some(&issuer),
        async |entry: &Entry, rendered: Rendered| {
            let mut problems = Vec::new();
            if entry.scim_type.is_some() || entry.answer.is_some() {
                problems.push("`scimType` and `answer` are not for the audit API".into());
            }
            let noted = notes.notes().len();
            let answer = send(&router, rendered.request).await;
            check_common(entry, &answer, &rendered.secrets, &mut problems);
            check_plain_error(entry, &answer, &mut problems);
            // Only an authenticated request is noted in the trail, and nothing was read.
            let new_notes = notes.notes().split_off(noted);
            match answer.status {
                401 | 403 => {
                    if !new_notes.is_empty() {
                        problems.push("a refused caller's request was noted as a read".into());
                    }
                    let challenge = answer.headers.get("www-authenticate");
                    if !challenge
                        .is_some_and(|c| c.as_bytes().starts_with(b"Bearer realm=\"audit\""))
                    {
                        problems.push("no Bearer challenge".into());
                    }
                }
                status => {
                    let noted_as = new_notes
                        .iter()
                        .map(|n| (n.status, n.records))
                        .collect::<Vec<_>>();
                    if noted_as != [(Some(status), None)] {
                        problems.push(format!("noted as {noted_as:?}"));
                    }
                }
            }
            problems
        },
    )
    .await;
    jwks.abort();
}
