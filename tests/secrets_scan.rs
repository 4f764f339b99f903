//! No secret reaches a log line or an audit record (`docs/design.md`, "Data"): the whole Okta
//! replay, plus refused requests that carry passwords and tokens, run with every
//! `tracing` event of every crate captured as JSON (spans and fields included); then
//! the capture and the audit records are searched for the inbound tokens, the target's
//! token and every `password` value Okta sent.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use http::Method;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::okta_replay::{FIXTURES, Target, replay};
use crate::scim_support::{INBOUND_TOKEN, INBOUND_TOKEN_2, TARGET_TOKEN};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// One thread runs everything (gateway, client, emulator), so the thread-local
// subscriber sees every event of every task.
#[tokio::test(flavor = "current_thread")]
async fn no_token_or_password_reaches_the_logs_or_the_audit_records() {
    // Arrange: every event at TRACE, as JSON with the span fields.
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Act: the whole replay, each fixture in a fresh emulator as in the replay suite…
    let mut passwords = Vec::new();
    let mut records = Vec::new();
    for (name, text) in FIXTURES {
        let target = Target::start("ic").await;
        let gateway = target.gateway();
        passwords.extend(replay(name, text, &target, &gateway).await.passwords);
        records.extend(gateway.audit.records());
    }
    let target = Target::start("ic").await;
    let gateway = target.gateway();
    // …and refusals that carry secrets: bad values, a wrong token, a password PATCH.
    let leaky_password = "Leaky-Pw-9f8e7d6c!";
    passwords.push(leaky_password.to_owned());
    let bad_create = json!({
        "schemas": [scim_core::USER_SCHEMA], "userName": 42, "password": leaky_password
    });
    gateway
        .call(Method::POST, "/Users", Some(&bad_create))
        .await;
    let conflict = json!({
        "schemas": [scim_core::USER_SCHEMA], "userName": "dup@example.com",
        "name": {"givenName": "D", "familyName": "U"}, "displayName": "D U",
        "emails": [{"value": "dup@example.com", "primary": true}], "password": leaky_password
    });
    gateway.call(Method::POST, "/Users", Some(&conflict)).await;
    gateway.call(Method::POST, "/Users", Some(&conflict)).await;
    let password_patch = json!({
        "schemas": [scim_core::PATCH_OP_SCHEMA],
        "Operations": [{"op": "replace", "path": "password", "value": leaky_password}]
    });
    gateway
        .call(
            Method::PATCH,
            "/Users/9067729b3d-00000000-0000-4000-8000-000000000000",
            Some(&password_patch),
        )
        .await;
    gateway
        .call(
            Method::POST,
            "/Users",
            Some(&json!({"password": leaky_password, "userName": {"x": leaky_password}})),
        )
        .await;
    let wrong_token = Request::builder()
        .uri("/scim/v2/Users")
        .header("authorization", format!("Bearer {INBOUND_TOKEN}-but-wrong"))
        .body(Body::empty())
        .expect("request");
    gateway.send(wrong_token).await;

    // Assert
    let logs =
        String::from_utf8_lossy(&capture.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    records.extend(gateway.audit.records());
    let audit = serde_json::to_string(&records).expect("audit records serialize");
    let audit_debug = format!("{records:?}");
    assert!(
        logs.lines().count() > 100,
        "the capture saw too little to mean anything"
    );
    assert!(
        records.len() > 100,
        "too few audit records: {}",
        records.len()
    );
    let mut secrets: Vec<String> = vec![
        INBOUND_TOKEN.into(),
        INBOUND_TOKEN_2.into(),
        TARGET_TOKEN.into(),
    ];
    assert!(
        passwords.len() > 400,
        "the replay sent {} passwords",
        passwords.len()
    );
    secrets.extend(passwords);
    for secret in &secrets {
        for (what, text) in [
            ("logs", &logs),
            ("audit records", &audit),
            ("audit records (Debug)", &audit_debug),
        ] {
            if let Some(at) = text.find(secret.as_str()) {
                let context =
                    &text[at.saturating_sub(200)..(at + secret.len() + 50).min(text.len())];
                panic!("a secret is in the {what}: …{context}…");
            }
        }
    }
}
