//! The audit trail end to end: Okta's replay fixtures (the replay suite's own runner)
//! through the real SCIM router and target client into the Identity Center emulator,
//! with `DynamoDbAuditLog` on moto as the audit log, plus requests the gateway refuses
//! and requests the target fails. Then the table must hold exactly one record per
//! operation, read back through the audit API, verify intact, and hold no secret in
//! any raw item.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_adapters::DynamoDbAuditLog;
use aws_adapters::dynamodb_audit::create_table;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use clients::{HttpTargetScimClient, TargetClientConfig, TargetDialect};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use gateway::audit::{
    AuditError, AuditLog, AuditOperation, AuditRecord, InMemoryAuditLog, Outcome,
};
use gateway::audit_store::MemoryAnchors;
use gateway::audit_store::keys::{AuditPowers, LocalAuditKeys};
use gateway::audit_store::{AuditQuery, AuditStore, MAX_LIMIT, StoredAuditRecord};
use gateway::rules::IdentityRules;
use gateway::{ScimService, SecretId, SecretString, SystemClock};
use http::Method;
use serde_json::json;

use crate::okta_replay::{FIXTURES, Target, replay};
use crate::scim_support::{
    INBOUND_TOKEN, INBOUND_TOKEN_2, TARGET_TOKEN, TestGateway, init_test_log,
};

/// Writes every record to both logs: the in-memory one is the gateway's own account
/// of what it audited, the table is what auditors get.
struct Both(Arc<InMemoryAuditLog>, Arc<DynamoDbAuditLog>);

#[async_trait]
impl AuditLog for Both {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.0.append(record.clone()).await?;
        self.1.append(record).await
    }
}

/// One answer the router gave: method, path, status, correlation id.
type Seen = (String, String, u16, String);

/// The replay suite's gateway, built as `TestGateway::new` builds it but over the given
/// audit log, with a short request budget so that an injected target failure fails
/// fast, and with a layer recording every answer.
fn gateway(
    url: &str,
    audit: Arc<dyn AuditLog>,
    memory: Arc<InMemoryAuditLog>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> TestGateway {
    let secrets = Arc::new(
        StaticSecretSource::new()
            .with(SecretId::new("target"), SecretString::new(TARGET_TOKEN))
            .with(
                SecretId::new("inbound"),
                SecretString::new(inbound_tokens_secret(&[INBOUND_TOKEN, INBOUND_TOKEN_2])),
            ),
    );
    let target = HttpTargetScimClient::new(
        TargetClientConfig::new(url, SecretId::new("target"), TargetDialect::IdentityCenter),
        secrets.clone(),
    )
    .expect("target client");
    let service = ScimService::new(
        Arc::new(target),
        Arc::new(IdentityRules::new()),
        audit,
        Arc::new(SystemClock),
        Duration::from_secs(2),
    );
    let app = ScimApp::new(
        service,
        BearerAuthenticator::new(secrets, SecretId::new("inbound")),
    );
    let router = scim_router(Arc::new(app)).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let seen = seen.clone();
            async move {
                let (method, path) = (
                    request.method().to_string(),
                    request.uri().path().to_owned(),
                );
                let response: Response = next.run(request).await;
                let correlation = response
                    .headers()
                    .get(edge::CORRELATION_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap_or_else(|p| p.into_inner()).push((
                    method,
                    path,
                    response.status().as_u16(),
                    correlation,
                ));
                response
            }
        },
    ));
    TestGateway {
        router,
        audit: memory,
    }
}

async fn all_records(store: &dyn AuditStore) -> Vec<StoredAuditRecord> {
    let mut records = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(&AuditQuery {
                limit: MAX_LIMIT,
                cursor,
                ..AuditQuery::default()
            })
            .await
            .expect("query the audit table");
        records.extend(page.records);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return records;
        }
    }
}

#[tokio::test]
async fn an_okta_replay_leaves_exactly_one_record_per_operation_and_no_secret_in_the_table() {
    init_test_log();
    // Arrange: the audit table in moto.
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let table = test_services::unique_name("e2e-audit");
    create_table(&ddb, &table)
        .await
        .expect("create the audit table");
    let keys = LocalAuditKeys::random().expect("audit keys");
    let trail = Arc::new(
        DynamoDbAuditLog::new(
            ddb.clone(),
            table.clone(),
            AuditPowers::local(&keys),
            Arc::new(SystemClock),
            time::Duration::days(400),
        )
        .with_anchors(Arc::new(MemoryAnchors::default())),
    );
    let memory = Arc::new(InMemoryAuditLog::new());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let audit: Arc<dyn AuditLog> = Arc::new(Both(memory.clone(), trail.clone()));

    // Act: every Okta fixture, each in a fresh emulator as the replay suite runs them…
    let mut passwords = Vec::new();
    for (name, text) in FIXTURES {
        let target = Target::start("ic").await;
        let Target::Emulator(emulator) = &target else {
            unreachable!("ic is the emulator")
        };
        let gw = gateway(&emulator.url, audit.clone(), memory.clone(), seen.clone());
        passwords.extend(replay(name, text, &target, &gw).await.passwords);
    }
    // …then refusals (one carrying a password) and failures of the target.
    let target = Target::start("ic").await;
    let Target::Emulator(emulator) = &target else {
        unreachable!("ic is the emulator")
    };
    let gw = gateway(&emulator.url, audit.clone(), memory.clone(), seen.clone());
    let leaked = "Refused-Pw-77aa99!";
    passwords.push(leaked.to_owned());
    let refused = [
        gw.call(Method::POST, "/Users", Some(&json!({"schemas": [scim_core::USER_SCHEMA], "userName": 42, "password": leaked}))).await,
        gw.call(Method::PATCH, "/Users/9067729b3d-00000000-0000-4000-8000-000000000000", Some(&json!({
            "schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": false}]
        }))).await,
        // Refused by the edge before the use case: an unknown schema, a malformed filter,
        // an id that could not name a resource. Audited all the same.
        gw.call(Method::POST, "/Users", Some(&json!({"schemas": ["urn:example:unknown"], "userName": "x", "password": leaked}))).await,
        gw.call(Method::GET, "/Users?filter=userName%20zz%20%22x%22", None).await,
        gw.call(Method::DELETE, "/Groups/..%2F..%2FUsers", None).await,
    ];
    // Not here: requests without a valid token. They are logged, not audited, so that
    // an unauthenticated caller cannot fill the audit table.
    let mut knobs = emulator.emulator.knobs();
    knobs.fail_rate = 1.0;
    emulator.emulator.set_knobs(knobs.clone()).expect("knobs");
    let failed = [
        gw.call(Method::POST, "/Users", Some(&json!({
            "schemas": [scim_core::USER_SCHEMA], "userName": "fails@example.com",
            "name": {"givenName": "F", "familyName": "A"}, "displayName": "F A",
            "emails": [{"value": "fails@example.com", "primary": true}], "password": leaked, "active": true
        }))).await,
        gw.call(Method::GET, "/Groups?count=5", None).await,
    ];
    knobs.fail_rate = 0.0;
    emulator.emulator.set_knobs(knobs).expect("knobs");

    // Assert: refusals and failures answered as such…
    for answer in &refused {
        assert!(
            answer.status.is_client_error(),
            "refused: {:?} {:?}",
            answer.status,
            answer.body
        );
    }
    for answer in &failed {
        assert!(
            answer.status.is_server_error(),
            "failed: {:?} {:?}",
            answer.status,
            answer.body
        );
    }

    // …the table holds exactly one outcome record per operation: the same correlation
    // ids as the answers, each once, and the same records as the gateway's own account;
    // and one intent record before each operation that changed Identity Center.
    let everything = all_records(trail.as_ref()).await;
    let (intents, stored): (Vec<StoredAuditRecord>, Vec<StoredAuditRecord>) = everything
        .iter()
        .cloned()
        .partition(|s| s.record.outcome == Outcome::Intent);
    let answered: Vec<Seen> = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        answered.len() > 300,
        "the replay made {} requests",
        answered.len()
    );
    let mut per_correlation: HashMap<&str, usize> = HashMap::new();
    for s in &stored {
        *per_correlation
            .entry(s.record.correlation_id.as_str())
            .or_default() += 1;
    }
    let duplicates: Vec<_> = per_correlation.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "outcome records written twice: {:?}",
        duplicates.iter().take(5).collect::<Vec<_>>()
    );
    let methods: HashMap<&str, &str> = answered
        .iter()
        .map(|(m, _, _, c)| (c.as_str(), m.as_str()))
        .collect();
    let mut intent_of: HashMap<&str, &StoredAuditRecord> = HashMap::new();
    for intent in &intents {
        let id = intent.record.correlation_id.as_str();
        assert!(
            intent_of.insert(id, intent).is_none(),
            "two intents for {id}"
        );
        assert_eq!(intent.record.status, gateway::audit::INTENT_STATUS);
        assert!(
            matches!(
                methods.get(id),
                Some(&("POST" | "PUT" | "PATCH" | "DELETE"))
            ),
            "an intent for {id}, which answered {:?}",
            methods.get(id)
        );
    }
    // A create that succeeded changed Identity Center, so its intent came first; every
    // intent has its outcome, with at least the target calls made before it.
    let outcome_of_id: HashMap<&str, &StoredAuditRecord> = stored
        .iter()
        .map(|s| (s.record.correlation_id.as_str(), s))
        .collect();
    for s in &stored {
        if s.record.operation == AuditOperation::Create && s.record.outcome == Outcome::Success {
            assert!(
                intent_of.contains_key(s.record.correlation_id.as_str()),
                "{} created without an intent",
                s.id
            );
        }
    }
    for (id, intent) in &intent_of {
        let outcome = outcome_of_id
            .get(id)
            .unwrap_or_else(|| panic!("an intent without its outcome: {id}"));
        assert!(intent.record.target_calls <= outcome.record.target_calls);
    }
    let missing: Vec<&Seen> = answered
        .iter()
        .filter(|(.., c)| !per_correlation.contains_key(c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} answers without a record, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(stored.len(), answered.len(), "records without an answer");
    let own: Vec<AuditRecord> = memory.records();
    let mut by_id: BTreeMap<(&str, bool), &AuditRecord> = BTreeMap::new();
    for r in &own {
        by_id.insert((&r.correlation_id, r.outcome == Outcome::Intent), r);
    }
    for s in &everything {
        let key = (
            s.record.correlation_id.as_str(),
            s.record.outcome == Outcome::Intent,
        );
        assert_eq!(Some(&&s.record), by_id.get(&key), "{}", s.id);
    }
    assert_eq!(own.len(), everything.len());

    // …with the outcomes, statuses and fields auditors need.
    let statuses: HashMap<&str, u16> = answered
        .iter()
        .map(|(_, _, st, c)| (c.as_str(), *st))
        .collect();
    for s in &stored {
        let r = &s.record;
        assert_eq!(
            Some(&r.status),
            statuses.get(r.correlation_id.as_str()),
            "{}",
            s.id
        );
        // A 4xx is the gateway's refusal or the target's (a failure of the operation).
        let fits = match r.status {
            200..=299 => r.outcome == Outcome::Success,
            400..=499 => r.outcome != Outcome::Success,
            _ => r.outcome == Outcome::Failure,
        };
        assert!(
            fits,
            "{} answered {} with outcome {:?}",
            s.id, r.status, r.outcome
        );
        assert!(!r.actor.credential.is_empty() && !r.rule_set_version.is_empty());
        assert_eq!(s.integrity.hash.len(), 64);
    }
    let outcome_of = |answer: &crate::scim_support::Answer| {
        let id = answer
            .headers
            .get(edge::CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let found: Vec<Outcome> = stored
            .iter()
            .filter(|s| s.record.correlation_id == id)
            .map(|s| s.record.outcome)
            .collect();
        assert_eq!(found.len(), 1, "one record for {id}");
        found[0]
    };
    // The gateway refuses a non-string userName itself; Identity Center refuses (404)
    // a PATCH of an unknown id, which fails the operation.
    assert_eq!(outcome_of(&refused[0]), Outcome::Refused);
    assert_eq!(outcome_of(&refused[1]), Outcome::Failure);
    for answer in &refused[2..] {
        assert_eq!(outcome_of(answer), Outcome::Refused);
    }
    for answer in &failed {
        assert_eq!(outcome_of(answer), Outcome::Failure);
    }
    let creates = stored.iter().filter(|s| {
        s.record.operation == AuditOperation::Create && s.record.outcome == Outcome::Success
    });
    for s in creates {
        assert!(
            s.record.subject.target_id.is_some() && s.record.subject.name.is_some(),
            "{:?}",
            s.record.subject
        );
    }

    // …and the trail verifies intact.
    let since = stored
        .first()
        .map(|s| s.record.time - time::Duration::minutes(1))
        .expect("records");
    let report = trail
        .verify(
            since,
            time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
        )
        .await
        .expect("verify");
    assert!(report.intact, "{:#?}", report.problems);
    assert_eq!(report.checked as usize, everything.len());

    // No secret in any raw item of the table.
    let mut raw = String::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        raw.push_str(&format!("{:?}", page.items()));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
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
        if let Some(at) = raw.find(secret.as_str()) {
            let context = &raw[at.saturating_sub(120)..(at + secret.len() + 40).min(raw.len())];
            panic!("a secret is in the audit table: …{context}…");
        }
    }
    assert!(
        !raw.to_ascii_lowercase().contains("\\\"password\\\""),
        "a password attribute was stored"
    );
}
