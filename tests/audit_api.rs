//! The audit API as the `audit-api` function assembles it: `edge::audit_router` over
//! `DynamoDbAuditLog` on moto, authenticated by the real `JwksVerifier` against an
//! issuer's key set served on loopback, configured as the function configures it (a
//! required scope, an allow-list of clients). Every bad token gets 401; a genuine token
//! without the scope, from a client not on the list, or without the group 403; a good
//! one the records.

use std::sync::Arc;

use aws_adapters::DynamoDbAuditLog;
use aws_adapters::dynamodb_audit::create_table;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clients::jwks::{JwksVerifier, JwksVerifierConfig};
use edge::{AuditApp, audit_router};
use gateway::audit::{
    AuditActor, AuditLog, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome,
};
use gateway::audit_store::MemoryAnchors;
use gateway::audit_store::keys::{AuditPowers, LocalAuditKeys};
use gateway::{ResourceKind, SystemClock};
use http::StatusCode;
use http_body_util::BodyExt;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The issuer, audience, group, scope and client the audit API is configured with.
pub(crate) const ISSUER: &str = "https://example.okta.com/oauth2/aus-audit";
pub(crate) const AUDIENCE: &str = "api://scimgw-audit";
pub(crate) const GROUP: &str = "scimgw-auditors";
pub(crate) const SCOPE: &str = "scimgw.audit.read";
pub(crate) const CLIENT: &str = "0oa-audit-cli";
/// The kid of the issuer's signing key.
pub(crate) const KID: &str = "okta-2024";

/// A signing key and its public JWK.
pub(crate) struct Key {
    pub(crate) encoding: EncodingKey,
    pub(crate) jwk: Jwk,
}

/// A fresh ES256 key named `kid`.
pub(crate) fn key(kid: &str) -> Key {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("generate");
    let encoding = EncodingKey::from_ec_der(pair.to_pkcs8v1().expect("pkcs8").as_ref());
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some(kid.into());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
    Key { encoding, jwk }
}

fn sign(key: &Key, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims of a valid auditor's token.
pub(crate) fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "auditor@example.com", "exp": now() + 600, "nbf": now() - 5,
           "groups": [GROUP], "scp": ["openid", SCOPE], "cid": CLIENT})
}

fn with(mut claims: Value, k: &str, v: Value) -> Value {
    claims[k] = v;
    claims
}

fn without(mut claims: Value, k: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(k);
    }
    claims
}

/// The issuer's key set holding `keys`, served on loopback: its URL, and the server
/// (abort it when done).
pub(crate) async fn serve_jwks(keys: Vec<Jwk>) -> (String, tokio::task::JoinHandle<()>) {
    let set = JwkSet { keys };
    let jwks = Router::new().route(
        "/v1/keys",
        get(move || async move { axum::Json(set.clone()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1/keys", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, jwks).await;
    });
    (url, server)
}

/// The token verifier as the `audit-api` function configures it (a required scope, an
/// allow-list of clients), reading the issuer's keys at `jwks_url`.
pub(crate) fn verifier(jwks_url: String) -> JwksVerifier {
    JwksVerifier::new(
        JwksVerifierConfig::new(ISSUER, AUDIENCE, GROUP)
            .with_jwks_url(Some(jwks_url))
            .with_required_scope(SCOPE)
            .with_allowed_client_ids(vec![CLIENT.into(), "0oa-audit-web".into()]),
    )
    .expect("verifier")
}

/// The `n`th group deletion the audit API tests seed, by `credential`, after
/// `target_calls` Identity Center requests.
pub(crate) fn deleted_group_record(n: u32, credential: &str, target_calls: u32) -> AuditRecord {
    AuditRecord {
        time: time::OffsetDateTime::now_utc(),
        source: AuditSource::Scim {
            method: "DELETE".into(),
            path: "/Groups/{id}".into(),
        },
        actor: AuditActor {
            credential: credential.into(),
            user_agent: None,
        },
        subject: AuditSubject {
            resource_type: Some(ResourceKind::Group),
            external_id: Some(format!("00g{n}")),
            target_id: Some(format!("g-{n}")),
            name: Some(format!("Engineering {n}")),
        },
        operation: AuditOperation::Delete,
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "identity".into(),
        outcome: Outcome::Success,
        status: 204,
        target_status: Some(204),
        target_calls,
        latency_ms: 9,
        correlation_id: format!("req-{n}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

#[tokio::test]
async fn the_audit_api_answers_a_valid_auditor_and_refuses_every_bad_token() {
    // Arrange: the issuer's key set on loopback…
    let signing = key(KID);
    let (jwks_url, server) = serve_jwks(vec![signing.jwk.clone()]).await;
    // …the audit table with two records…
    let moto = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&moto);
    let table = test_services::unique_name("e2e-audit-api");
    create_table(&ddb, &table).await.expect("create table");
    let keys = LocalAuditKeys::random().expect("keys");
    let store = Arc::new(
        DynamoDbAuditLog::new(
            ddb,
            table,
            AuditPowers::local(&keys),
            Arc::new(SystemClock),
            time::Duration::days(400),
        )
        .with_anchors(Arc::new(MemoryAnchors::default())),
    );
    for n in 1..=2 {
        store
            .append(deleted_group_record(n, "scim-token:primary", 2))
            .await
            .expect("append");
    }
    // …and the router as the function builds it.
    let verifier = verifier(jwks_url);
    // …and the reads queue the API notes each read on, in moto's SQS…
    let sqs = aws_sdk_sqs::Client::new(&moto);
    let (reads_queue, _) = aws_adapters::sqs_read_notes::create_read_queues(
        &sqs,
        &test_services::unique_name("e2e-audit-reads"),
        5,
    )
    .await
    .expect("reads queue");
    let notes = aws_adapters::SqsReadNotes::new(sqs.clone(), reads_queue.clone());
    let router = audit_router(Arc::new(AuditApp::new(
        store,
        Arc::new(verifier),
        Arc::new(notes),
    )));
    let call = |token: Option<String>, uri: &str| {
        let router = router.clone();
        let mut request = Request::get(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).expect("request");
        async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };

    // Act / Assert: a valid auditor reads and verifies.
    let good = sign(&signing, KID, &claims());
    let (status, body) = call(Some(good.clone()), "/audit/records?operation=delete").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"].as_array().map(Vec::len), Some(2));
    let (status, body) = call(Some(good.clone()), "/audit/verify").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["intact"], true);
    assert_eq!(body["checked"], 2);

    // Every bad token: 401.
    let header = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        header(json!({"alg": "none", "kid": KID})),
        header(claims())
    );
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(KID.into());
    let public_as_secret = serde_json::to_vec(&signing.jwk).expect("jwk json");
    let confused =
        jsonwebtoken::encode(&hs, &claims(), &EncodingKey::from_secret(&public_as_secret))
            .expect("hs256");
    let bad = [
        (
            "expired",
            sign(&signing, KID, &with(claims(), "exp", json!(now() - 3600))),
        ),
        (
            "not yet valid",
            sign(&signing, KID, &with(claims(), "nbf", json!(now() + 3600))),
        ),
        (
            "wrong issuer",
            sign(
                &signing,
                KID,
                &with(claims(), "iss", json!("https://evil.example.com")),
            ),
        ),
        (
            "wrong audience",
            sign(&signing, KID, &with(claims(), "aud", json!("api://other"))),
        ),
        ("alg none", unsigned),
        ("HS256 with the public key", confused),
        ("unknown kid", sign(&key("attacker"), "attacker", &claims())),
        ("forged with the real kid", sign(&key(KID), KID, &claims())),
        ("garbage", "not-a-jwt".into()),
    ];
    for (what, token) in bad {
        let (status, body) = call(Some(token), "/audit/records").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "invalid_token", "{what}");
        assert!(body.get("records").is_none());
    }
    let (status, _) = call(None, "/audit/records").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A genuine token that lacks a privilege: 403, on both routes, with the reason.
    let forbidden = [
        (
            "without the group",
            with(claims(), "groups", json!(["Everyone"])),
            "the token lacks the required group",
        ),
        (
            "another scope",
            with(claims(), "scp", json!(["openid", "okta.users.read"])),
            "the token lacks the required scope",
        ),
        (
            "no scope",
            without(claims(), "scp"),
            "the token lacks the required scope",
        ),
        (
            "a third-party app's token",
            with(claims(), "cid", json!("0oa-third-party-saas")),
            "the token was issued to a client that is not allowed",
        ),
        (
            "no client",
            without(claims(), "cid"),
            "the token was issued to a client that is not allowed",
        ),
    ];
    for (what, claims, reason) in forbidden {
        let token = sign(&signing, KID, &claims);
        for route in ["/audit/records", "/audit/verify"] {
            let (status, body) = call(Some(token.clone()), route).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{what} {route}: {body}");
            assert_eq!(body["error"], "insufficient_scope", "{what}");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(reason)),
                "{what}: {body}"
            );
            assert!(body.get("records").is_none() && body.get("intact").is_none());
        }
    }

    // The scope as an RFC 9068 `scope` string, and another allowed client named by
    // RFC 9068's `client_id`: 200.
    let rfc9068 = with(
        with(
            without(without(claims(), "scp"), "cid"),
            "scope",
            json!(format!("openid {SCOPE}")),
        ),
        "client_id",
        json!("0oa-audit-web"),
    );
    let (status, body) = call(
        Some(sign(&signing, KID, &rfc9068)),
        "/audit/records?operation=delete",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"].as_array().map(Vec::len), Some(2));

    // Every answered read left a note on the reads queue, and no refused one did: the
    // three reads above that answered 200, and none of the 401s and 403s.
    let mut noted = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&reads_queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            let note: gateway::audit_reads::ReadNote =
                serde_json::from_str(message.body().unwrap_or_default()).expect("a note");
            noted.push((note.path, note.status));
            sqs.delete_message()
                .queue_url(&reads_queue)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    noted.sort();
    assert_eq!(
        noted,
        [
            ("/audit/records".to_owned(), Some(200)),
            ("/audit/records".to_owned(), Some(200)),
            ("/audit/verify".to_owned(), Some(200)),
        ]
    );
    server.abort();
}
