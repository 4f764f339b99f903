//! The Okta Event Hook path end to end: deliveries in Okta's envelope (from
//! `tests/fixtures/okta-events/`) posted to the real hook router, recorded in moto's
//! DynamoDB and SQS FIFO queue, applied by the real worker through the real Okta and
//! Identity Center clients against the Okta and Identity Center emulators.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_adapters::dynamodb_mirror::create_table;
use aws_adapters::{
    DynamoDbEventLedger, DynamoDbMirror, SqsDeadLetterQueue, SqsEventQueue, SqsPoller,
};
use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use axum::body::Body;
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::metrics::{RecordingSink, RequestMetrics};
use edge::{BearerAuthenticator, HookApp, StaticSecretSource, hook_router, inbound_tokens_secret};
use gateway::audit::{AuditOperation, AuditRecord, AuditSource, InMemoryAuditLog, Outcome};
use gateway::events::{EventIntake, EventWorker};
use gateway::ports::events::{DeadLetterQueue, EventLedger, EventState};
use gateway::rules::{ActiveRuleSet, FixedRules, IdentityRules, RuleSource};
use gateway::{ScimService, SecretId, SecretString, SystemClock, TargetDialect};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use ic_emulator::Knobs as IcKnobs;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The hook's shared secret, and the id of the secret holding its hash.
pub(crate) const HOOK_SECRET: &str = "hook-secret-for-tests-0123456789abcdef";
pub(crate) const HOOK_SECRET_ID: &str = "test/hook";
const OKTA_TOKEN_ID: &str = "test/okta";
const IC_TOKEN_ID: &str = "test/ic";

const ADA: &str = "00u3m90rxKjGQ0G6L1d6";
const BOB: &str = "00ub0bBOBbob0bBOB0b1";
const ENG: &str = "00g1engENGeng1ENG0g1";
const APP: &str = "0oa1appAPPapp1APP0o1";

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/okta-events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

/// The request budget the worker's use cases get in these tests.
const WORKER_BUDGET: Duration = Duration::from_secs(20);

/// How long a call of the test's own queue adapters may take.
const MOTO_TIMEOUT: Duration = Duration::from_secs(10);

/// An event of `event_type` in Okta's real shape: the documented deactivate event with
/// another type, uuid and targets.
fn event(event_type: &str, uuid: &str, targets: &[(&str, &str)]) -> Value {
    let mut event = fixture("event-hook-user-deactivate.json")["data"]["events"][0].clone();
    event["eventType"] = json!(event_type);
    event["uuid"] = json!(uuid);
    event["target"] = Value::Array(
        targets
            .iter()
            .map(|(kind, id)| {
                json!({"id": id, "type": kind, "alternateId": "unknown", "displayName": id,
                       "detailEntry": null})
            })
            .collect(),
    );
    event
}

fn user_event(event_type: &str, uuid: &str, user: &str) -> Value {
    event(event_type, uuid, &[("User", user)])
}

fn member_event(event_type: &str, uuid: &str, user: &str, group: &str) -> Value {
    event(event_type, uuid, &[("User", user), ("UserGroup", group)])
}

fn delivery(events: &[Value]) -> Value {
    let mut envelope = fixture("event-hook-user-deactivate.json");
    envelope["eventId"] = json!(uuid::Uuid::new_v4().to_string());
    envelope["data"]["events"] = Value::Array(events.to_vec());
    envelope
}

fn okta_user(id: &str, login: &str, first: &str, last: &str) -> Value {
    json!({
        "id": id, "status": "ACTIVE", "type": {"id": "oty1"},
        "created": "2026-01-01T00:00:00.000Z", "lastUpdated": "2026-01-01T00:00:00.000Z",
        "profile": {"login": login, "email": login, "firstName": first, "lastName": last},
    })
}

struct Setup {
    rules: Option<&'static str>,
    max_receives: u32,
    /// The hook's deadline; `None`: the function's own.
    deadline: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            rules: None,
            max_receives: 3,
            deadline: None,
        }
    }
}

/// Everything of the event path, over moto, both emulators and the real clients.
struct Path {
    okta: okta_emulator::RunningEmulator,
    okta_token: String,
    ic: ic_emulator::RunningEmulator,
    hook: Router,
    sink: RecordingSink,
    worker: EventWorker,
    poller: SqsPoller,
    dlq: SqsDeadLetterQueue,
    ledger: Arc<DynamoDbEventLedger>,
    audit: Arc<InMemoryAuditLog>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    http: reqwest::Client,
}

impl Path {
    async fn new(setup: Setup) -> Self {
        let aws = test_services::moto_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let table = test_services::unique_name("events-state");
        create_table(&dynamodb, &table).await.expect("state table");
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let (queue_url, dlq_url) = queues(&sqs, setup.max_receives).await;

        let okta_token = "okta-api-token-for-tests".to_owned();
        let seed = okta_emulator::Seed {
            users: vec![
                okta_user(ADA, "john.doe@example.com", "John", "Doe"),
                okta_user(BOB, "bob@example.com", "Bob", "Builder"),
            ],
            groups: vec![json!({"id": ENG, "type": "OKTA_GROUP",
                                "profile": {"name": "Engineering", "description": "eng"}})],
            ..okta_emulator::Seed::default()
        };
        let okta = okta_emulator::Emulator::start(
            okta_emulator::EmulatorConfig::new(okta_token.clone()).with_seed(seed),
            "127.0.0.1:0",
        )
        .await
        .expect("okta emulator");
        let ic_token = "ic-token-for-tests".to_owned();
        let ic = ic_emulator::Emulator::start(
            ic_emulator::EmulatorConfig::new(ic_token.clone()),
            "127.0.0.1:0",
        )
        .await
        .expect("identity center emulator");

        let secrets = Arc::new(
            StaticSecretSource::new()
                .with(
                    SecretId::new(HOOK_SECRET_ID),
                    SecretString::new(inbound_tokens_secret(&[HOOK_SECRET])),
                )
                .with(
                    SecretId::new(OKTA_TOKEN_ID),
                    SecretString::new(okta_token.clone()),
                )
                .with(SecretId::new(IC_TOKEN_ID), SecretString::new(ic_token)),
        );
        let ledger = Arc::new(DynamoDbEventLedger::new(
            dynamodb.clone(),
            table.clone(),
            Arc::new(SystemClock),
        ));
        let queue = SqsEventQueue::new(sqs.clone(), queue_url.clone());
        let intake = EventIntake::new(ledger.clone(), Arc::new(queue), Arc::new(SystemClock));
        let sink = RecordingSink::default();
        let mut app = HookApp::new(
            intake,
            BearerAuthenticator::hook_secret(secrets.clone(), SecretId::new(HOOK_SECRET_ID)),
        )
        .with_metrics(RequestMetrics::new("okta-hook").with_sink(Arc::new(sink.clone())));
        if let Some(deadline) = setup.deadline {
            app = app.with_deadline(deadline);
        }
        let hook = hook_router(Arc::new(app));

        let rules: Arc<dyn RuleSource> = match setup.rules {
            None => Arc::new(IdentityRules::new()),
            Some(yaml) => {
                let loaded = rules::RuleSet::load(yaml).expect("rules");
                Arc::new(FixedRules::new(ActiveRuleSet::new(
                    "test-rules",
                    loaded.rule_set,
                )))
            }
        };
        let target = HttpTargetScimClient::new(
            TargetClientConfig::new(
                ic.base_url(),
                SecretId::new(IC_TOKEN_ID),
                TargetDialect::IdentityCenter,
            ),
            secrets.clone(),
        )
        .expect("target client");
        let audit = Arc::new(InMemoryAuditLog::new());
        let service = ScimService::new(
            Arc::new(target),
            rules,
            audit.clone(),
            Arc::new(SystemClock),
            // The worker's budget per event. Generous: nothing here tests the deadline,
            // and a loaded CI machine (moto, the emulators, parallel tests) can take
            // seconds for what is milliseconds alone; a cut-short event is retried and
            // would leave an extra failure record the assertions do not expect.
            WORKER_BUDGET,
        )
        .with_mirror(Arc::new(DynamoDbMirror::new(
            dynamodb,
            table,
            Arc::new(SystemClock),
        )));
        let okta_client = OktaClient::new(
            OktaClientConfig::new(okta.base_url(), SecretId::new(OKTA_TOKEN_ID)),
            secrets,
        )
        .expect("okta client");
        let worker = EventWorker::new(
            Arc::new(service),
            Arc::new(okta_client),
            ledger.clone(),
            setup.max_receives,
        );
        Self {
            okta,
            okta_token,
            ic,
            hook,
            sink,
            worker,
            // Calls to moto get seconds to spare: a loaded machine answers slowly, and
            // nothing here tests the adapters' timeouts.
            poller: SqsPoller::new(sqs.clone(), queue_url.clone())
                .with_retry_delay(Duration::ZERO)
                .with_timeout(MOTO_TIMEOUT),
            dlq: SqsDeadLetterQueue::new(sqs.clone(), dlq_url, queue_url.clone())
                .with_timeout(MOTO_TIMEOUT),
            ledger,
            audit,
            sqs,
            queue_url,
            http: reqwest::Client::new(),
        }
    }

    /// Posts `body` to the hook as Okta would, with `secret` in `Authorization`.
    async fn post_raw(&self, body: Vec<u8>, secret: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::post("/hooks/okta")
            .header("content-type", "application/json")
            .header("accept", "application/json");
        if let Some(secret) = secret {
            request = request.header("authorization", secret);
        }
        let response = self
            .hook
            .clone()
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn deliver(&self, events: &[Value]) -> StatusCode {
        let body = serde_json::to_vec(&delivery(events)).expect("JSON");
        self.post_raw(body, Some(HOOK_SECRET)).await.0
    }

    /// Runs the worker over the queue until it is empty (failed messages come back at
    /// once: the poller's retry delay is zero).
    async fn drain(&self) -> usize {
        let mut handled = 0;
        let mut idle = 0;
        while idle < 2 {
            let n = self
                .poller
                .poll_once(&self.worker, Duration::from_millis(200))
                .await
                .expect("poll");
            handled += n;
            idle = if n == 0 { idle + 1 } else { 0 };
        }
        handled
    }

    async fn okta_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.okta.base_url()))
            .header("authorization", format!("SSWS {}", self.okta_token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("okta emulator");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    fn ic_user(&self, okta_id: &str) -> Option<ic_emulator::UserSnapshot> {
        self.ic
            .emulator()
            .users()
            .into_iter()
            .find(|u| u.external_id.as_deref() == Some(okta_id))
    }

    fn ic_group(&self, okta_id: &str) -> Option<ic_emulator::GroupSnapshot> {
        self.ic
            .emulator()
            .groups()
            .into_iter()
            .find(|g| g.external_id.as_deref() == Some(okta_id))
    }

    fn records(&self) -> Vec<AuditRecord> {
        self.audit.records()
    }

    /// The outcome records per event uuid (the intents written before changes apart).
    fn records_per_event(&self) -> HashMap<String, Vec<AuditRecord>> {
        self.per_event(|r| r.outcome != Outcome::Intent)
    }

    /// The intent records per event uuid.
    fn intents_per_event(&self) -> HashMap<String, Vec<AuditRecord>> {
        self.per_event(|r| r.outcome == Outcome::Intent)
    }

    fn per_event(&self, keep: impl Fn(&AuditRecord) -> bool) -> HashMap<String, Vec<AuditRecord>> {
        let mut per = HashMap::<String, Vec<AuditRecord>>::new();
        for record in self.records().into_iter().filter(|r| keep(r)) {
            if let AuditSource::Event { uuid, .. } = &record.source {
                per.entry(uuid.clone()).or_default().push(record);
            }
        }
        per
    }

    /// Asserts that exactly the events that changed Identity Center (outcome `success`)
    /// wrote one intent record, before their outcome.
    fn assert_one_intent_per_change(&self) {
        let intents = self.intents_per_event();
        for (uuid, outcomes) in self.records_per_event() {
            let expected = usize::from(outcomes[0].outcome == Outcome::Success);
            let found = intents.get(&uuid).map_or(0, Vec::len);
            assert_eq!(found, expected, "{uuid}: {outcomes:?}");
        }
        let order: Vec<(String, Outcome)> = self
            .records()
            .into_iter()
            .map(|r| (r.correlation_id, r.outcome))
            .collect();
        for (uuid, list) in &intents {
            let intent_at = order
                .iter()
                .position(|(c, o)| c == uuid && *o == Outcome::Intent);
            let outcome_at = order
                .iter()
                .position(|(c, o)| c == uuid && *o != Outcome::Intent);
            assert!(intent_at < outcome_at, "{uuid}: {list:?}");
        }
    }

    async fn queue_depth(&self) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("queue attributes");
        attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// A FIFO events queue and its FIFO dead-letter queue, redriving after `max_receives`.
async fn queues(sqs: &aws_sdk_sqs::Client, max_receives: u32) -> (String, String) {
    aws_adapters::sqs_events::create_queues(
        sqs,
        &test_services::unique_name("events"),
        max_receives,
    )
    .await
    .expect("the events queues")
}

#[tokio::test]
async fn every_event_type_is_applied_from_oktas_current_state_with_one_record_each() {
    let path = Path::new(Setup {
        rules: Some(&*Box::leak(
            format!(
                "users:\n  - set: {{displayName: '{{displayName}} (Okta)'}}\ngroups:\n  - set: \
                 {{displayName: 'okta-{{displayName}}'}}\nscope:\n  app: {APP}\n  delete: [users, \
                 groups]\n"
            )
            .into_boxed_str(),
        )),
        ..Setup::default()
    })
    .await;
    // Ada is assigned to the app; Bob is not yet.
    path.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/apps/{APP}/users"),
        Some(json!({"id": ADA})),
    )
    .await;

    // A user created in Okta.
    assert_eq!(
        path.deliver(&[user_event("user.lifecycle.create", "e-01", ADA)])
            .await,
        StatusCode::OK
    );
    path.drain().await;
    let ada = path.ic_user(ADA).expect("created in Identity Center");
    assert_eq!(ada.user_name, "john.doe@example.com");
    assert_eq!(
        ada.display_name, "John Doe (Okta)",
        "the rules applied once"
    );
    assert!(ada.active);

    // A profile update, then suspend, unsuspend, deactivate, reactivate.
    path.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/users/{ADA}"),
        Some(json!({"profile": {"lastName": "Dough"}})),
    )
    .await;
    path.deliver(&[user_event("user.account.update_profile", "e-02", ADA)])
        .await;
    path.drain().await;
    let renamed = path.ic_user(ADA).expect("still there");
    assert_eq!(renamed.id, ada.id, "updated in place");
    assert_eq!(renamed.resource["name"]["familyName"], "Dough");
    assert_eq!(renamed.display_name, "John Dough (Okta)");
    for (action, event_type, uuid, active) in [
        ("suspend", "user.lifecycle.suspend", "e-03", false),
        ("unsuspend", "user.lifecycle.unsuspend", "e-04", true),
        ("deactivate", "user.lifecycle.deactivate", "e-05", false),
        ("activate", "user.lifecycle.reactivate", "e-06", true),
        ("deactivate", "user.lifecycle.deactivate", "e-16", false),
        ("activate", "user.lifecycle.activate", "e-17", true),
    ] {
        path.okta_call(
            reqwest::Method::POST,
            &format!("/api/v1/users/{ADA}/lifecycle/{action}"),
            None,
        )
        .await;
        path.deliver(&[user_event(event_type, uuid, ADA)]).await;
        path.drain().await;
        assert_eq!(path.ic_user(ADA).expect("user").active, active, "{action}");
    }

    // A group created, then renamed in place; a member added and removed.
    path.deliver(&[event(
        "group.lifecycle.create",
        "e-07",
        &[("UserGroup", ENG)],
    )])
    .await;
    path.drain().await;
    let group = path.ic_group(ENG).expect("group created");
    assert_eq!(
        group.display_name, "okta-Engineering",
        "the rules applied once"
    );
    path.okta_call(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{ENG}"),
        Some(json!({"profile": {"name": "Engineers"}})),
    )
    .await;
    path.deliver(&[event("group.profile.update", "e-08", &[("UserGroup", ENG)])])
        .await;
    path.drain().await;
    let renamed = path.ic_group(ENG).expect("group");
    assert_eq!(
        (renamed.id.as_str(), renamed.display_name.as_str()),
        (group.id.as_str(), "okta-Engineers")
    );
    path.okta_call(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{ENG}/users/{ADA}"),
        None,
    )
    .await;
    path.deliver(&[member_event("group.user_membership.add", "e-09", ADA, ENG)])
        .await;
    path.drain().await;
    assert_eq!(
        path.ic_group(ENG).expect("group").members,
        vec![ada.id.clone()]
    );
    path.okta_call(
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/{ENG}/users/{ADA}"),
        None,
    )
    .await;
    path.deliver(&[member_event(
        "group.user_membership.remove",
        "e-10",
        ADA,
        ENG,
    )])
    .await;
    path.drain().await;
    assert!(path.ic_group(ENG).expect("group").members.is_empty());

    // Bob: not assigned to the app, so his creation is skipped; his assignment creates
    // him, his unassignment deactivates him.
    path.deliver(&[user_event("user.lifecycle.create", "e-11", BOB)])
        .await;
    path.drain().await;
    assert!(path.ic_user(BOB).is_none(), "out of the app's scope");
    path.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/apps/{APP}/users"),
        Some(json!({"id": BOB})),
    )
    .await;
    let assigned = event(
        "application.user_membership.add",
        "e-12",
        &[("AppInstance", APP), ("User", BOB)],
    );
    path.deliver(&[assigned]).await;
    path.drain().await;
    assert!(path.ic_user(BOB).expect("assigned").active);
    path.okta_call(
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{APP}/users/{BOB}"),
        None,
    )
    .await;
    let unassigned = event(
        "application.user_membership.remove",
        "e-13",
        &[("AppInstance", APP), ("User", BOB)],
    );
    path.deliver(&[unassigned]).await;
    path.drain().await;
    assert!(
        !path.ic_user(BOB).expect("kept").active,
        "deactivated, not deleted"
    );

    // Deletions, which this rule set allows.
    path.okta_call(
        reqwest::Method::DELETE,
        &format!("/api/v1/groups/{ENG}"),
        None,
    )
    .await;
    path.deliver(&[event(
        "group.lifecycle.delete",
        "e-14",
        &[("UserGroup", ENG)],
    )])
    .await;
    for _ in 0..2 {
        path.okta_call(
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{ADA}"),
            None,
        )
        .await;
    }
    path.deliver(&[user_event("user.lifecycle.delete.initiated", "e-15", ADA)])
        .await;
    path.drain().await;
    assert!(path.ic_group(ENG).is_none(), "group deleted");
    assert!(path.ic_user(ADA).is_none(), "user deleted");
    // Bob, deactivated above, deleted in Okta: the completed deletion deletes him too.
    for _ in 0..2 {
        path.okta_call(
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{BOB}"),
            None,
        )
        .await;
    }
    path.deliver(&[user_event("user.lifecycle.delete.completed", "e-18", BOB)])
        .await;
    path.drain().await;
    assert!(path.ic_user(BOB).is_none(), "user deleted");

    // One outcome record per event, with its uuid, type and Okta's published time, and
    // an intent before it for each event that changed Identity Center.
    path.assert_one_intent_per_change();
    let per = path.records_per_event();
    for n in 1..=18 {
        let uuid = format!("e-{n:02}");
        let records = per
            .get(&uuid)
            .unwrap_or_else(|| panic!("{uuid} has a record"));
        assert_eq!(records.len(), 1, "{uuid}: {records:?}");
        let AuditSource::Event {
            published,
            event_type,
            ..
        } = &records[0].source
        else {
            panic!("an event record");
        };
        assert_eq!(published.as_deref(), Some("2020-11-16T18:15:12.862Z"));
        assert!(event_type.is_some());
    }
    assert_eq!(per["e-11"][0].outcome, Outcome::Skipped);
    assert!(per["e-11"][0].reason.is_some());
    assert_eq!(per["e-01"][0].outcome, Outcome::Success);
    for n in 1..=18 {
        let entry = path
            .ledger
            .entry(&format!("e-{n:02}"))
            .await
            .unwrap()
            .expect("ledger");
        assert!(matches!(
            entry.state,
            EventState::Applied | EventState::Skipped
        ));
    }
}

#[tokio::test]
async fn fixtures_in_oktas_envelope_are_acknowledged_and_nulls_do_not_crash() {
    let path = Path::new(Setup::default()).await;
    for name in [
        "event-hook-user-session-start.json",
        "event-hook-group-membership-add-preview-nulls.json",
    ] {
        let body = serde_json::to_vec(&fixture(name)).unwrap();
        let (status, _) = path.post_raw(body, Some(HOOK_SECRET)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    assert_eq!(path.queue_depth().await, 0, "nothing of either is queued");
    let ignored: f64 = path
        .sink
        .documents()
        .iter()
        .filter_map(|d| d.get("HookEventsIgnored").and_then(Value::as_f64))
        .sum();
    assert_eq!(ignored, 2.0);

    // The documented deactivate, for a user Okta has deactivated and Identity Center
    // does not hold: nothing to create.
    path.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/users/{ADA}/lifecycle/deactivate"),
        None,
    )
    .await;
    let body = serde_json::to_vec(&fixture("event-hook-user-deactivate.json")).unwrap();
    assert_eq!(
        path.post_raw(body, Some(HOOK_SECRET)).await.0,
        StatusCode::OK
    );
    path.drain().await;
    let records = path.records_per_event();
    let record = &records["ab62c0bc-2837-11eb-9823-9fb8f750c5a9"][0];
    assert_eq!(record.outcome, Outcome::Skipped, "{record:?}");
    assert_eq!(
        record.actor.user_agent.as_deref(),
        Some("okta.trainer@okta.com")
    );
}

#[tokio::test]
async fn duplicates_and_any_order_end_in_the_right_state_with_one_application_each() {
    let path = Path::new(Setup::default()).await;
    // Okta's final state: Ada and Bob exist; Ada is in Engineering, Bob is not.
    path.okta_call(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{ENG}/users/{ADA}"),
        None,
    )
    .await;
    let mut events = vec![
        user_event("user.lifecycle.create", "d-01", ADA),
        user_event("user.lifecycle.create", "d-02", BOB),
        event("group.lifecycle.create", "d-03", &[("UserGroup", ENG)]),
        // Interleaved add and remove of the same memberships.
        member_event("group.user_membership.add", "d-04", ADA, ENG),
        member_event("group.user_membership.remove", "d-05", ADA, ENG),
        member_event("group.user_membership.add", "d-06", ADA, ENG),
        member_event("group.user_membership.add", "d-07", BOB, ENG),
        member_event("group.user_membership.remove", "d-08", BOB, ENG),
        user_event("user.account.update_profile", "d-09", ADA),
    ];
    let mut rng = rand::rng();
    events.shuffle(&mut rng);
    let (first, second) = events.split_at(4);

    // The same batches three times, and the first events again under a new envelope id.
    for _ in 0..3 {
        assert_eq!(path.deliver(first).await, StatusCode::OK);
        assert_eq!(path.deliver(second).await, StatusCode::OK);
    }
    assert_eq!(path.deliver(&events[..2]).await, StatusCode::OK);
    path.drain().await;
    let queued: f64 = path
        .sink
        .documents()
        .iter()
        .filter_map(|d| d.get("HookEventsQueued").and_then(Value::as_f64))
        .sum();
    assert_eq!(queued, events.len() as f64, "each event queued once");

    let ada = path.ic_user(ADA).expect("ada");
    let bob = path.ic_user(BOB).expect("bob");
    let group = path.ic_group(ENG).expect("group");
    assert_eq!(
        group.members,
        vec![ada.id.clone()],
        "bob is not a member: {bob:?}"
    );
    let per = path.records_per_event();
    assert_eq!(per.len(), events.len());
    assert!(per.values().all(|r| r.len() == 1), "{per:?}");
    path.assert_one_intent_per_change();
    let duplicates: f64 = path
        .sink
        .documents()
        .iter()
        .filter_map(|d| d.get("HookEventsDuplicate").and_then(Value::as_f64))
        .sum();
    assert_eq!(duplicates, (events.len() * 2 + 2) as f64);

    // A redelivered message of an applied event is acknowledged without acting.
    let before = path.records().len();
    let queue = SqsEventQueue::new(path.sqs.clone(), path.queue_url.clone());
    let again = gateway::ports::events::QueuedEvent {
        uuid: "d-01".into(),
        published: "2020-11-16T18:15:12.862Z".into(),
        event_type: "user.lifecycle.create".into(),
        group_key: ADA.into(),
        event: json!({"target": [{"id": ADA, "type": "User"}]}),
    };
    gateway::ports::events::EventQueue::send(&queue, &[again])
        .await
        .unwrap();
    path.drain().await;
    assert_eq!(path.records().len(), before);
}

#[tokio::test]
async fn a_user_put_in_groups_while_inactive_joins_them_when_activated() {
    // Arrange: Okta's onboarding order. Ada is inactive when her creation and her
    // membership of Engineering are applied, so neither reaches Identity Center.
    let path = Path::new(Setup::default()).await;
    let lifecycle = |op: &str| format!("/api/v1/users/{ADA}/lifecycle/{op}");
    path.okta_call(reqwest::Method::POST, &lifecycle("deactivate"), None)
        .await;
    path.okta_call(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{ENG}/users/{ADA}"),
        None,
    )
    .await;
    let before = [
        user_event("user.lifecycle.create", "o-01", ADA),
        event("group.lifecycle.create", "o-02", &[("UserGroup", ENG)]),
        member_event("group.user_membership.add", "o-03", ADA, ENG),
    ];
    assert_eq!(path.deliver(&before).await, StatusCode::OK);
    path.drain().await;
    assert!(
        path.ic_user(ADA).is_none(),
        "an inactive user is not created"
    );
    assert!(path.ic_group(ENG).expect("the group").members.is_empty());

    // Act: Okta activates her, and sends only that.
    path.okta_call(reqwest::Method::POST, &lifecycle("activate"), None)
        .await;
    let activated = [user_event("user.lifecycle.activate", "o-04", ADA)];
    assert_eq!(path.deliver(&activated).await, StatusCode::OK);
    path.drain().await;

    // Assert: created and in her group, one record for the activation.
    let ada = path.ic_user(ADA).expect("created on activation");
    assert_eq!(path.ic_group(ENG).expect("the group").members, vec![ada.id]);
    let per = path.records_per_event();
    assert_eq!(per["o-04"].len(), 1, "{per:?}");
    path.assert_one_intent_per_change();
}

#[tokio::test]
async fn with_identity_center_down_intake_still_answers_and_events_wait_retry_or_are_replayed() {
    let path = Path::new(Setup {
        max_receives: 3,
        ..Setup::default()
    })
    .await;
    let foreign = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bob@example.com", "externalId": "someone-else",
        "name": {"givenName": "B", "familyName": "B"}, "displayName": "B B",
        "emails": [{"value": "other@example.com", "type": "work", "primary": true}]});
    let created = path
        .http
        .post(format!("{}/Users", path.ic.base_url()))
        .bearer_auth("ic-token-for-tests")
        .json(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    path.ic
        .emulator()
        .set_knobs(IcKnobs {
            fail_rate: 1.0,
            ..IcKnobs::default()
        })
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        path.deliver(&[user_event("user.lifecycle.create", "f-01", ADA)])
            .await,
        StatusCode::OK
    );
    assert_eq!(
        path.deliver(&[user_event("user.lifecycle.create", "f-02", BOB)])
            .await,
        StatusCode::OK
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "intake never waits for Identity Center"
    );

    // One failed try each; then Identity Center recovers and the retry applies Ada's.
    path.poller
        .poll_once(&path.worker, Duration::from_millis(200))
        .await
        .unwrap();
    path.poller
        .poll_once(&path.worker, Duration::from_millis(200))
        .await
        .unwrap();
    let entry = path.ledger.entry("f-01").await.unwrap().expect("entry");
    assert_eq!(entry.state, EventState::Failed);
    assert!(entry.last_error.is_some());
    // Each user is new to the gateway, so its create was tried first: a write that may
    // have reached Identity Center, so its intent and its failure are both recorded
    // (an attempt that only read would leave none).
    let (outcomes, intents) = (path.records_per_event(), path.intents_per_event());
    for uuid in ["f-01", "f-02"] {
        // One pair per attempt made (a poll may have tried an event more than once).
        assert!(!intents[uuid].is_empty(), "{uuid}");
        assert_eq!(outcomes[uuid].len(), intents[uuid].len(), "{uuid}");
        for record in &outcomes[uuid] {
            assert_eq!(record.outcome, Outcome::Failure, "{uuid}");
            assert_eq!(record.operation, AuditOperation::Create, "{uuid}");
        }
    }

    // Bob's keeps failing (his userName is taken by someone else's user, made before the
    // outage) until it is a dead letter; Ada's succeeds once Identity Center is back.
    path.ic.emulator().set_knobs(IcKnobs::default()).unwrap();
    path.drain().await;
    assert!(path.ic_user(ADA).is_some(), "applied after recovery");
    let dead = path.dlq.list(10).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].event.as_ref().unwrap().uuid, "f-02");
    let per = path.records_per_event();
    // Every attempt tried a create (intent, then outcome); none succeeded, and the last
    // says why.
    assert_eq!(per["f-02"].len(), path.intents_per_event()["f-02"].len());
    assert!(per["f-02"].iter().all(|r| r.outcome != Outcome::Success));
    let last = per["f-02"].last().unwrap();
    let error = last.error.as_deref().unwrap_or_default();
    assert!(error.contains("another identity source"), "{error}");

    // The admin frees the name, then replays: the event is applied.
    let foreign_id = path
        .ic
        .emulator()
        .users()
        .into_iter()
        .find(|u| u.external_id.as_deref() == Some("someone-else"))
        .unwrap()
        .id;
    path.http
        .delete(format!("{}/Users/{foreign_id}", path.ic.base_url()))
        .bearer_auth("ic-token-for-tests")
        .send()
        .await
        .unwrap();
    let replayed = path.dlq.replay(&[]).await.unwrap();
    assert_eq!(replayed.len(), 1);
    path.drain().await;
    assert!(path.ic_user(BOB).is_some(), "applied by the replay");
    assert!(path.dlq.list(10).await.unwrap().is_empty());
    assert_eq!(
        path.ledger.entry("f-02").await.unwrap().unwrap().state,
        EventState::Applied
    );
}

#[tokio::test]
async fn bad_deliveries_get_the_right_status_and_queue_nothing() {
    let path = Path::new(Setup::default()).await;
    let good = serde_json::to_vec(&delivery(&[user_event(
        "user.lifecycle.create",
        "b-01",
        ADA,
    )]))
    .unwrap();
    let mut unknown_version = delivery(&[user_event("user.lifecycle.create", "b-02", ADA)]);
    unknown_version["eventTypeVersion"] = json!("2.0");
    let mut one_bad = delivery(&[
        user_event("user.lifecycle.create", "b-03", ADA),
        json!({"uuid": "b-04", "eventType": "user.lifecycle.create"}),
    ]);
    one_bad["data"]["events"][1]["published"] = json!("not a time");
    let thousands: Vec<Value> = (0..5000)
        .map(|n| user_event("user.lifecycle.create", &format!("t-{n}"), ADA))
        .collect();
    let thousands = serde_json::to_vec(&delivery(&thousands)).unwrap();
    let mut huge = b"{\"eventTypeVersion\": \"1.0\", \"pad\": \"".to_vec();
    huge.resize(10 * 1024 * 1024, b'x');
    huge.extend_from_slice(b"\"}");

    let cases: Vec<(&str, Vec<u8>, Option<&str>, StatusCode)> = vec![
        ("no secret", good.clone(), None, StatusCode::UNAUTHORIZED),
        (
            "wrong secret",
            good.clone(),
            Some("not-the-secret"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "bearer-wrapped secret",
            good.clone(),
            Some(&*Box::leak(
                format!("Bearer {HOOK_SECRET}").into_boxed_str(),
            )),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "malformed JSON",
            b"{\"eventType\": ".to_vec(),
            Some(HOOK_SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown version",
            serde_json::to_vec(&unknown_version).unwrap(),
            Some(HOOK_SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "one malformed event",
            serde_json::to_vec(&one_bad).unwrap(),
            Some(HOOK_SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "10 MB body",
            huge,
            Some(HOOK_SECRET),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "5000 events",
            thousands,
            Some(HOOK_SECRET),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (name, body, secret, status) in cases {
        let (got, answer) = path.post_raw(body, secret).await;
        assert_eq!(got, status, "{name}: {answer}");
        let text = answer.to_string();
        assert!(
            !text.contains(HOOK_SECRET),
            "{name}: the answer names no secret"
        );
    }
    assert_eq!(path.queue_depth().await, 0, "nothing partial is queued");
    for uuid in ["b-01", "b-02", "b-03", "t-0"] {
        assert!(
            path.ledger.entry(uuid).await.unwrap().is_none(),
            "{uuid} was not claimed"
        );
    }

    // The verification GET echoes the challenge, only to a caller with the secret.
    for (secret, status) in [
        (Some(HOOK_SECRET), StatusCode::OK),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let mut request =
            Request::get("/hooks/okta").header("x-okta-verification-challenge", "c-123");
        if let Some(secret) = secret {
            request = request.header("authorization", secret);
        }
        let response = path
            .hook
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        if status == StatusCode::OK {
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap(),
                json!({"verification": "c-123"})
            );
        }
    }
    // And the good delivery still goes through.
    assert_eq!(
        path.post_raw(good, Some(HOOK_SECRET)).await.0,
        StatusCode::OK
    );
    assert_eq!(path.queue_depth().await, 1);
}

/// Intake latency against moto, batches of 1 and 20 events, interleaved in one run,
/// with no deadline cutting a slow one short. Prints the medians and p99s
/// (`docs/benchmarks.md` quotes them, with how they were made). Moto answers one call
/// at a time, and a delivery costs two ledger writes per event plus one queue call per
/// ten, so the batch of 20 measures moto more than the hook; the batch of 1 is held to
/// Okta's 3-second budget.
#[tokio::test]
async fn intake_latency_against_moto_for_batches_of_1_and_20() {
    let path = Path::new(Setup {
        deadline: Some(Duration::from_secs(60)),
        ..Setup::default()
    })
    .await;
    let rounds: usize = std::env::var("SCIMGW_HOOK_LATENCY_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15);
    let mut one = Vec::new();
    let mut twenty = Vec::new();
    for round in 0..rounds {
        let single = [user_event(
            "user.lifecycle.create",
            &format!("l1-{round}"),
            ADA,
        )];
        let batch: Vec<Value> = (0..20)
            .map(|n| user_event("user.lifecycle.create", &format!("l20-{round}-{n}"), ADA))
            .collect();
        let single = serde_json::to_vec(&delivery(&single)).unwrap();
        let batch = serde_json::to_vec(&delivery(&batch)).unwrap();
        let started = Instant::now();
        let (status, answer) = path.post_raw(single, Some(HOOK_SECRET)).await;
        one.push(started.elapsed());
        assert_eq!(status, StatusCode::OK, "{answer}");
        let started = Instant::now();
        let (status, answer) = path.post_raw(batch, Some(HOOK_SECRET)).await;
        twenty.push(started.elapsed());
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    assert_eq!(
        path.queue_depth().await,
        rounds * 21,
        "every event is on the queue"
    );
    let stats = |samples: &mut Vec<Duration>| {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        (at(0.5), at(0.99))
    };
    let (median1, p99_1) = stats(&mut one);
    let (median20, p99_20) = stats(&mut twenty);
    println!(
        "intake latency against moto, {rounds} rounds: batch of 1: median {median1:?}, p99 \
         {p99_1:?}; batch of 20: median {median20:?}, p99 {p99_20:?} ({:.1}x the batch of 1)",
        median20.as_secs_f64() / median1.as_secs_f64()
    );
    assert!(p99_1 < Duration::from_secs(3), "within Okta's budget");
}
