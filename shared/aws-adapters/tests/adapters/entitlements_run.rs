//! The stack's entitlements function's runner (`entitlements::Runner`, wired in
//! `functions/entitlements`) against moto's Organizations, SSO Admin, Identity Store and
//! DynamoDB, invoked with the events the function receives (`tests/fixtures/aws-events`,
//! shaped after AWS's documentation, cited there): the schedule, Control Tower's
//! `CreateManagedAccount`, Organizations' `MoveAccount` and `CreateAccountResult`, and the
//! SCIM function's group-created signals. A destructive plan is withheld by the run,
//! recorded, and applied only once an administrator approves its id; `plan` mode changes
//! nothing.
//!
//! The documents are stored and activated in the state table as `scimgw entitlements
//! apply FILE` does; the runner reads the active one. moto's Identity Store cannot hold
//! an `externalId` (`docs/entitlements.md`, moto's gaps), so the observer here sets the
//! Okta ids on the groups read, as the other entitlements tests do.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_adapters::DynamoDbRuleStore;
use aws_adapters::entitlements_aws::{AwsEntitlements, DynamoDbManagedLedger};
use entitlements::{
    Document, GroupCreated, ManagedLedger, Mode, Observe, Observed, RunReport, Runner, Safety,
    Trigger,
};
use gateway::audit::{AuditOperation, AuditSource, Outcome};
use gateway::rule_store::{NewRuleSet, RuleStore};
use gateway::{FixedClock, InMemoryAuditLog};
use serde_json::Value;
use time::macros::datetime;

use crate::entitlements::{ADMINS, Fixture, READERS, fast};

/// AWS's reader, with the Okta ids moto cannot hold set on the groups read.
struct OktaIds {
    aws: AwsEntitlements,
    okta_ids: HashMap<String, String>,
}

#[async_trait]
impl Observe for OktaIds {
    async fn observe(&self, document: &Document, ledger: &dyn ManagedLedger) -> Observed {
        let mut observed = self.aws.observe_all_but_assignments(document, ledger).await;
        for group in &mut observed.identity_center.groups {
            group.external_id = self.okta_ids.get(&group.id).cloned();
        }
        self.aws.read_assignments(document, &mut observed).await;
        observed
    }
}

/// A sample event from `tests/fixtures/aws-events`, naming `account` where it names one.
fn event(name: &str, account: Option<&str>) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/aws-events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let text = match account {
        Some(account) => text.replace("210987654321", account),
        None => text,
    };
    serde_json::from_str(&text).unwrap()
}

/// The SQS batch the SCIM function's signals arrive in.
fn signals(group_ids: &[&str]) -> Value {
    let records: Vec<Value> = group_ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "messageId": format!("m-{id}"),
                "eventSource": "aws:sqs",
                "body": serde_json::to_string(&GroupCreated::new(*id)).unwrap(),
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

struct Harness {
    runner: Runner,
    store: Arc<DynamoDbRuleStore>,
    audit: Arc<InMemoryAuditLog>,
}

impl Harness {
    fn new(fx: &Fixture, mode: Mode) -> Self {
        let clock = Arc::new(FixedClock::new(datetime!(2026-12-02 06:00 UTC)));
        let store = Arc::new(DynamoDbRuleStore::entitlements(
            fx.dynamo.clone(),
            fx.table.clone(),
            clock.clone(),
        ));
        let audit = Arc::new(InMemoryAuditLog::default());
        let runner = Runner {
            store: store.clone(),
            observer: Arc::new(OktaIds {
                aws: fx.aws.clone(),
                okta_ids: fx.okta_ids.clone(),
            }),
            api: Arc::new(fx.api()),
            ledger: Arc::new(DynamoDbManagedLedger::new(
                fx.dynamo.clone(),
                fx.table.clone(),
            )),
            audit: audit.clone(),
            clock,
            mode,
            threshold_percent: gateway::reconcile::plan::DEFAULT_THRESHOLD_PERCENT,
            limits: fast(),
            manage_permission_sets: false,
        };
        Self {
            runner,
            store,
            audit,
        }
    }

    /// Saves and activates a document, as `scimgw entitlements apply FILE` does.
    async fn activate(&self, text: &str) {
        let active = self.store.active().await.unwrap().map(|a| a.version);
        let version = self
            .store
            .put_version(NewRuleSet {
                document: text.to_owned(),
                author: "ada".into(),
                note: None,
            })
            .await
            .unwrap();
        self.store.activate(version, active, "ada").await.unwrap();
    }

    async fn invoke(&self, event: &Value) -> RunReport {
        let trigger = Trigger::from_event(event).unwrap();
        self.runner.run("invocation-1", trigger).await.unwrap()
    }

    /// The last summary record.
    fn summary(&self) -> gateway::audit::AuditRecord {
        self.audit
            .records()
            .into_iter()
            .rev()
            .find(|r| r.operation == AuditOperation::Reconcile)
            .unwrap()
    }

    fn assigns(&self) -> usize {
        self.audit
            .records()
            .iter()
            .filter(|r| r.operation == AuditOperation::Assign && r.outcome == Outcome::Success)
            .count()
    }
}

#[tokio::test]
async fn the_function_assigns_on_its_schedule_on_account_events_and_on_new_groups() {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let prod = fx.ou(&root, "prod").await;
    let apps = fx.ou(&prod, "apps").await;
    let sandbox = fx.ou(&root, "sandbox").await;
    let p1 = fx.account("p1", &prod, &[]).await;
    let admins = fx.group("Admins", Some(ADMINS)).await;
    let admin_ps = fx.permission_set("AdministratorAccess").await;
    fx.permission_set("ReadOnly").await;
    let text = format!(
        "grants:\n\
         - {{ name: prod-admins, group: {{ okta_id: {ADMINS} }}, permission_sets: [AdministratorAccess], scope: {{ ous: [{prod}] }} }}\n\
         - {{ name: prod-readers, group: {{ okta_id: {READERS} }}, permission_sets: [ReadOnly], scope: {{ ous: [{prod}] }} }}\n"
    );

    // No document active yet: the run plans nothing, and says so.
    let h = Harness::new(&fx, Mode::Apply);
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!(report.document_version, None);
    assert!(
        h.summary()
            .reason
            .unwrap()
            .contains("no entitlement document is active")
    );

    // The schedule: the admins get prod; the readers' group is not pushed yet.
    h.activate(&text).await;
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!((report.create, report.done, report.failed), (1, 1, 0));
    assert_eq!(report.unresolved, 1, "{report:?}");
    assert_eq!(
        fx.assignments(&admins).await,
        [(p1.clone(), admin_ps.clone())]
    );
    let summary = h.summary();
    assert_eq!(summary.outcome, Outcome::Success);
    assert!(matches!(
        &summary.source,
        AuditSource::Entitlements { document_version, .. } if document_version == "v1"
    ));
    assert_eq!(h.assigns(), 1);

    // Control Tower vends an account into a nested OU: it gets the admins at once.
    let vended = fx.account("vended", &apps, &[]).await;
    let report = h
        .invoke(&event("controltower-create-managed-account", Some(&vended)))
        .await;
    assert_eq!(
        report.trigger,
        Trigger::Account {
            source: "aws.controltower".into(),
            event_name: "CreateManagedAccount".into(),
            account_id: Some(vended.clone())
        }
    );
    assert_eq!((report.create, report.done), (1, 1));
    assert!(
        fx.assignments(&admins)
            .await
            .contains(&(vended.clone(), admin_ps.clone()))
    );

    // Organizations moves it to the sandbox: the assignment follows the OU.
    fx.move_account(&vended, &apps, &sandbox).await;
    let report = h
        .invoke(&event("organizations-move-account", Some(&vended)))
        .await;
    assert_eq!((report.create, report.delete, report.done), (0, 1, 1));
    assert_eq!(
        fx.assignments(&admins).await,
        [(p1.clone(), admin_ps.clone())]
    );

    // An account created by Organizations straight into prod.
    let created = fx.account("created", &prod, &[]).await;
    let report = h
        .invoke(&event(
            "organizations-create-account-result",
            Some(&created),
        ))
        .await;
    assert!(
        matches!(&report.trigger, Trigger::Account { account_id: Some(a), .. } if *a == created)
    );
    assert_eq!((report.create, report.done), (1, 1));

    // Okta pushes the readers' group: the SCIM function's signal assigns it at once.
    let readers = fx.group("Readers", Some(READERS)).await;
    let h = Harness::new(&fx, Mode::Apply);
    let report = h.invoke(&signals(&[&readers])).await;
    assert_eq!(
        report.trigger,
        Trigger::GroupsCreated {
            group_ids: vec![readers.clone()]
        }
    );
    assert_eq!((report.create, report.done, report.unresolved), (2, 2, 0));
    assert_eq!(fx.assignments(&readers).await.len(), 2);

    // Nothing left: the next scheduled run is empty.
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!((report.create, report.delete), (0, 0));
}

#[tokio::test]
async fn a_destructive_plan_is_withheld_by_the_function_until_an_administrator_approves_it() {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let ou = fx.ou(&root, "workloads").await;
    for i in 0..8 {
        fx.account(&format!("w{i}"), &ou, &[]).await;
    }
    let admins = fx.group("Admins", Some(ADMINS)).await;
    fx.permission_set("AdministratorAccess").await;
    let h = Harness::new(&fx, Mode::Apply);
    h.activate(&format!(
        "grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [AdministratorAccess], scope: {{ ous: [{ou}] }} }}]"
    ))
    .await;
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!(report.done, 8);

    // The grant goes: eight deletions of eight managed assignments, beyond the breaker.
    h.activate("grants: []").await;
    let report = h.invoke(&event("scheduled", None)).await;
    let refused = report.refused.clone().unwrap();
    assert_eq!((refused.destructive, refused.managed), (8, 8));
    assert_eq!(report.done, 0);
    assert_eq!(fx.assignments(&admins).await.len(), 8, "nothing deleted");
    let summary = h.summary();
    assert_eq!((summary.outcome, summary.status), (Outcome::Refused, 409));
    let plan_id = report.plan_id.clone().unwrap();
    let reason = summary.reason.unwrap();
    assert!(reason.contains(&format!("--approve {plan_id}")), "{reason}");
    // An account event does not get it through either.
    let report = h.invoke(&event("organizations-move-account", None)).await;
    assert!(report.refused.is_some());
    assert_eq!(fx.assignments(&admins).await.len(), 8);

    // The administrator plans the active document (v2) as `scimgw entitlements plan`
    // does, finds the same plan id, and approves it (`apply --plan --approve`): applied.
    let document = Document::load("grants: []").unwrap();
    let approved = entitlements::plan(
        &document,
        "v2",
        &fx.observe(&document).await,
        &Safety {
            approved_plan: Some(plan_id.clone()),
            ..Safety::default()
        },
    );
    assert_eq!(approved.id, plan_id);
    assert_eq!(approved.refused, None);
    fx.apply(&approved).await;
    assert_eq!(fx.assignments(&admins).await, []);
}

#[tokio::test]
async fn the_function_changes_permission_sets_only_when_the_stack_lets_it() {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let ou = fx.ou(&root, "data").await;
    let account = fx.account("d1", &ou, &[]).await;
    let admins = fx.group("Admins", Some(ADMINS)).await;
    fx.permission_set("AdministratorAccess").await;
    let mut h = Harness::new(&fx, Mode::Apply);
    h.activate(&format!(
        "permission_sets: [{{ name: DataReader, managed_policies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }}]\n\
         grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [DataReader, AdministratorAccess], scope: {{ ous: [{ou}] }} }}]"
    ))
    .await;
    // EntitlementsPermissionSets=read-only: the assignment to an existing permission set
    // is made; the permission set and its assignment wait for an administrator, and the
    // run says so.
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!(
        (
            report.permission_sets,
            report.permission_sets_left,
            report.done
        ),
        (1, 1, 1),
        "{report:?}"
    );
    assert_eq!(fx.assignments(&admins).await.len(), 1);
    assert!(fx.ledger.permission_sets().await.unwrap().is_empty());
    let reason = h.summary().reason.unwrap();
    assert!(
        reason.contains("LEFT for an administrator: 1 permission set changes"),
        "{reason}"
    );
    let metrics = serde_json::to_value(&report).unwrap();
    assert_eq!(metrics["permission_sets_left"], 1);

    // EntitlementsPermissionSets=manage: the next run creates it and assigns it.
    h.runner.manage_permission_sets = true;
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!(
        (report.permission_sets_left, report.failed),
        (0, 0),
        "{report:?}"
    );
    let managed = fx.ledger.permission_sets().await.unwrap();
    assert_eq!(managed.len(), 1);
    let have = fx.assignments(&admins).await;
    assert_eq!(have.len(), 2);
    assert!(have.contains(&(account, managed.into_iter().next().unwrap())));
    let report = h.invoke(&event("scheduled", None)).await;
    assert_eq!((report.create, report.permission_sets), (0, 0), "converged");
}

#[tokio::test]
async fn a_run_near_its_deadline_starts_nothing_it_cannot_finish_and_the_next_run_continues() {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let ou = fx.ou(&root, "late").await;
    for i in 0..3 {
        fx.account(&format!("l{i}"), &ou, &[]).await;
    }
    let admins = fx.group("Admins", Some(ADMINS)).await;
    fx.permission_set("AdministratorAccess").await;
    let h = Harness::new(&fx, Mode::Apply);
    h.activate(&format!(
        "grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [AdministratorAccess], scope: {{ ous: [{ou}] }} }}]"
    ))
    .await;
    // Lambda would end this invocation in three minutes: less than the end's reserve.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(180);
    let trigger = Trigger::from_event(&event("scheduled", None)).unwrap();
    let report = h
        .runner
        .run_until("invocation-1", trigger, Some(deadline))
        .await
        .unwrap();
    assert_eq!(
        (report.create, report.done, report.failed, report.deferred),
        (3, 0, 0, 3),
        "{report:?}"
    );
    assert!(report.succeeded());
    assert_eq!(fx.assignments(&admins).await, []);
    assert!(fx.ledger.list().await.unwrap().is_empty());
    assert_eq!(
        h.assigns(),
        0,
        "nothing happened, nothing is recorded as done"
    );
    let reason = h.summary().reason.unwrap();
    assert!(
        reason.contains("DEFERRED: 3 operations not started"),
        "{reason}"
    );

    // With its whole time ahead, the next run makes them.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(900);
    let trigger = Trigger::from_event(&event("scheduled", None)).unwrap();
    let report = h
        .runner
        .run_until("invocation-2", trigger, Some(deadline))
        .await
        .unwrap();
    assert_eq!((report.done, report.deferred), (3, 0), "{report:?}");
    assert_eq!(fx.assignments(&admins).await.len(), 3);
    assert_eq!(h.assigns(), 3);
}

#[tokio::test]
async fn plan_mode_records_the_plan_and_changes_nothing() {
    let mut fx = Fixture::new().await;
    let root = fx.root.clone();
    let ou = fx.ou(&root, "workloads").await;
    fx.account("w1", &ou, &[]).await;
    let admins = fx.group("Admins", Some(ADMINS)).await;
    fx.permission_set("AdministratorAccess").await;
    let h = Harness::new(&fx, Mode::Plan);
    h.activate(&format!(
        "grants: [{{ group: {{ okta_id: {ADMINS} }}, permission_sets: [AdministratorAccess], scope: {{ ous: [{ou}] }} }}]"
    ))
    .await;
    let report = h
        .invoke(&event("controltower-update-managed-account", None))
        .await;
    assert_eq!((report.create, report.done), (1, 0));
    assert_eq!(fx.assignments(&admins).await, []);
    assert!(fx.ledger.list().await.unwrap().is_empty());
    let reason = h.summary().reason.unwrap();
    assert!(
        reason.starts_with("plan mode, UpdateManagedAccount"),
        "{reason}"
    );
    assert!(reason.contains("1 to create"), "{reason}");
    assert_eq!(h.assigns(), 0);
}

#[tokio::test]
async fn a_group_created_is_signalled_on_the_queue_and_the_function_reads_the_batch() {
    use aws_adapters::SqsGroupSignal;
    use gateway::ports::group_signal::GroupSignal;

    let config = test_services::moto_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name(test_services::unique_name("scimgw-entitlements"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let signal = SqsGroupSignal::new(sqs.clone(), queue.clone());
    signal.group_created("g-admins").await.unwrap();
    signal.group_created("g-readers").await.unwrap();

    // The batch as Lambda's SQS trigger hands it to the function.
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| {
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    let Ok(Trigger::GroupsCreated { mut group_ids }) =
        Trigger::from_event(&serde_json::json!({ "Records": records }))
    else {
        panic!("not read as group signals");
    };
    group_ids.sort();
    assert_eq!(group_ids, ["g-admins", "g-readers"]);

    // A queue that is not there: an error to log, not a panic or a hang.
    let gone = SqsGroupSignal::new(sqs, format!("{queue}-gone"));
    assert!(gone.group_created("g-1").await.is_err());
}
