//! Access reports end to end: a history built through every path that changes access
//! (Okta's SCIM pushes, Okta's events through the event worker, entitlement documents
//! applied), with a rename, two leavers (one quick, one over a day late) and a re-hire
//! under the same Okta id, all on one stopped clock moved by hand so that every time in
//! the reports can be checked exactly. The trail is the real chained audit store, the
//! target the Identity Center emulator; the reports are read back from the store as
//! `scimgw access` reads them, and the report for "now" is checked against live state.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use access::{ChangeKind, Filter, LiveAssignment, LiveState, Principal, StartKind};
use async_trait::async_trait;
use axum::Router;
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use entitlements::{
    ApiError, Applier, Assignment, AssignmentApi, DirectoryGroup, InMemoryLedger, Limits,
    ManagedLedger, Observed, OpKind, OpStatus, OrgUnit, Organization, PermissionSet,
};
use gateway::audit_store::InMemoryAuditStore;
use gateway::events::{
    EventIntake, EventWorker, InMemoryEventLedger, LocalEventQueue, read_delivery, retry_delay,
};
use gateway::rules::IdentityRules;
use gateway::{Deadline, FixedClock, ScimService, SecretId, SecretString, TargetDialect};
use http::{Method, Request};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

use crate::scim_support::{INBOUND_TOKEN, TARGET_TOKEN};

const ADA: &str = "00u1adaADAada1ADA0u1";
const BOB: &str = "00u1bobBOBbob1BOB0u1";
const CAROL: &str = "00u1carCARcar1CAR0u1";
const ENG: &str = "00g1engENGeng1ENG0g1";
const PROD: &str = "00g1prdPRDprd1PRD0g1";
const OKTA_TOKEN: &str = "okta-api-token-for-access-tests";
const MANAGEMENT: &str = "111111111111";
const PRODUCTION: &str = "222222222222";
const READ_ONLY: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1111111111111111";
const ADMIN: &str = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-2222222222222222";

/// SSO Admin as the executor sees it, keeping the assignments it was asked for: the
/// live state the report for "now" is checked against.
#[derive(Default)]
struct Assignments(Mutex<BTreeSet<Assignment>>);

impl Assignments {
    fn current(&self) -> Vec<Assignment> {
        let set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.iter().cloned().collect()
    }
}

#[async_trait]
impl AssignmentApi for Assignments {
    async fn start(
        &self,
        kind: OpKind,
        assignment: &Assignment,
    ) -> Result<(String, OpStatus), ApiError> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match kind {
            OpKind::Create => set.insert(assignment.clone()),
            OpKind::Delete => set.remove(assignment),
        };
        Ok((format!("request-{}", set.len()), OpStatus::Succeeded))
    }

    async fn status(&self, _kind: OpKind, _request_id: &str) -> Result<OpStatus, ApiError> {
        Ok(OpStatus::Succeeded)
    }
}

struct World {
    clock: Arc<FixedClock>,
    store: Arc<InMemoryAuditStore>,
    ic: ic_emulator::RunningEmulator,
    okta: okta_emulator::RunningEmulator,
    scim: Router,
    target: HttpTargetScimClient,
    intake: EventIntake,
    queue: Arc<LocalEventQueue>,
    worker: EventWorker,
    sso: Arc<Assignments>,
    managed: InMemoryLedger,
    http: reqwest::Client,
}

fn okta_user(id: &str, login: &str) -> Value {
    json!({
        "id": id, "status": "ACTIVE", "type": {"id": "oty1"},
        "created": "2026-01-01T00:00:00.000Z", "lastUpdated": "2026-01-01T00:00:00.000Z",
        "profile": {"login": login, "email": login, "firstName": "A", "lastName": "B"},
    })
}

impl World {
    async fn new(start: OffsetDateTime) -> Self {
        let clock = Arc::new(FixedClock::new(start));
        let store = Arc::new(
            InMemoryAuditStore::ephemeral(clock.clone(), Duration::days(400)).expect("audit keys"),
        );
        let ic = ic_emulator::Emulator::start(
            ic_emulator::EmulatorConfig::new(TARGET_TOKEN),
            "127.0.0.1:0",
        )
        .await
        .expect("identity center emulator");
        let seed = okta_emulator::Seed {
            users: vec![
                okta_user(ADA, "ada@example.com"),
                okta_user(BOB, "bob@example.com"),
                okta_user(CAROL, "carol@example.com"),
            ],
            groups: vec![
                json!({"id": ENG, "type": "OKTA_GROUP", "profile": {"name": "Engineering"}}),
                json!({"id": PROD, "type": "OKTA_GROUP", "profile": {"name": "Prod-Admins"}}),
            ],
            ..okta_emulator::Seed::default()
        };
        let okta = okta_emulator::Emulator::start(
            okta_emulator::EmulatorConfig::new(OKTA_TOKEN).with_seed(seed),
            "127.0.0.1:0",
        )
        .await
        .expect("okta emulator");
        let secrets = Arc::new(
            StaticSecretSource::new()
                .with(SecretId::new("target"), SecretString::new(TARGET_TOKEN))
                .with(SecretId::new("okta"), SecretString::new(OKTA_TOKEN))
                .with(
                    SecretId::new("inbound"),
                    SecretString::new(inbound_tokens_secret(&[INBOUND_TOKEN])),
                ),
        );
        let target_client = || {
            HttpTargetScimClient::new(
                TargetClientConfig::new(
                    ic.base_url(),
                    SecretId::new("target"),
                    TargetDialect::IdentityCenter,
                ),
                secrets.clone(),
            )
            .expect("target client")
        };
        // One service for the SCIM router, one for the event worker, as in the stack.
        let service = || {
            ScimService::new(
                Arc::new(target_client()),
                Arc::new(IdentityRules::new()),
                store.clone(),
                clock.clone(),
                std::time::Duration::from_secs(20),
            )
        };
        let scim = scim_router(Arc::new(ScimApp::new(
            service(),
            BearerAuthenticator::new(secrets.clone(), SecretId::new("inbound")),
        )));
        let ledger = Arc::new(InMemoryEventLedger::new());
        let queue = Arc::new(LocalEventQueue::new(3, retry_delay));
        let intake = EventIntake::new(ledger.clone(), queue.clone(), clock.clone());
        let okta_client = OktaClient::new(
            OktaClientConfig::new(okta.base_url(), SecretId::new("okta")),
            secrets.clone(),
        )
        .expect("okta client");
        let worker = EventWorker::new(Arc::new(service()), Arc::new(okta_client), ledger, 3);
        Self {
            clock,
            store,
            target: target_client(),
            ic,
            okta,
            scim,
            intake,
            queue,
            worker,
            sso: Arc::new(Assignments::default()),
            managed: InMemoryLedger::default(),
            http: reqwest::Client::new(),
        }
    }

    fn set(&self, at: OffsetDateTime) {
        self.clock.set(at);
    }

    /// A SCIM call as Okta's provisioning client makes it; answers the body.
    async fn scim(&self, method: Method, path: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(method)
            .uri(format!("/scim/v2{path}"))
            .header("authorization", format!("Bearer {INBOUND_TOKEN}"))
            .header("content-type", "application/scim+json")
            .header("host", "gateway.test")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        let response = self
            .scim
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("body")
            .to_bytes();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn push_user(&self, okta_id: &str, user_name: &str) -> String {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name, "externalId": okta_id, "active": true,
            "name": {"givenName": "A", "familyName": "B"}, "displayName": user_name,
            "emails": [{"value": user_name, "type": "work", "primary": true}],
        });
        self.scim(Method::POST, "/Users", body).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    async fn push_group(&self, okta_id: &str, name: &str, members: &[&str]) -> String {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name, "externalId": okta_id,
            "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
        });
        self.scim(Method::POST, "/Groups", body).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    async fn okta_call(&self, method: reqwest::Method, path: &str) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.okta.base_url()))
            .header("authorization", format!("SSWS {OKTA_TOKEN}"))
            .send()
            .await
            .expect("okta emulator");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// An Okta event published at `published`, delivered to the hook and worked.
    async fn event(&self, event_type: &str, published: OffsetDateTime, targets: &[(&str, &str)]) {
        let path = format!(
            "{}/fixtures/okta-events/event-hook-user-deactivate.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut envelope: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
        let mut event = envelope["data"]["events"][0].clone();
        event["eventType"] = json!(event_type);
        event["uuid"] = json!(uuid::Uuid::new_v4().to_string());
        event["published"] = json!(
            published
                .format(&time::format_description::well_known::Rfc3339)
                .expect("time")
        );
        event["target"] = Value::Array(
            targets
                .iter()
                .map(|(kind, id)| json!({"id": id, "type": kind, "alternateId": "unknown", "displayName": id}))
                .collect(),
        );
        envelope["data"]["events"] = json!([event]);
        let delivery = read_delivery(&envelope).expect("a valid delivery");
        self.intake.accept(delivery).await.expect("accepted");
        assert!(
            self.queue.drain(&self.worker).await >= 1,
            "{event_type} worked"
        );
    }

    /// Applies `document` as `scimgw entitlements apply` does, over the fake SSO Admin.
    async fn entitle(&self, document: &str, version: &str) {
        let groups = self
            .ic
            .emulator()
            .groups()
            .into_iter()
            .map(|g| DirectoryGroup {
                id: g.id,
                display_name: g.display_name,
                external_id: g.external_id,
            })
            .collect();
        let assignments = self.sso.current();
        let managed = self.managed.list().await.expect("ledger");
        let observed = Observed {
            organization: Organization {
                root_id: "r-ab12".into(),
                ous: vec![OrgUnit {
                    id: "ou-ab12-prod0000".into(),
                    parent_id: "r-ab12".into(),
                    name: "Production".into(),
                }],
                accounts: vec![
                    entitlements::Account {
                        id: MANAGEMENT.into(),
                        name: "management".into(),
                        parent_id: "r-ab12".into(),
                        tags: Default::default(),
                    },
                    entitlements::Account {
                        id: PRODUCTION.into(),
                        name: "production".into(),
                        parent_id: "ou-ab12-prod0000".into(),
                        tags: Default::default(),
                    },
                ],
            },
            identity_center: entitlements::IdentityCenter {
                groups,
                permission_sets: vec![
                    PermissionSet {
                        arn: READ_ONLY.into(),
                        name: "ReadOnly".into(),
                    },
                    PermissionSet {
                        arn: ADMIN.into(),
                        name: "Admin".into(),
                    },
                ],
                assignments,
                permission_set_details: Default::default(),
            },
            managed,
            managed_permission_sets: Default::default(),
            problems: Vec::new(),
        };
        let document = entitlements::Document::load(document).expect("a valid document");
        let safety = entitlements::plan::Safety {
            threshold_percent: 100,
            approved_plan: None,
        };
        let plan = entitlements::plan(&document, version, &observed, &safety);
        let report = entitlements::apply(
            &plan,
            self.sso.clone(),
            &self.managed,
            self.store.as_ref(),
            self.clock.as_ref(),
            &Applier {
                credential: "arn:aws:iam::111111111111:role/admin".into(),
            },
            Limits::default(),
        )
        .await
        .expect("applied");
        assert!(report.succeeded(), "{report:?}");
    }

    async fn history(&self, at: OffsetDateTime) -> access::History {
        access::read_history(self.store.as_ref(), access::read_until(at))
            .await
            .expect("the trail reads")
    }

    /// Identity Center now: the emulator's directory read as the CLI reads it, and the
    /// assignments SSO Admin holds.
    async fn live(&self) -> LiveState {
        let mut live = LiveState::default();
        access::live::read_directory(
            &self.target,
            Deadline::after(std::time::Duration::from_secs(20)),
            &mut live,
        )
        .await;
        live.assignments = self
            .sso
            .current()
            .iter()
            .map(|a| LiveAssignment {
                principal: Principal::Group(a.group_id.clone()),
                account_id: a.account_id.clone(),
                permission_set_arn: a.permission_set_arn.clone(),
            })
            .collect();
        live
    }

    /// The trail's account of `now` equals live state: no difference either way.
    async fn assert_trail_matches_live(&self, now: OffsetDateTime) {
        let history = self.history(now).await;
        let live = self.live().await;
        assert!(live.problems.is_empty(), "{:?}", live.problems);
        let rows = access::live::live_rows(&live, &history, now, &Filter::default());
        let differences = access::live::compare(&history, &rows, now, &Filter::default());
        assert!(
            differences.is_empty(),
            "trail and live state differ: {differences:#?}"
        );
        assert_eq!(rows, access::as_of(&history, now, &Filter::default()));
        assert!(history.gaps.is_empty(), "{:?}", history.gaps);
    }
}

const DOCUMENT_V1: &str = r#"
grants:
  - name: engineering-read
    group: { okta_id: 00g1engENGeng1ENG0g1 }
    permission_sets: [ReadOnly]
    scope: { root: true }
  - name: prod-admins
    group: { okta_id: 00g1prdPRDprd1PRD0g1 }
    permission_sets: [Admin]
    scope: { ous: [ou-ab12-prod0000] }
"#;

const DOCUMENT_V2: &str = r#"
grants:
  - name: engineering-read
    group: { okta_id: 00g1engENGeng1ENG0g1 }
    permission_sets: [ReadOnly]
    scope: { root: true }
"#;

/// The rows of `user` as (account, permission set ARN, group name, since).
fn access_of(
    rows: &[access::AccessRow],
    user: &str,
) -> Vec<(String, String, String, Option<OffsetDateTime>)> {
    let mut found: Vec<_> = rows
        .iter()
        .filter(|r| r.user_id == user)
        .map(|r| {
            (
                r.account_id.clone(),
                r.permission_set_arn.clone(),
                r.group_name.clone().unwrap_or_default(),
                r.since,
            )
        })
        .collect();
    found.sort();
    found
}

fn row(
    account: &str,
    arn: &str,
    group: &str,
    since: OffsetDateTime,
) -> (String, String, String, Option<OffsetDateTime>) {
    (account.into(), arn.into(), group.into(), Some(since))
}

#[tokio::test]
async fn reports_rebuild_access_as_of_any_date_with_diffs_and_exact_leaver_times() {
    crate::scim_support::init_test_log();
    let t_push = datetime!(2026-09-01 09:00 UTC);
    let w = World::new(t_push).await;

    // 1 September: Okta pushes three users and two groups.
    let ada = w.push_user(ADA, "ada@example.com").await;
    let bob = w.push_user(BOB, "bob@example.com").await;
    let carol = w.push_user(CAROL, "carol@example.com").await;
    let eng = w.push_group(ENG, "Engineering", &[&ada, &bob]).await;
    let prod = w.push_group(PROD, "Prod-Admins", &[&ada]).await;

    // 2 September: the entitlement document gives Engineering read-only everywhere and
    // Prod-Admins admin on the production OU.
    let t_entitle = datetime!(2026-09-02 10:00 UTC);
    w.set(t_entitle);
    w.entitle(DOCUMENT_V1, "v1").await;

    // 10 September: ada is renamed in Okta (pushed as a PATCH).
    let t_rename = datetime!(2026-09-10 12:00 UTC);
    w.set(t_rename);
    w.scim(
        Method::PATCH,
        &format!("/Users/{ada}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "value": {"userName": "ada.lovelace@example.com"}}]}),
    )
    .await;

    // 15 September: bob joins Prod-Admins in Okta; the event is worked at 08:00.
    let t_bob_admin = datetime!(2026-09-15 08:00 UTC);
    w.set(t_bob_admin);
    w.okta_call(
        reqwest::Method::PUT,
        &format!("/api/v1/groups/{PROD}/users/{BOB}"),
    )
    .await;
    w.event(
        "group.user_membership.add",
        t_bob_admin - Duration::minutes(1),
        &[("User", BOB), ("UserGroup", PROD)],
    )
    .await;

    // 2 October: carol joins Engineering through a SCIM push.
    let t_carol = datetime!(2026-10-02 09:00 UTC);
    w.set(t_carol);
    w.scim(
        Method::PATCH,
        &format!("/Groups/{eng}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "add", "path": "members", "value": [{"value": carol}]}]}),
    )
    .await;

    // 5 October: bob leaves. Okta publishes the deactivation at 09:00; the worker has it
    // done at 11:30 (2.5 hours).
    let bob_left = datetime!(2026-10-05 09:00 UTC);
    w.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/users/{BOB}/lifecycle/deactivate"),
    )
    .await;
    w.set(bob_left + Duration::minutes(150));
    w.event("user.lifecycle.deactivate", bob_left, &[("User", BOB)])
        .await;

    // 6 October: carol leaves; her deactivation reaches Identity Center 25 hours later.
    let carol_left = datetime!(2026-10-06 09:00 UTC);
    w.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/users/{CAROL}/lifecycle/deactivate"),
    )
    .await;
    w.set(carol_left + Duration::hours(25));
    w.event("user.lifecycle.deactivate", carol_left, &[("User", CAROL)])
        .await;

    // 20 October: bob is re-hired under the same Okta id.
    let t_rehire = datetime!(2026-10-20 09:00 UTC);
    w.okta_call(
        reqwest::Method::POST,
        &format!("/api/v1/users/{BOB}/lifecycle/activate"),
    )
    .await;
    w.set(t_rehire);
    w.event(
        "user.lifecycle.activate",
        t_rehire - Duration::minutes(2),
        &[("User", BOB)],
    )
    .await;

    // 25 October: the document drops Prod-Admins' admin access.
    let t_v2 = datetime!(2026-10-25 10:00 UTC);
    w.set(t_v2);
    w.entitle(DOCUMENT_V2, "v2").await;
    let end = datetime!(2026-10-26 00:00 UTC);
    w.set(end);

    let history = w.history(end).await;
    let all = Filter::default();

    // As of 1 October: ada (by her new name) and bob, each access since the instant its
    // last part (activation, membership, assignment) began.
    let october = access::as_of(&history, datetime!(2026-10-01 00:00 UTC), &all);
    assert_eq!(
        access_of(&october, &ada),
        set(&[
            row(MANAGEMENT, READ_ONLY, "Engineering", t_entitle),
            row(PRODUCTION, READ_ONLY, "Engineering", t_entitle),
            row(PRODUCTION, ADMIN, "Prod-Admins", t_entitle),
        ])
    );
    assert_eq!(
        access_of(&october, &bob),
        set(&[
            row(MANAGEMENT, READ_ONLY, "Engineering", t_entitle),
            row(PRODUCTION, READ_ONLY, "Engineering", t_entitle),
            row(PRODUCTION, ADMIN, "Prod-Admins", t_bob_admin),
        ])
    );
    assert!(access_of(&october, &carol).is_empty());
    assert!(
        october
            .iter()
            .filter(|r| r.user_id == ada)
            .all(|r| r.user_name.as_deref() == Some("ada.lovelace@example.com"))
    );
    assert!(october.iter().all(|r| r.since_record.is_some()));

    // Before the rename, ada had her old name; before the document, nobody had access.
    let september = access::as_of(&history, datetime!(2026-09-05 00:00 UTC), &all);
    assert!(
        september
            .iter()
            .filter(|r| r.user_id == ada)
            .all(|r| r.user_name.as_deref() == Some("ada@example.com"))
    );
    assert_eq!(september.len(), 5);
    assert!(access::as_of(&history, datetime!(2026-09-01 12:00 UTC), &all).is_empty());

    // Carol between joining and leaving; bob after leaving and after his re-hire.
    let third = access::as_of(&history, datetime!(2026-10-03 00:00 UTC), &all);
    assert_eq!(
        access_of(&third, &carol),
        set(&[
            row(MANAGEMENT, READ_ONLY, "Engineering", t_carol),
            row(PRODUCTION, READ_ONLY, "Engineering", t_carol),
        ])
    );
    let tenth = access::as_of(&history, datetime!(2026-10-10 00:00 UTC), &all);
    assert!(access_of(&tenth, &bob).is_empty() && access_of(&tenth, &carol).is_empty());
    let rehired = access::as_of(&history, datetime!(2026-10-21 00:00 UTC), &all);
    assert_eq!(
        access_of(&rehired, &bob),
        set(&[
            row(MANAGEMENT, READ_ONLY, "Engineering", t_rehire),
            row(PRODUCTION, READ_ONLY, "Engineering", t_rehire),
            row(PRODUCTION, ADMIN, "Prod-Admins", t_rehire),
        ])
    );

    // Filters: by account, by permission set name, by group's Okta id, by user name.
    let only =
        |filter: Filter| access::as_of(&history, datetime!(2026-10-01 00:00 UTC), &filter).len();
    assert_eq!(
        only(Filter {
            accounts: Some([PRODUCTION.to_owned()].into()),
            ..Filter::default()
        }),
        4
    );
    assert_eq!(
        only(Filter {
            permission_set: Some("admin".into()),
            ..Filter::default()
        }),
        2
    );
    assert_eq!(
        only(Filter {
            group: Some(ENG.into()),
            ..Filter::default()
        }),
        4
    );
    assert_eq!(
        only(Filter {
            user: Some("ADA.lovelace@example.com".into()),
            ..Filter::default()
        }),
        3
    );

    // From 1 October to the end: the admin access both had is lost, ada's through the
    // second document, bob's through his deactivation; bob's read-only access came back
    // with the re-hire, so it is not a change; carol came and went in between.
    let changes = access::diff(&history, datetime!(2026-10-01 00:00 UTC), end, &all);
    let summary: BTreeSet<_> = changes
        .iter()
        .map(|c| {
            (
                c.change,
                c.row.user_id.clone(),
                c.row.permission_set_arn.clone(),
                c.cause.as_ref().map(|r| r.time),
            )
        })
        .collect();
    assert_eq!(
        summary,
        BTreeSet::from([
            (ChangeKind::Lost, ada.clone(), ADMIN.to_owned(), Some(t_v2)),
            (
                ChangeKind::Lost,
                bob.clone(),
                ADMIN.to_owned(),
                Some(bob_left + Duration::minutes(150))
            ),
        ]),
    );
    let gained = access::diff(
        &history,
        datetime!(2026-09-01 12:00 UTC),
        datetime!(2026-10-03 00:00 UTC),
        &all,
    );
    assert_eq!(gained.len(), 8);
    assert!(
        gained
            .iter()
            .all(|c| c.change == ChangeKind::Gained && c.cause.is_some())
    );

    // Leavers of October: bob's access went 2.5 hours after Okta's event, carol's after
    // 25 hours, over the 24-hour threshold.
    let leavers = access::leavers(
        &history,
        datetime!(2026-10-01 00:00 UTC),
        end,
        access::DEFAULT_LEAVER_THRESHOLD,
        end,
    );
    assert_eq!(leavers.len(), 2, "{leavers:#?}");
    let (b, c) = (&leavers[0], &leavers[1]);
    assert_eq!(
        (b.user_id.as_deref(), b.okta_user_id.as_deref()),
        (Some(bob.as_str()), Some(BOB))
    );
    assert_eq!((b.started_at, b.start), (bob_left, StartKind::OktaEvent));
    assert_eq!(b.deactivated_at, Some(bob_left + Duration::minutes(150)));
    assert_eq!(b.deactivation_seconds, Some(9_000));
    assert_eq!(b.access.len(), 3);
    assert!(
        b.access
            .iter()
            .all(|a| a.seconds == Some(9_000) && !a.over_threshold)
    );
    assert!(!b.over_threshold);
    assert_eq!(
        (c.user_id.as_deref(), c.started_at),
        (Some(carol.as_str()), carol_left)
    );
    assert_eq!(c.deactivation_seconds, Some(90_000));
    assert_eq!(c.access.len(), 2);
    assert!(
        c.access
            .iter()
            .all(|a| a.seconds == Some(90_000) && a.over_threshold)
    );
    assert!(c.over_threshold);

    // The evidence binds the reports to the records: a second read gives the same.
    let evidence = history.evidence(access::read_until(end), None);
    assert!(evidence.records > 20, "{evidence:?}");
    assert_eq!(
        evidence,
        w.history(end).await.evidence(access::read_until(end), None)
    );
    // Fewer records (as a trail cut short would give) disagree in count, head and digest.
    let earlier = w.history(t_rehire - Duration::minutes(1)).await;
    assert_eq!(
        access::evidence::compare(&evidence, &earlier.evidence(access::read_until(end), None))
            .len(),
        3
    );

    // And the trail's account of now is live state's, exactly.
    w.assert_trail_matches_live(end).await;
    let _ = prod;
}

fn set(
    rows: &[(String, String, String, Option<OffsetDateTime>)],
) -> Vec<(String, String, String, Option<OffsetDateTime>)> {
    let mut rows = rows.to_vec();
    rows.sort();
    rows
}
