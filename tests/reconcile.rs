//! Reconciliation end to end: drift made behind the gateway's back in Identity Center
//! and in Okta, planned and applied through the real Okta and Identity Center clients
//! against both emulators, and the safety rules against reads that fail or come back
//! empty.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::StaticSecretSource;
use gateway::audit::{AuditSource, InMemoryAuditLog};
use gateway::reconcile::{Action, Plan, Safety, apply_change, make_plan, reconcile_context};
use gateway::rules::{ActiveRuleSet, FixedRules, IdentityRules, RuleSource};
use gateway::{ScimService, SecretId, SecretString, SystemClock, TargetDialect};
use serde_json::{Value, json};
use time::OffsetDateTime;

const OKTA_TOKEN: &str = "okta-token-for-reconcile-tests";
const IC_TOKEN: &str = "ic-token-for-reconcile-tests";

fn user_id(n: usize) -> String {
    format!("00u{n:017}")
}

fn group_id(n: usize) -> String {
    format!("00g{n:017}")
}

fn okta_user(n: usize) -> Value {
    json!({"id": user_id(n), "status": "ACTIVE",
           "profile": {"login": format!("user{n}@example.com"), "email": format!("user{n}@example.com"),
                       "firstName": "User", "lastName": format!("Number{n}")}})
}

/// Okta: users 1–4; Engineering holds 1–3, Ops holds 4.
fn seed() -> okta_emulator::Seed {
    okta_emulator::Seed {
        users: (1..=4).map(okta_user).collect(),
        groups: vec![
            json!({"id": group_id(1), "type": "OKTA_GROUP", "profile": {"name": "Engineering"}}),
            json!({"id": group_id(2), "type": "OKTA_GROUP", "profile": {"name": "Ops"}}),
        ],
        memberships: [
            (group_id(1), (1..=3).map(user_id).collect()),
            (group_id(2), vec![user_id(4)]),
        ]
        .into(),
        ..okta_emulator::Seed::default()
    }
}

struct Sides {
    okta: okta_emulator::RunningEmulator,
    ic: ic_emulator::RunningEmulator,
    service: ScimService,
    audit: Arc<InMemoryAuditLog>,
    http: reqwest::Client,
}

impl Sides {
    async fn new(rules: Option<&str>) -> Self {
        let okta = okta_emulator::Emulator::start(
            okta_emulator::EmulatorConfig::new(OKTA_TOKEN).with_seed(seed()),
            "127.0.0.1:0",
        )
        .await
        .unwrap();
        let ic =
            ic_emulator::Emulator::start(ic_emulator::EmulatorConfig::new(IC_TOKEN), "127.0.0.1:0")
                .await
                .unwrap();
        let secrets = Arc::new(
            StaticSecretSource::new()
                .with(SecretId::new("ic"), SecretString::new(IC_TOKEN))
                .with(SecretId::new("okta"), SecretString::new(OKTA_TOKEN)),
        );
        let target = HttpTargetScimClient::new(
            TargetClientConfig::new(
                ic.base_url(),
                SecretId::new("ic"),
                TargetDialect::IdentityCenter,
            ),
            secrets,
        )
        .unwrap();
        let rules: Arc<dyn RuleSource> = match rules {
            None => Arc::new(IdentityRules::new()),
            Some(yaml) => Arc::new(FixedRules::new(ActiveRuleSet::new(
                "test-rules",
                rules::RuleSet::load(yaml).unwrap().rule_set,
            ))),
        };
        let audit = Arc::new(InMemoryAuditLog::new());
        let service = ScimService::new(
            Arc::new(target),
            rules,
            audit.clone(),
            Arc::new(SystemClock),
            Duration::from_secs(10),
        );
        Self {
            okta,
            ic,
            service,
            audit,
            http: reqwest::Client::new(),
        }
    }

    fn okta_client(&self, url: &str) -> OktaClient {
        let secrets = Arc::new(
            StaticSecretSource::new().with(SecretId::new("okta"), SecretString::new(OKTA_TOKEN)),
        );
        let mut config = OktaClientConfig::new(url, SecretId::new("okta"));
        config.max_retries = 1;
        config.throttle_budget = Duration::from_secs(2);
        OktaClient::new(config, secrets).unwrap()
    }

    async fn plan_with(&self, okta_url: &str, safety: Safety) -> Plan {
        let okta = self.okta_client(okta_url);
        let (plan, _) = make_plan(
            &self.service,
            &okta,
            safety,
            Duration::from_secs(60),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        plan
    }

    async fn plan(&self) -> Plan {
        self.plan_with(&self.okta.base_url(), Safety::default())
            .await
    }

    async fn apply(&self, plan: &Plan) {
        let ctx = reconcile_context("run-test", "test");
        for change in &plan.changes {
            apply_change(&self.service, change, &ctx)
                .await
                .unwrap_or_else(|e| panic!("{change:?}: {e}"));
        }
    }

    async fn okta_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.okta.base_url()))
            .header("authorization", format!("SSWS {OKTA_TOKEN}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert!(
            request.send().await.unwrap().status().is_success(),
            "{path}"
        );
    }

    async fn ic_call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.ic.base_url()))
            .bearer_auth(IC_TOKEN)
            .header("user-agent", "console")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    fn ic_user(&self, okta_id: &str) -> ic_emulator::UserSnapshot {
        self.ic
            .emulator()
            .users()
            .into_iter()
            .find(|u| u.external_id.as_deref() == Some(okta_id))
            .unwrap_or_else(|| panic!("{okta_id} in Identity Center"))
    }

    fn ic_group(&self, okta_id: &str) -> ic_emulator::GroupSnapshot {
        self.ic
            .emulator()
            .groups()
            .into_iter()
            .find(|g| g.external_id.as_deref() == Some(okta_id))
            .unwrap_or_else(|| panic!("{okta_id} in Identity Center"))
    }
}

fn listed(plan: &Plan) -> BTreeSet<String> {
    plan.changes
        .iter()
        .map(|c| {
            let member = c
                .member
                .as_ref()
                .map(|m| format!(" <- {}", m.name))
                .unwrap_or_default();
            format!("{} {}{member}", c.action.as_str(), c.name)
        })
        .collect()
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

#[tokio::test]
async fn drift_behind_the_gateways_back_is_planned_exactly_applied_and_gone() {
    let sides = Sides::new(None).await;
    // From nothing: everything is created.
    let first = sides.plan().await;
    assert_eq!(first.counts["create"], 6, "{:?}", listed(&first));
    assert_eq!(first.counts["add_member"], 4);
    sides.apply(&first).await;
    assert!(sides.plan().await.is_empty());

    // Drift in Identity Center: a membership removed, a user renamed in the console, a
    // half-applied change (displayName follows Okta's new last name, familyName not),
    // a console user and Control Tower's group.
    let eng = sides.ic_group(&group_id(1)).id;
    let user2 = sides.ic_user(&user_id(2)).id;
    let user3 = sides.ic_user(&user_id(3)).id;
    let user1 = sides.ic_user(&user_id(1)).id;
    sides
        .ic_call(
            reqwest::Method::PATCH,
            &format!("/Groups/{eng}"),
            patch(json!([{"op": "remove", "path": format!("members[value eq \"{user2}\"]")}])),
        )
        .await;
    sides
        .ic_call(
            reqwest::Method::PATCH,
            &format!("/Users/{user3}"),
            patch(json!([{"op": "replace", "path": "displayName", "value": "Renamed By Hand"}])),
        )
        .await;
    sides
        .okta_call(
            reqwest::Method::POST,
            &format!("/api/v1/users/{}", user_id(1)),
            Some(json!({"profile": {"lastName": "Smith"}})),
        )
        .await;
    sides
        .ic_call(
            reqwest::Method::PATCH,
            &format!("/Users/{user1}"),
            patch(json!([{"op": "replace", "path": "displayName", "value": "User Smith"}])),
        )
        .await;
    sides
        .ic_call(
            reqwest::Method::POST,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "breakglass@example.com", "displayName": "Break Glass",
                   "name": {"givenName": "Break", "familyName": "Glass"},
                   "emails": [{"value": "breakglass@example.com", "type": "work", "primary": true}]}),
        )
        .await;
    sides
        .ic_call(
            reqwest::Method::POST,
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "AWSControlTowerAdmins"}),
        )
        .await;
    // Drift in Okta: user 4 deactivated, Ops deleted.
    sides
        .okta_call(
            reqwest::Method::POST,
            &format!("/api/v1/users/{}/lifecycle/deactivate", user_id(4)),
            None,
        )
        .await;
    sides
        .okta_call(
            reqwest::Method::DELETE,
            &format!("/api/v1/groups/{}", group_id(2)),
            None,
        )
        .await;

    let plan = sides.plan().await;

    assert_eq!(
        listed(&plan),
        BTreeSet::from([
            "update user1@example.com".to_owned(),
            "update user3@example.com".to_owned(),
            "add_member Engineering <- user2@example.com".to_owned(),
            "deactivate user4@example.com".to_owned(),
        ]),
        "{plan:#?}"
    );
    let update1 = plan
        .changes
        .iter()
        .find(|c| c.name == "user1@example.com")
        .unwrap();
    let attributes: Vec<&str> = update1
        .attributes
        .iter()
        .map(|a| a.attribute.as_str())
        .collect();
    assert_eq!(
        attributes,
        ["name.familyName"],
        "only what the half-applied change missed"
    );
    let alone: BTreeSet<&str> = plan.left_alone.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        alone,
        BTreeSet::from(["AWSControlTowerAdmins", "Ops", "breakglass@example.com"])
    );

    sides.apply(&plan).await;

    assert!(sides.plan().await.is_empty(), "a second plan is empty");
    assert_eq!(sides.ic_user(&user_id(3)).display_name, "User Number3");
    assert!(!sides.ic_user(&user_id(4)).active);
    assert!(sides.ic_group(&group_id(1)).members.contains(&user2));
    let records = sides.audit.records();
    assert!(
        records
            .iter()
            .filter(|r| matches!(r.source, AuditSource::Reconcile { .. }))
            .count()
            >= plan.changes.len()
    );
    let breakglass = sides
        .ic
        .emulator()
        .users()
        .into_iter()
        .find(|u| u.user_name == "breakglass@example.com")
        .unwrap();
    assert!(breakglass.active, "an unmanaged user is never changed");
}

/// A proxy in front of the Okta emulator that answers 500 to the third page of any
/// listing, for as long as it is asked.
async fn failing_third_page(upstream: String) -> (String, Arc<AtomicUsize>) {
    #[derive(Clone)]
    struct Proxy {
        upstream: String,
        http: reqwest::Client,
        pages: Arc<AtomicUsize>,
    }
    async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let is_listing = request.uri().path() == "/api/v1/users";
        let page = if is_listing {
            if request.uri().query().is_some_and(|q| q.contains("after=")) {
                proxy.pages.fetch_add(1, Ordering::SeqCst) + 2
            } else {
                1
            }
        } else {
            0
        };
        if page >= 3 {
            return Response::builder()
                .status(500)
                .body(Body::from(
                    "{\"errorCode\":\"E0000009\",\"errorSummary\":\"Internal Server Error\"}",
                ))
                .unwrap();
        }
        let mut upstream = proxy
            .http
            .get(format!("{}{path_and_query}", proxy.upstream));
        for (name, value) in request.headers() {
            if name == "authorization" || name == "accept" {
                upstream = upstream.header(name, value);
            }
        }
        let answer = upstream.send().await.unwrap();
        let mut response = Response::builder().status(answer.status().as_u16());
        for (name, value) in answer.headers() {
            if name == "link" {
                // Links name the emulator; the client follows links on its own origin only.
                let text = value.to_str().unwrap().replace(
                    &proxy.upstream,
                    &format!("http://{}", request.headers()["host"].to_str().unwrap()),
                );
                response = response.header("link", text);
            } else if name != "content-length" && name != "transfer-encoding" {
                response = response.header(name, value);
            }
        }
        response
            .body(Body::from(answer.bytes().await.unwrap()))
            .unwrap()
    }
    let pages = Arc::new(AtomicUsize::new(0));
    let proxy = Proxy {
        upstream,
        http: reqwest::Client::new(),
        pages: pages.clone(),
    };
    let app = Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), pages)
}

#[tokio::test]
async fn an_okta_read_failing_on_page_3_or_coming_back_empty_takes_nothing_away() {
    let sides = Sides::new(None).await;
    sides.apply(&sides.plan().await).await;
    // Okta pages its users one at a time, so the listing has four pages.
    sides
        .okta
        .set_knobs(okta_emulator::Knobs {
            page_limit: Some(1),
            ..okta_emulator::Knobs::default()
        })
        .unwrap();
    let (proxy, pages) = failing_third_page(sides.okta.base_url()).await;

    let failed = sides.plan_with(&proxy, Safety::default()).await;

    assert!(
        pages.load(Ordering::SeqCst) >= 2,
        "the listing reached page 3"
    );
    assert!(
        failed.changes.iter().all(|c| !c.action.is_destructive()),
        "{:?}",
        failed.changes
    );
    assert!(
        failed.withheld.iter().any(|w| w.contains("listing users")),
        "{:?}",
        failed.withheld
    );

    // Okta answers with no users at all (an org emptied, or the wrong one).
    sides
        .okta
        .load_seed(&okta_emulator::Seed {
            groups: seed().groups,
            ..okta_emulator::Seed::default()
        })
        .unwrap();
    let empty = sides.plan().await;
    assert!(
        empty.changes.iter().all(|c| !c.action.is_destructive()),
        "{:?}",
        empty.changes
    );
    assert!(
        empty.withheld.iter().any(|w| w.contains("no users at all")),
        "{:?}",
        empty.withheld
    );
}

#[tokio::test]
async fn a_plan_taking_away_too_much_is_refused_unless_overridden() {
    let sides = Sides::new(None).await;
    // 30 more users in Engineering, all in Identity Center.
    let mut seed = seed();
    for n in 10..40 {
        seed.users.push(okta_user(n));
        seed.memberships
            .get_mut(&group_id(1))
            .unwrap()
            .push(user_id(n));
    }
    sides.okta.load_seed(&seed).unwrap();
    sides.apply(&sides.plan().await).await;
    // Twelve deactivated in Okta: 24 removals and deactivations of 36 managed objects.
    for n in 10..22 {
        sides
            .okta_call(
                reqwest::Method::POST,
                &format!("/api/v1/users/{}/lifecycle/deactivate", user_id(n)),
                None,
            )
            .await;
    }

    let refused = sides.plan().await;
    let allowed = sides
        .plan_with(
            &sides.okta.base_url(),
            Safety {
                allow_mass_changes: true,
                ..Safety::default()
            },
        )
        .await;

    let refusal = refused.refused.expect("refused");
    assert!(refusal.destructive > refusal.allowed, "{refusal:?}");
    assert!(allowed.refused.is_none());
    assert_eq!(
        allowed
            .changes
            .iter()
            .filter(|c| c.action == Action::Deactivate)
            .count(),
        12
    );
}
