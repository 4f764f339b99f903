//! Use-case tests against the hand-written fakes: the translated calls the target gets,
//! what the client gets back, and the audit record of every request.

use std::sync::Arc;
use std::time::Duration;

use scim_core::{ListQuery, PatchOp, ResourceId, ScimType};
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::audit::{AuditError, AuditOperation, AuditSource, InMemoryAuditLog, Outcome};
use crate::audit_store::AuditStore as _;
use crate::ports::target::TargetScimClient as _;
use crate::rules::IdentityRules;
use crate::testing::{FailingAuditLog, ScriptedTargetClient, UnavailableRules};
use crate::{FixedClock, TargetError};

const BASE: &str = "https://gw.example.com/scim/v2";

struct Harness {
    service: ScimService,
    target: Arc<ScriptedTargetClient>,
    audit: Arc<InMemoryAuditLog>,
    ctx: RequestContext,
}

impl Harness {
    /// The use cases behind what the edge does before them, so that these tests keep
    /// calling with raw ids and bodies.
    fn edge(&self) -> Edge<'_> {
        Edge(&self.service)
    }
}

/// A reply as the edge writes it: the parts these tests read.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Option<Value>,
    location: Option<String>,
}

impl From<ScimReply> for Reply {
    fn from(reply: ScimReply) -> Self {
        let status = reply.status();
        match reply {
            ScimReply::Ok(body) => Self {
                status,
                body: Some(body),
                location: None,
            },
            ScimReply::Created { resource, location } => Self {
                status,
                body: Some(resource),
                location,
            },
            ScimReply::NoContent => Self {
                status,
                body: None,
                location: None,
            },
        }
    }
}

/// What the edge does with a request before the use case (parse once; refuse what does
/// not parse, audited), over the service: raw ids and bodies in, as from HTTP.
struct Edge<'s>(&'s ScimService);

type Answer = Result<Reply, GatewayError>;

/// The context as the edge sets it for `method` on the collection or item route.
fn routed(ctx: &RequestContext, method: &str, kind: ResourceKind, item: bool) -> RequestContext {
    let path = if item {
        format!("{}/{{id}}", kind.endpoint())
    } else {
        kind.endpoint().to_owned()
    };
    RequestContext {
        source: AuditSource::Scim {
            method: method.to_owned(),
            path,
        },
        ..ctx.clone()
    }
}

impl Edge<'_> {
    async fn refuse(
        &self,
        kind: ResourceKind,
        operation: AuditOperation,
        error: scim_core::ScimError,
        input: RefusedInput<'_>,
        ctx: &RequestContext,
    ) -> Answer {
        self.0
            .refuse(kind, operation, error, input, ctx)
            .await
            .map(Reply::from)
    }

    async fn list(&self, kind: ResourceKind, query: ListQuery, ctx: &RequestContext) -> Answer {
        let ctx = routed(ctx, "GET", kind, false);
        self.0.list(kind, query, &ctx).await.map(Reply::from)
    }

    async fn get(
        &self,
        kind: ResourceKind,
        id: &str,
        attributes: Option<&str>,
        excluded: Option<&str>,
        ctx: &RequestContext,
    ) -> Answer {
        let ctx = routed(ctx, "GET", kind, true);
        let pairs = attributes
            .map(|a| ("attributes", a))
            .into_iter()
            .chain(excluded.map(|e| ("excludedAttributes", e)));
        let parsed = ResourceId::parse(id).and_then(|id| Ok((id, ListQuery::from_pairs(pairs)?)));
        match parsed {
            Ok((id, query)) => self
                .0
                .get(
                    kind,
                    &id,
                    &query.attributes,
                    &query.excluded_attributes,
                    &ctx,
                )
                .await
                .map(Reply::from),
            Err(error) => {
                let input = RefusedInput {
                    id: Some(id),
                    body: None,
                };
                self.refuse(kind, AuditOperation::Get, error, input, &ctx)
                    .await
            }
        }
    }

    async fn create(&self, kind: ResourceKind, body: Value, ctx: &RequestContext) -> Answer {
        let ctx = routed(ctx, "POST", kind, false);
        match NewResource::parse(kind, body.clone()) {
            Ok(resource) => self.0.create(resource, &ctx).await.map(Reply::from),
            Err(error) => {
                let input = RefusedInput {
                    id: None,
                    body: Some(&body),
                };
                self.refuse(kind, AuditOperation::Create, error, input, &ctx)
                    .await
            }
        }
    }

    async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: Value,
        ctx: &RequestContext,
    ) -> Answer {
        let ctx = routed(ctx, "PUT", kind, true);
        let parsed = ResourceId::parse(id)
            .and_then(|rid| Ok((rid, NewResource::parse(kind, body.clone())?)));
        match parsed {
            Ok((rid, resource)) => self.0.replace(&rid, resource, &ctx).await.map(Reply::from),
            Err(error) => {
                let input = RefusedInput {
                    id: Some(id),
                    body: Some(&body),
                };
                self.refuse(kind, AuditOperation::Replace, error, input, &ctx)
                    .await
            }
        }
    }

    async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: Value,
        ctx: &RequestContext,
    ) -> Answer {
        let ctx = routed(ctx, "PATCH", kind, true);
        let parsed = ResourceId::parse(id).and_then(|rid| Ok((rid, PatchOp::parse(&body)?)));
        match parsed {
            Ok((rid, patch)) => self.0.patch(kind, &rid, patch, &ctx).await.map(Reply::from),
            Err(error) => {
                let input = RefusedInput {
                    id: Some(id),
                    body: Some(&body),
                };
                self.refuse(kind, AuditOperation::Patch, error, input, &ctx)
                    .await
            }
        }
    }

    async fn delete(&self, kind: ResourceKind, id: &str, ctx: &RequestContext) -> Answer {
        let ctx = routed(ctx, "DELETE", kind, true);
        match ResourceId::parse(id) {
            Ok(rid) => self.0.delete(kind, &rid, &ctx).await.map(Reply::from),
            Err(error) => {
                let input = RefusedInput {
                    id: Some(id),
                    body: None,
                };
                self.refuse(kind, AuditOperation::Delete, error, input, &ctx)
                    .await
            }
        }
    }
}

fn harness() -> Harness {
    let target = Arc::new(ScriptedTargetClient::new());
    let audit = Arc::new(InMemoryAuditLog::new());
    let service = ScimService::new(
        target.clone(),
        Arc::new(IdentityRules::new()),
        audit.clone(),
        Arc::new(FixedClock::new(datetime!(2024-04-05 06:32:12 UTC))),
        Duration::from_secs(5),
    );
    let ctx = RequestContext {
        actor: Actor {
            credential: "scim-token:primary".into(),
        },
        correlation_id: "req-1".into(),
        base_url: BASE.into(),
        user_agent: Some("Okta SCIM Client 1.0.0".into()),
        source: AuditSource::Scim {
            method: "GET".into(),
            path: "/Users".into(),
        },
        source_ip: None,
        request_id: None,
    };
    Harness {
        service,
        target,
        audit,
        ctx,
    }
}

/// Okta's create body (`docs/okta-client.md` §2).
/// The outcome records of `records`, without the intents that precede writes.
fn outcomes(records: &[crate::audit::AuditRecord]) -> Vec<&crate::audit::AuditRecord> {
    records
        .iter()
        .filter(|r| r.outcome != Outcome::Intent)
        .collect()
}

/// The records' outcomes in order, intents included.
fn outcome_kinds(records: &[crate::audit::AuditRecord]) -> Vec<Outcome> {
    records.iter().map(|r| r.outcome).collect()
}

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": [scim_core::USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [
            {"primary": true, "value": user_name, "type": "work"},
            {"primary": false, "value": "other@example.com", "type": "home"}
        ],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "Pl4ceholder-pw!",
        "active": true
    })
}

/// A user as the target stores it.
fn stored_user(i: usize) -> Value {
    json!({
        "userName": format!("user{i:03}@example.com"),
        "name": {"givenName": "Given", "familyName": format!("Family{i:03}")},
        "displayName": format!("User {i}"),
        "emails": [{"value": format!("user{i:03}@example.com"), "primary": true}],
        "externalId": format!("okta-{i}"),
        "active": true
    })
}

fn seed_users(target: &ScriptedTargetClient, n: usize) -> Vec<String> {
    (0..n).map(|i| target.seed_user(stored_user(i))).collect()
}

fn patch_body(operations: Value) -> Value {
    json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations})
}

fn query(pairs: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_pairs(pairs.iter().copied()).unwrap()
}

fn members_of(body: &Value) -> Vec<String> {
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect()
}

fn resource_ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn oktas_create_reaches_the_target_without_password_or_groups_and_with_one_primary_email() {
    // Arrange
    let h = harness();

    // Act
    let reply = h
        .edge()
        .create(
            ResourceKind::User,
            okta_user("test.user@okta.local"),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let sent = h.target.calls()[0].body.clone().unwrap();
    assert!(sent.get("password").is_none() && sent.get("groups").is_none());
    assert_eq!(
        sent["emails"],
        json!([{"value": "test.user@okta.local", "type": "work", "primary": true}])
    );
    assert_eq!(reply.status, 201);
    let body = reply.body.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        reply.location.as_deref(),
        Some(format!("{BASE}/Users/{id}").as_str())
    );
    assert_eq!(body["meta"]["location"], format!("{BASE}/Users/{id}"));
    assert_eq!(body["active"], true);
    assert!(body.get("password").is_none());
}

#[tokio::test]
async fn creating_an_existing_user_name_is_a_409_uniqueness_error() {
    // Arrange
    let h = harness();
    h.edge()
        .create(ResourceKind::User, okta_user("dup@okta.local"), &h.ctx)
        .await
        .unwrap();

    // Act
    let error = h
        .edge()
        .create(ResourceKind::User, okta_user("DUP@okta.local"), &h.ctx)
        .await
        .unwrap_err();

    // Assert
    let scim = error.to_scim_error();
    assert_eq!(
        (scim.status, scim.scim_type),
        (409, Some(ScimType::Uniqueness))
    );
    let last = h.audit.records().pop().unwrap();
    assert_eq!(
        (last.outcome, last.status, last.target_status),
        (Outcome::Failure, 409, Some(409))
    );
}

#[tokio::test]
async fn oktas_path_less_deactivate_is_sent_as_a_replace_of_active_and_answers_the_whole_user() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));

    // Act
    let reply = h
        .edge()
        .patch(
            ResourceKind::User,
            &id,
            patch_body(json!([{"op": "replace", "value": {"active": false}}])),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let patch = h
        .target
        .calls()
        .into_iter()
        .find(|c| c.method == "patch_user")
        .unwrap();
    assert_eq!(
        patch.body.unwrap()["Operations"],
        json!([{"op": "replace", "path": "active", "value": false}])
    );
    assert_eq!(reply.status, 200);
    let body = reply.body.unwrap();
    assert_eq!(
        (body["active"].clone(), body["userName"].clone()),
        (json!(false), json!("user001@example.com"))
    );
    let record = h.audit.records().pop().unwrap();
    assert_eq!(record.changes.len(), 1);
    assert_eq!(
        (
            record.changes[0].before.clone(),
            record.changes[0].after.clone()
        ),
        (Some(json!(true)), Some(json!(false)))
    );
}

#[tokio::test]
async fn a_password_only_patch_changes_nothing_and_answers_the_user() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));

    // Act
    let reply = h
        .edge()
        .patch(
            ResourceKind::User,
            &id,
            patch_body(json!([{"op": "replace", "value": {"password": "n3w-Secret!"}}])),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    assert_eq!(reply.status, 200);
    assert!(h.target.writes().is_empty());
}

#[tokio::test]
async fn a_user_put_replaces_at_the_target_and_records_before_and_after() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));
    let mut body = okta_user("user001@example.com");
    body["title"] = json!("Engineer");
    body["id"] = json!(id);

    // Act
    let reply = h
        .edge()
        .replace(ResourceKind::User, &id, body, &h.ctx)
        .await
        .unwrap();

    // Assert
    assert_eq!(reply.body.unwrap()["title"], "Engineer");
    let replace = h.target.writes().pop().unwrap();
    assert_eq!(replace.method, "replace_user");
    assert!(replace.body.unwrap().get("password").is_none());
    let record = h.audit.records().pop().unwrap();
    assert!(
        record
            .changes
            .iter()
            .any(|c| c.attribute == "title" && c.after == Some(json!("Engineer")))
    );
}

#[tokio::test]
async fn a_put_whose_body_names_another_id_is_a_mutability_error_and_sends_nothing() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));
    let mut body = okta_user("user001@example.com");
    body["id"] = json!("someone-else");

    // Act
    let error = h
        .edge()
        .replace(ResourceKind::User, &id, body, &h.ctx)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(error.to_scim_error().scim_type, Some(ScimType::Mutability));
    assert!(h.target.calls().is_empty());
}

#[tokio::test]
async fn a_replace_of_150_members_is_sent_as_the_add_and_remove_difference() {
    // Arrange: 200 users, the group holds the first 100; Okta asks for users 50..200.
    let h = harness();
    let users = seed_users(&h.target, 200);
    let gid = h
        .target
        .seed_group(json!({"displayName": "Engineering"}), &users[..100]);
    let wanted: Vec<Value> = users[50..]
        .iter()
        .map(|id| json!({"value": id, "display": "x"}))
        .collect();

    // Act
    let reply = h
        .edge()
        .patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "replace", "path": "members", "value": wanted}])),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let writes = h.target.writes();
    assert_eq!(
        writes.iter().map(|c| c.method).collect::<Vec<_>>(),
        ["remove_group_members", "add_group_members"]
    );
    assert_eq!(writes[0].member_ids, users[..50]);
    assert_eq!(writes[1].member_ids, users[100..]);
    assert_eq!(h.target.members(&gid), users[50..]);
    assert_eq!(reply.status, 200);
    assert_eq!(members_of(reply.body.as_ref().unwrap()), users[50..]);
    let membership = h.audit.records().pop().unwrap().membership.unwrap();
    assert_eq!((membership.added, membership.removed), (100, 50));
}

#[tokio::test]
async fn oktas_group_push_rename_member_add_and_member_remove_by_filter() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 3);
    let gid = h
        .target
        .seed_group(json!({"displayName": "Old"}), &users[..1]);

    // Act: Okta's rename carries the group's id in the value (`docs/okta-client.md` §5).
    let renamed = h
        .edge()
        .patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "replace", "value": {"id": gid, "displayName": "New"}}])),
            &h.ctx,
        )
        .await
        .unwrap();
    let added = h
        .edge()
        .patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "add", "path": "members", "value": [{"value": users[1], "display": "U1"}, {"value": users[2]}]}])),
            &h.ctx,
        )
        .await
        .unwrap();
    let removed = h
        .edge()
        .patch(
            ResourceKind::Group,
            &gid,
            patch_body(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[0])}]),
            ),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert: each step is one request; the answers carry the group, not its members.
    let rename = h
        .target
        .calls()
        .into_iter()
        .find(|c| c.method == "patch_group")
        .unwrap();
    assert_eq!(
        rename.body.unwrap()["Operations"],
        json!([{"op": "replace", "path": "displayName", "value": "New"}])
    );
    assert_eq!(renamed.body.as_ref().unwrap()["displayName"], "New");
    assert_eq!(added.body.as_ref().unwrap()["displayName"], "New");
    assert!(added.body.as_ref().unwrap().get("members").is_none());
    assert!(removed.body.as_ref().unwrap().get("members").is_none());
    assert_eq!(h.target.members(&gid), users[1..]);
    let records = h.audit.records();
    let calls: Vec<u32> = outcomes(&records).iter().map(|r| r.target_calls).collect();
    assert_eq!(calls[calls.len() - 3..], [2, 1, 1]);
    // Each step's intent came before its one write: the rename's after its one read.
    let intent_calls: Vec<u32> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Intent)
        .map(|r| r.target_calls)
        .collect();
    assert_eq!(intent_calls[intent_calls.len() - 3..], [1, 0, 0]);
}

#[tokio::test]
async fn removing_all_members_removes_each_current_member_explicitly() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 3);
    let gid = h.target.seed_group(json!({"displayName": "G"}), &users);

    // Act
    let reply = h
        .edge()
        .patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "remove", "path": "members"}])),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let writes = h.target.writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].member_ids, users);
    assert!(members_of(reply.body.as_ref().unwrap()).is_empty());
}

#[tokio::test]
async fn a_group_put_becomes_a_rename_patch_and_membership_changes_keeping_the_id() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 3);
    let gid = h.target.seed_group(
        json!({"displayName": "Old", "externalId": "okta-g"}),
        &users[..2],
    );
    let body = json!({
        "schemas": [scim_core::GROUP_SCHEMA], "id": gid, "displayName": "New", "externalId": "okta-g",
        "members": [{"value": users[1], "display": "U1"}, {"value": users[2]}]
    });

    // Act
    let reply = h
        .edge()
        .replace(ResourceKind::Group, &gid, body, &h.ctx)
        .await
        .unwrap();

    // Assert
    let writes = h.target.writes();
    assert_eq!(
        writes.iter().map(|c| c.method).collect::<Vec<_>>(),
        ["patch_group", "remove_group_members", "add_group_members"]
    );
    // Three requests to the target, one intent before them, one outcome after.
    let records = h.audit.records();
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
    let membership = records[0].membership.clone().unwrap();
    assert_eq!((membership.added, membership.removed), (1, 1));
    assert_eq!(
        writes[0].body.clone().unwrap()["Operations"],
        json!([{"op": "replace", "path": "displayName", "value": "New"}])
    );
    assert_eq!(
        (writes[1].member_ids.clone(), writes[2].member_ids.clone()),
        (vec![users[0].clone()], vec![users[2].clone()])
    );
    let body = reply.body.unwrap();
    assert_eq!(
        (body["id"].as_str(), body["displayName"].as_str()),
        (Some(gid.as_str()), Some("New"))
    );
    assert_eq!(members_of(&body), users[1..]);
}

#[tokio::test]
async fn a_group_created_with_150_members_is_created_then_filled() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 150);
    let members: Vec<Value> = users
        .iter()
        .map(|id| json!({"value": id, "display": "d"}))
        .collect();

    // Act
    let reply = h
        .edge()
        .create(
            ResourceKind::Group,
            json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Big", "members": members}),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let writes = h.target.writes();
    assert_eq!(
        writes.iter().map(|c| c.method).collect::<Vec<_>>(),
        ["create_group", "add_group_members"]
    );
    assert_eq!(writes[1].member_ids.len(), 150);
    assert_eq!(reply.status, 201);
    // Two writes, one intent (naming the 150 members to add), then the outcome.
    let records = h.audit.records();
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
    assert_eq!(records[0].membership.as_ref().map(|m| m.added), Some(150));
    let gid = reply.body.as_ref().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(h.target.members(&gid).len(), 150);
    assert_eq!(reply.location, Some(format!("{BASE}/Groups/{gid}")));
}

#[tokio::test]
async fn oktas_group_push_create_with_no_members_is_one_call() {
    let h = harness();
    let reply = h
        .edge()
        .create(
            ResourceKind::Group,
            json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Push", "members": []}),
            &h.ctx,
        )
        .await
        .unwrap();
    assert_eq!(h.target.writes().len(), 1);
    assert_eq!(reply.body.unwrap()["members"], json!([]));
}

#[tokio::test]
async fn getting_a_group_lists_its_members_only_when_they_are_asked_for() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 2);
    let gid = h.target.seed_group(json!({"displayName": "G"}), &users);

    // Act
    let full = h
        .edge()
        .get(ResourceKind::Group, &gid, Some("members"), None, &h.ctx)
        .await
        .unwrap();
    h.target.clear_calls();
    let lean = h
        .edge()
        .get(ResourceKind::Group, &gid, None, None, &h.ctx)
        .await
        .unwrap();

    // Assert
    assert_eq!(members_of(full.body.as_ref().unwrap()), users);
    assert!(lean.body.unwrap().get("members").is_none());
    assert_eq!(h.audit.records().last().unwrap().target_calls, 1);
    assert!(
        h.target
            .calls()
            .iter()
            .all(|c| c.method != "list_group_member_ids")
    );
}

#[tokio::test]
async fn paging_250_users_with_start_index_and_count_returns_each_user_once_with_integer_totals() {
    // Arrange
    let h = harness();
    let mut users = seed_users(&h.target, 250);
    users.sort();

    // Act
    let mut seen = Vec::new();
    for start in ["1", "101", "201"] {
        let reply = h
            .edge()
            .list(
                ResourceKind::User,
                query(&[("startIndex", start), ("count", "100")]),
                &h.ctx,
            )
            .await
            .unwrap();
        let body = reply.body.unwrap();
        assert_eq!(body["totalResults"], json!(250));
        assert_eq!(body["startIndex"], json!(start.parse::<u64>().unwrap()));
        assert!(body["itemsPerPage"].is_u64());
        assert_eq!(body["schemas"], json!([scim_core::LIST_RESPONSE_SCHEMA]));
        seen.extend(resource_ids(&body));
    }

    // Assert
    assert_eq!(seen, users);
}

#[tokio::test]
async fn count_zero_answers_only_the_total() {
    let h = harness();
    seed_users(&h.target, 7);
    let body = h
        .edge()
        .list(ResourceKind::User, query(&[("count", "0")]), &h.ctx)
        .await
        .unwrap()
        .body
        .unwrap();
    assert_eq!(
        (body["totalResults"].clone(), body["Resources"].clone()),
        (json!(7), json!([]))
    );
}

#[tokio::test]
async fn oktas_user_name_lookup_is_asked_of_the_target_and_matches_without_regard_to_case() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 3);

    // Act
    let found = h
        .edge()
        .list(
            ResourceKind::User,
            query(&[
                ("filter", "userName eq \"USER001@example.com\""),
                ("startIndex", "1"),
                ("count", "100"),
            ]),
            &h.ctx,
        )
        .await
        .unwrap();
    let missing = h
        .edge()
        .list(
            ResourceKind::User,
            query(&[("filter", "userName eq \"nobody@x\"")]),
            &h.ctx,
        )
        .await
        .unwrap();

    // Assert
    let list = h
        .target
        .calls()
        .into_iter()
        .find(|c| c.method == "list_users")
        .unwrap();
    assert_eq!(
        list.filter.as_deref(),
        Some("userName eq \"USER001@example.com\"")
    );
    assert_eq!(
        resource_ids(found.body.as_ref().unwrap()),
        [users[1].clone()]
    );
    let missing = missing.body.unwrap();
    assert_eq!(
        (
            missing["totalResults"].clone(),
            missing["Resources"].clone()
        ),
        (json!(0), json!([]))
    );
}

#[tokio::test]
async fn filters_the_target_cannot_answer_are_evaluated_by_the_gateway_over_the_whole_listing() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 30);

    // Act / Assert
    for (filter, expected) in [
        ("userName sw \"user00\"", users[..10].to_vec()),
        (
            "userName eq \"user001@example.com\" or externalId eq \"okta-2\"",
            users[1..3].to_vec(),
        ),
        (
            "emails[value co \"user02\"] and not (name.familyName eq \"Family021\")",
            [&users[20..21], &users[22..30]].concat(),
        ),
        ("displayName pr and active eq false", vec![]),
    ] {
        h.target.clear_calls();
        let body = h
            .edge()
            .list(ResourceKind::User, query(&[("filter", filter)]), &h.ctx)
            .await
            .unwrap()
            .body
            .unwrap();
        let mut ids = resource_ids(&body);
        ids.sort();
        assert_eq!(ids, expected, "{filter}");
        assert_eq!(
            h.target.calls()[0].filter,
            None,
            "{filter}: the whole listing is read"
        );
    }
}

#[tokio::test]
async fn a_membership_filter_is_answered_by_the_target_and_others_on_members_are_refused() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 3);
    let gid = h
        .target
        .seed_group(json!({"displayName": "G"}), &users[1..]);

    // Act
    let in_group = h
        .edge()
        .list(
            ResourceKind::User,
            query(&[("filter", &format!("groups.value eq \"{gid}\""))]),
            &h.ctx,
        )
        .await
        .unwrap();
    h.target.clear_calls();
    let refused = h
        .edge()
        .list(
            ResourceKind::Group,
            query(&[("filter", "members.value co \"u\"")]),
            &h.ctx,
        )
        .await
        .unwrap_err();

    // Assert
    let mut ids = resource_ids(in_group.body.as_ref().unwrap());
    ids.sort();
    assert_eq!(ids, users[1..]);
    assert_eq!(
        refused.to_scim_error().scim_type,
        Some(ScimType::InvalidFilter)
    );
    assert!(h.target.calls().is_empty());
}

#[tokio::test]
async fn listing_groups_fills_members_only_when_attributes_ask_for_them() {
    // Arrange
    let h = harness();
    let users = seed_users(&h.target, 2);
    let gid = h.target.seed_group(json!({"displayName": "G"}), &users);

    // Act
    let plain = h
        .edge()
        .list(ResourceKind::Group, ListQuery::default(), &h.ctx)
        .await
        .unwrap()
        .body
        .unwrap();
    let calls_for_plain = h.target.calls().len();
    let with = h
        .edge()
        .list(
            ResourceKind::Group,
            query(&[("attributes", "displayName,members")]),
            &h.ctx,
        )
        .await
        .unwrap()
        .body
        .unwrap();

    // Assert
    assert_eq!(calls_for_plain, 1);
    assert!(plain["Resources"][0].get("members").is_none());
    assert_eq!(with["Resources"][0]["id"], json!(gid));
    assert_eq!(members_of(&with["Resources"][0]), users);
    assert!(
        with["Resources"][0].get("meta").is_none(),
        "attributes select, meta is not always returned"
    );
}

#[tokio::test]
async fn cursor_paging_is_refused_rather_than_truncated() {
    let h = harness();
    let error = h
        .edge()
        .list(ResourceKind::User, query(&[("cursor", "")]), &h.ctx)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 400);
    assert!(h.target.calls().is_empty());
}

#[tokio::test]
async fn refused_input_never_reaches_the_target() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));
    let gid = h.target.seed_group(json!({"displayName": "G"}), &[]);
    let mut no_given_name = okta_user("a@x");
    no_given_name["name"] = json!({"familyName": "F"});
    let s = h.edge();
    let c = &h.ctx;

    // Act
    let errors = vec![
        s.create(ResourceKind::User, no_given_name, c)
            .await
            .unwrap_err(),
        s.create(ResourceKind::User, json!("not an object"), c)
            .await
            .unwrap_err(),
        s.create(ResourceKind::User, json!({"userName": 5}), c)
            .await
            .unwrap_err(),
        s.create(
            ResourceKind::Group,
            json!({"displayName": "G2", "members": [{"value": gid, "type": "Group"}]}),
            c,
        )
        .await
        .unwrap_err(),
        s.patch(
            ResourceKind::User,
            &id,
            patch_body(json!([{"op": "replace", "path": "favoriteColor", "value": "x"}])),
            c,
        )
        .await
        .unwrap_err(),
        s.patch(ResourceKind::User, &id, json!({"Operations": []}), c)
            .await
            .unwrap_err(),
        s.patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "remove", "path": "members[value sw \"u\"]"}])),
            c,
        )
        .await
        .unwrap_err(),
        s.get(ResourceKind::User, "../../admin", None, None, c)
            .await
            .unwrap_err(),
        s.get(ResourceKind::User, "a%2Fb", None, None, c)
            .await
            .unwrap_err(),
        s.delete(ResourceKind::Group, "..", c).await.unwrap_err(),
        s.get(ResourceKind::User, &id, Some("1bad"), None, c)
            .await
            .unwrap_err(),
    ];

    // Assert
    assert!(h.target.calls().is_empty(), "{:?}", h.target.calls());
    for error in &errors {
        assert!((400..500).contains(&error.status()), "{error:?}");
    }
    let records = h.audit.records();
    assert_eq!(records.len(), errors.len());
    assert!(
        records
            .iter()
            .all(|r| r.outcome == Outcome::Refused && r.target_calls == 0 && r.error.is_some())
    );
}

#[tokio::test]
async fn an_unknown_id_is_404_after_asking_the_target() {
    let h = harness();
    let error = h
        .edge()
        .get(ResourceKind::User, "u-999999", None, None, &h.ctx)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 404);
    assert_eq!(h.audit.records()[0].outcome, Outcome::Failure);
}

#[tokio::test]
async fn delete_answers_204_and_a_second_delete_404() {
    // Arrange
    let h = harness();
    let id = h.target.seed_user(stored_user(1));

    // Act
    let first = h
        .edge()
        .delete(ResourceKind::User, &id, &h.ctx)
        .await
        .unwrap();
    let second = h
        .edge()
        .delete(ResourceKind::User, &id, &h.ctx)
        .await
        .unwrap_err();

    // Assert
    assert_eq!((first.status, first.body), (204, None));
    assert_eq!(second.status(), 404);
    let record = &h.audit.records()[0];
    assert_eq!(
        (record.operation, record.subject.name.as_deref()),
        (AuditOperation::Delete, Some("user001@example.com"))
    );
}

#[tokio::test]
async fn target_failures_are_rfc_errors_and_audited_as_failures() {
    // Arrange
    let h = harness();
    h.target.fail_next(
        "create_user",
        TargetError::Rejected {
            status: 503,
            scim_type: None,
            detail: "internal at 10.1.2.3".into(),
        },
    );
    h.target.fail_next("list_users", TargetError::Timeout);
    h.target.fail_next(
        "list_users",
        TargetError::Throttled {
            retry_after: Some(Duration::from_secs(4)),
        },
    );

    // Act
    let failed = h
        .edge()
        .create(ResourceKind::User, okta_user("a@x"), &h.ctx)
        .await
        .unwrap_err();
    let timed_out = h
        .edge()
        .list(ResourceKind::User, ListQuery::default(), &h.ctx)
        .await
        .unwrap_err();
    let throttled = h
        .edge()
        .list(ResourceKind::User, ListQuery::default(), &h.ctx)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(failed.status(), 502);
    assert!(!failed.to_scim_error().detail.contains("10.1.2.3"));
    assert_eq!(timed_out.status(), 504);
    assert_eq!(
        (throttled.status(), throttled.retry_after()),
        (429, Some(Duration::from_secs(4)))
    );
    let records = h.audit.records();
    assert_eq!(
        outcome_kinds(&records),
        [
            Outcome::Intent,
            Outcome::Failure,
            Outcome::Failure,
            Outcome::Failure
        ]
    );
    assert_eq!(records[1].target_status, Some(503));
    assert_eq!(records[3].target_status, Some(429));
}

#[tokio::test]
async fn every_request_gets_one_audit_record_with_actor_source_and_rule_set() {
    // Arrange
    let h = harness();

    // Act
    let created = h
        .edge()
        .create(ResourceKind::User, okta_user("a@x"), &h.ctx)
        .await
        .unwrap();
    let id = created.body.unwrap()["id"].as_str().unwrap().to_owned();
    h.edge()
        .get(ResourceKind::User, &id, None, None, &h.ctx)
        .await
        .unwrap();
    h.edge()
        .list(
            ResourceKind::User,
            query(&[("filter", "userName eq \"a@x\"")]),
            &h.ctx,
        )
        .await
        .unwrap();
    h.edge()
        .patch(
            ResourceKind::User,
            &id,
            patch_body(json!([{"op": "replace", "value": {"active": false}}])),
            &h.ctx,
        )
        .await
        .unwrap();
    h.edge()
        .delete(ResourceKind::User, &id, &h.ctx)
        .await
        .unwrap();

    // Assert
    let all = h.audit.records();
    let ops: Vec<(AuditOperation, Outcome)> =
        all.iter().map(|r| (r.operation, r.outcome)).collect();
    use AuditOperation::*;
    use Outcome::{Intent, Success};
    assert_eq!(
        ops,
        [
            (Create, Intent),
            (Create, Success),
            (Get, Success),
            (List, Success),
            (Patch, Intent),
            (Patch, Success),
            (Delete, Intent),
            (Delete, Success)
        ]
    );
    let records = outcomes(&all);
    let create = records[0];
    assert_eq!(create.actor.credential, "scim-token:primary");
    assert_eq!(
        create.actor.user_agent.as_deref(),
        Some("Okta SCIM Client 1.0.0")
    );
    assert_eq!(
        create.source,
        crate::audit::AuditSource::Scim {
            method: "POST".into(),
            path: "/Users".into()
        }
    );
    assert_eq!(
        records[1].source,
        crate::audit::AuditSource::Scim {
            method: "GET".into(),
            path: "/Users/{id}".into()
        }
    );
    assert_eq!(
        create.subject.external_id.as_deref(),
        Some("00ujl29u0le5T6Aj10h7")
    );
    assert_eq!(create.subject.target_id.as_deref(), Some(id.as_str()));
    assert_eq!(create.rule_set_version, "identity");
    assert_eq!(
        (create.status, create.target_status, create.outcome),
        (201, Some(201), Outcome::Success)
    );
    assert_eq!(create.correlation_id, "req-1");
    assert_eq!(create.time, datetime!(2024-04-05 06:32:12 UTC));
    assert_eq!(records[2].query.as_ref().unwrap().total_results, Some(1));
}

#[tokio::test]
async fn no_audit_record_ever_holds_a_password() {
    // Arrange
    let h = harness();
    let secrets = [
        "Pl4ceholder-pw!",
        "Patch-Secret-1",
        "Path-Secret-2",
        "Bad-Type-Secret-3",
    ];
    let id = h.target.seed_user(stored_user(1));

    // Act: creates, password PATCHes in both forms, and refusals that could echo input.
    h.edge()
        .create(ResourceKind::User, okta_user("a@x"), &h.ctx)
        .await
        .unwrap();
    h.edge()
        .create(ResourceKind::User, okta_user("a@x"), &h.ctx)
        .await
        .unwrap_err();
    let mut bad = okta_user("b@x");
    bad["active"] = json!("Bad-Type-Secret-3");
    bad["password"] = json!("Bad-Type-Secret-3");
    h.edge()
        .create(ResourceKind::User, bad, &h.ctx)
        .await
        .unwrap_err();
    h.edge()
        .patch(
            ResourceKind::User,
            &id,
            patch_body(
                json!([{"op": "replace", "value": {"password": "Patch-Secret-1", "title": "x"}}]),
            ),
            &h.ctx,
        )
        .await
        .unwrap();
    h.edge()
        .patch(
            ResourceKind::User,
            &id,
            patch_body(json!([{"op": "replace", "path": "password", "value": "Path-Secret-2"}])),
            &h.ctx,
        )
        .await
        .unwrap();
    h.edge()
        .patch(ResourceKind::User, &id, patch_body(json!([{"op": "replace", "path": "active", "value": "Patch-Secret-1"}, {"op": "replace", "path": "password", "value": "Patch-Secret-1"}])), &h.ctx)
        .await
        .unwrap_err();

    // Assert
    let records = h.audit.records();
    assert_eq!(outcomes(&records).len(), 6);
    // The creates and the title change reached the target, each after its intent.
    assert_eq!(records.len() - outcomes(&records).len(), 3);
    let text = serde_json::to_string(&records).unwrap();
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
    assert!(
        !text.to_ascii_lowercase().contains("\"password\""),
        "{text}"
    );
}

/// The trail over the in-memory ledger, which goes down once it has taken an intent
/// record: the store fails between a change's intent and its outcome.
struct DownAfterTheIntent(Arc<crate::audit_store::InMemoryAuditStore>);

#[async_trait::async_trait]
impl AuditLog for DownAfterTheIntent {
    async fn append(&self, record: crate::audit::AuditRecord) -> Result<(), AuditError> {
        let intent = record.outcome == Outcome::Intent;
        let appended = self.0.append(record).await;
        if intent {
            self.0.ledger().backend().set_down(true);
        }
        appended
    }

    async fn append_or_keep(
        &self,
        record: crate::audit::AuditRecord,
    ) -> Result<crate::audit::Appended, AuditError> {
        self.0.append_or_keep(record).await
    }
}

/// A service whose trail goes down once it has taken an intent, and the trail.
fn service_whose_trail_fails_after_the_intent() -> (
    ScimService,
    Arc<ScriptedTargetClient>,
    Arc<crate::audit_store::InMemoryAuditStore>,
) {
    let target = Arc::new(ScriptedTargetClient::new());
    let store = Arc::new(
        crate::audit_store::InMemoryAuditStore::ephemeral(
            Arc::new(crate::SystemClock),
            time::Duration::days(400),
        )
        .unwrap(),
    );
    let service = ScimService::new(
        target.clone(),
        Arc::new(IdentityRules::new()),
        Arc::new(DownAfterTheIntent(store.clone())),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    (service, target, store)
}

/// The trail's records, oldest first, once it verifies intact.
async fn verified_trail(
    store: &crate::audit_store::InMemoryAuditStore,
) -> Vec<crate::audit::AuditRecord> {
    let now = time::OffsetDateTime::now_utc();
    let report = store
        .verify(
            now - time::Duration::hours(1),
            now + time::Duration::minutes(1),
        )
        .await
        .unwrap();
    assert!(report.intact, "{report:#?}");
    let page = store
        .query(&crate::audit_store::AuditQuery::default())
        .await
        .unwrap();
    page.records.into_iter().map(|r| r.record).collect()
}

#[tokio::test]
async fn an_outcome_the_trail_cannot_take_after_the_change_is_kept_and_written_when_it_answers_again()
 {
    // Arrange: the trail takes the intent, then goes down for longer than an append's
    // own retries.
    let (service, target, store) = service_whose_trail_fails_after_the_intent();
    let ctx = harness().ctx;

    // Act: the request is answered while the trail is down; then the trail is back.
    let reply = Edge(&service)
        .create(ResourceKind::User, okta_user("a@x"), &ctx)
        .await
        .unwrap();
    let kept_while_down = store.ledger().owed();
    store.ledger().backend().set_down(false);
    let left = store.ledger().settle_owed().await;

    // Assert: answered, counted, kept, then written: one intent and one outcome.
    assert_eq!(reply.status, 201);
    assert_eq!(target.writes().len(), 1);
    assert_eq!(service.take_audit_append_failures(), 1);
    assert_eq!((kept_while_down, left), (1, 0));
    let records = verified_trail(&store).await;
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
    assert!(
        records
            .iter()
            .all(|r| r.correlation_id == ctx.correlation_id)
    );
}

#[tokio::test]
async fn an_events_outcome_the_trail_cannot_take_after_the_change_is_kept_and_the_event_applied() {
    // Arrange
    let (service, target, store) = service_whose_trail_fails_after_the_intent();
    let ctx = harness().ctx;

    // Act: the event is applied while the trail is down; then the trail is back.
    let verdict = service
        .converge(
            converge::Convergence::Group(group_intent("00g1", "Eng")),
            &ctx,
            true,
        )
        .await;
    let kept_while_down = store.ledger().owed();
    store.ledger().backend().set_down(false);
    let left = store.ledger().settle_owed().await;

    // Assert: applied (not tried again, which would record a later attempt instead of
    // the change), its outcome kept, then written.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(methods(target.calls()), ["create_group"]);
    assert_eq!((kept_while_down, left), (1, 0));
    let records = verified_trail(&store).await;
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
}

#[tokio::test]
async fn a_failed_outcome_append_after_the_change_is_counted_and_does_not_change_the_answer() {
    // Arrange: the trail takes the intent, then fails.
    let target = Arc::new(ScriptedTargetClient::new());
    let audit = Arc::new(FailingAuditLog::outcomes_only());
    let service = ScimService::new(
        target.clone(),
        Arc::new(IdentityRules::new()),
        audit.clone(),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    let ctx = harness().ctx;

    // Act
    let reply = Edge(&service)
        .create(ResourceKind::User, okta_user("a@x"), &ctx)
        .await
        .unwrap();

    // Assert
    assert_eq!(reply.status, 201);
    assert_eq!(audit.attempts(), 2);
    assert_eq!(outcome_kinds(&audit.kept()), [Outcome::Intent]);
    assert_eq!(target.writes().len(), 1);
    assert_eq!(service.take_audit_append_failures(), 1);
    assert_eq!(service.take_audit_append_failures(), 0, "taking resets");
}

#[tokio::test]
async fn with_the_trail_refusing_writes_no_change_reaches_the_target_and_reads_still_answer() {
    // Arrange
    let target = Arc::new(ScriptedTargetClient::new());
    let uid = target.seed_user(stored_user(1));
    let gid = target.seed_group(json!({"displayName": "G"}), std::slice::from_ref(&uid));
    let audit = Arc::new(FailingAuditLog::default());
    let service = ScimService::new(
        target.clone(),
        Arc::new(IdentityRules::new()),
        audit.clone(),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    let ctx = harness().ctx;
    let edge = Edge(&service);
    let group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "H"});

    // Act
    let writes = [
        edge.create(ResourceKind::User, okta_user("a@x"), &ctx)
            .await,
        edge.create(ResourceKind::Group, group.clone(), &ctx).await,
        edge.replace(ResourceKind::User, &uid, okta_user("b@x"), &ctx)
            .await,
        edge.replace(ResourceKind::Group, &gid, group, &ctx).await,
        edge.patch(
            ResourceKind::User,
            &uid,
            patch_body(json!([{"op": "replace", "path": "active", "value": false}])),
            &ctx,
        )
        .await,
        edge.patch(
            ResourceKind::Group,
            &gid,
            patch_body(json!([{"op": "remove", "path": "members"}])),
            &ctx,
        )
        .await,
        edge.delete(ResourceKind::User, &uid, &ctx).await,
        edge.delete(ResourceKind::Group, &gid, &ctx).await,
    ];
    let get = edge.get(ResourceKind::User, &uid, None, None, &ctx).await;
    let list = edge
        .list(ResourceKind::Group, ListQuery::default(), &ctx)
        .await;

    // Assert
    for answer in writes {
        let error = answer.unwrap_err();
        assert!(
            matches!(error, GatewayError::AuditUnavailable(_)),
            "{error:?}"
        );
        assert_eq!(
            (error.status(), error.retry_after()),
            (503, Some(AUDIT_RETRY_AFTER))
        );
    }
    assert!(
        target.writes().is_empty(),
        "nothing was changed: {:?}",
        target.writes()
    );
    assert_eq!(get.unwrap().status, 200);
    assert_eq!(list.unwrap().status, 200);
    // Each write: its intent and its failure record refused; each read: its record.
    assert_eq!(audit.attempts(), 8 * 2 + 2);
    assert_eq!(service.take_audit_append_failures(), 8 * 2 + 2);
}

#[tokio::test]
async fn a_change_has_one_intent_then_one_outcome_with_the_same_correlation_id() {
    // Arrange
    let h = harness();

    // Act
    let reply = h
        .edge()
        .create(ResourceKind::User, okta_user("ada@x"), &h.ctx)
        .await
        .unwrap();

    // Assert
    let records = h.audit.records();
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
    let (intent, outcome) = (&records[0], &records[1]);
    assert_eq!(intent.correlation_id, outcome.correlation_id);
    assert_eq!(
        (intent.status, intent.target_status, intent.target_calls),
        (crate::audit::INTENT_STATUS, None, 0)
    );
    assert_eq!(intent.operation, AuditOperation::Create);
    assert_eq!(intent.subject.name.as_deref(), Some("ada@x"));
    assert_eq!(intent.subject.target_id, None, "not created yet");
    assert!(
        intent.changes.iter().any(|c| c.attribute == "userName"),
        "{:?}",
        intent.changes
    );
    assert_eq!(
        outcome.subject.target_id.as_deref(),
        reply.body.unwrap()["id"].as_str()
    );
}

/// Log lines written while a test runs, for what they must and must not say.
#[derive(Clone, Default)]
struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_audit_write_logs_ids_only_never_the_records_personal_data() {
    // Arrange: the log of this thread (a current-thread runtime keeps the test on it).
    let captured = CapturedLog::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let service = ScimService::new(
        Arc::new(ScriptedTargetClient::new()),
        Arc::new(IdentityRules::new()),
        Arc::new(FailingAuditLog::outcomes_only()),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    let ctx = harness().ctx;

    // Act: the intent is taken, the outcome after the create is not.
    let reply = Edge(&service)
        .create(
            ResourceKind::User,
            okta_user("grace.hopper@example.com"),
            &ctx,
        )
        .await
        .unwrap();

    // Assert
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        log.contains("the audit record could not be written"),
        "{log}"
    );
    assert!(log.contains(&ctx.correlation_id), "{log}");
    let body = reply.body.unwrap();
    let id = body["id"].as_str().unwrap();
    assert!(
        log.contains(id),
        "the target id finds the operation again: {log}"
    );
    assert!(
        !log.contains("grace.hopper"),
        "no user name in the log: {log}"
    );
}

#[tokio::test]
async fn without_rules_writes_fail_and_reads_still_answer() {
    // Arrange
    let target = Arc::new(ScriptedTargetClient::new());
    let audit = Arc::new(InMemoryAuditLog::new());
    let service = ScimService::new(
        target.clone(),
        Arc::new(UnavailableRules),
        audit.clone(),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    let ctx = harness().ctx;

    // Act
    let write = Edge(&service)
        .create(ResourceKind::User, okta_user("a@x"), &ctx)
        .await
        .unwrap_err();
    let read = Edge(&service)
        .list(ResourceKind::User, ListQuery::default(), &ctx)
        .await
        .unwrap();

    // Assert
    assert_eq!(write.status(), 500);
    assert_eq!(read.status, 200);
    assert!(target.writes().is_empty());
    assert!(
        audit
            .records()
            .iter()
            .all(|r| r.rule_set_version == "unavailable")
    );
}

#[test]
fn the_use_case_futures_are_send_so_axum_handlers_can_await_them() {
    fn assert_send<T: Send>(_: &T) {}
    let h = harness();
    let (s, c) = (h.edge(), &h.ctx);
    assert_send(&s.list(ResourceKind::User, ListQuery::default(), c));
    assert_send(&s.get(ResourceKind::Group, "g", None, None, c));
    assert_send(&s.create(ResourceKind::User, Value::Null, c));
    assert_send(&s.replace(ResourceKind::Group, "g", Value::Null, c));
    assert_send(&s.patch(ResourceKind::Group, "g", Value::Null, c));
    assert_send(&s.delete(ResourceKind::User, "u", c));
    fn assert_shareable<T: Send + Sync>() {}
    assert_shareable::<ScimService>();
}

#[tokio::test]
async fn an_event_that_creates_a_user_and_its_group_writes_one_intent_for_both() {
    // Arrange: neither is in Identity Center yet.
    let h = harness();
    let user = scim_core::User::from_value(okta_user("ada@x")).unwrap();
    let group = scim_core::Group::from_value(json!({
        "schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng", "externalId": "00g1"
    }))
    .unwrap();
    let membership = converge::Convergence::Membership {
        user: converge::Intent {
            okta_id: "00ujl29u0le5T6Aj10h7".into(),
            desired: converge::Desired::Present(Box::new(user)),
        },
        group: converge::Intent {
            okta_id: "00g1".into(),
            desired: converge::Desired::Present(Box::new(group)),
        },
        member: true,
        also: Vec::new(),
    };

    // Act
    let verdict = h.service.converge(membership, &h.ctx, true).await.unwrap();

    // Assert
    assert_eq!(verdict, converge::EventVerdict::Applied);
    assert_eq!(
        h.target
            .writes()
            .iter()
            .map(|c| c.method)
            .collect::<Vec<_>>(),
        ["create_user", "create_group"]
    );
    let records = h.audit.records();
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
}

/// A user event for Okta user `00u1` with `user_name`.
fn user_event(user_name: &str) -> converge::Convergence {
    let mut user = okta_user(user_name);
    user["externalId"] = json!("00u1");
    converge::Convergence::User(converge::Intent {
        okta_id: "00u1".into(),
        desired: converge::Desired::Present(Box::new(scim_core::User::from_value(user).unwrap())),
    })
}

fn methods(calls: Vec<crate::testing::TargetCall>) -> Vec<&'static str> {
    calls.iter().map(|c| c.method).collect()
}

#[tokio::test]
async fn a_user_or_group_new_to_the_gateway_costs_one_request() {
    let h = harness();
    let group = converge::Convergence::Group(converge::Intent {
        okta_id: "00g1".into(),
        desired: converge::Desired::Present(Box::new(
            scim_core::Group::from_value(json!({
                "schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng", "externalId": "00g1"
            }))
            .unwrap(),
        )),
    });

    let user = h.service.converge(user_event("ada@x"), &h.ctx, true).await;
    let user_calls = h.target.calls();
    h.target.clear_calls();
    let group = h.service.converge(group, &h.ctx, true).await;

    assert_eq!(user.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(group.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(methods(user_calls), ["create_user"]);
    assert_eq!(methods(h.target.calls()), ["create_group"]);
    // Known now: the next event of the user looks it up, and changes nothing.
    h.target.clear_calls();
    let again = h.service.converge(user_event("ada@x"), &h.ctx, true).await;
    assert_eq!(
        again.unwrap(),
        converge::EventVerdict::Skipped("already in step".into())
    );
    assert!(!methods(h.target.calls()).contains(&"create_user"));
    assert_eq!(h.target.writes().len(), 0);
}

#[tokio::test]
async fn a_user_made_outside_the_gateway_is_adopted_once_the_create_is_refused() {
    // Arrange: Identity Center has `ada@x` without an externalId; the mirror knows nothing.
    let h = harness();
    let mut theirs = stored_user(1);
    theirs.as_object_mut().unwrap().remove("externalId");
    let id = h.target.seed_user(theirs);

    // Act
    let verdict = h
        .service
        .converge(user_event("user001@example.com"), &h.ctx, true)
        .await;

    // Assert: created first (refused: the name is taken), then found by name and adopted.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let calls = methods(h.target.calls());
    assert_eq!(calls.first(), Some(&"create_user"), "{calls:?}");
    assert_eq!(calls.iter().filter(|m| **m == "create_user").count(), 1);
    let (stored, users) = user_by_okta_id(&h.target).await;
    assert_eq!(stored, id, "the existing user was adopted");
    assert_eq!(users, 1, "not a second one made");
    let records = h.audit.records();
    assert_eq!(records.last().unwrap().outcome, Outcome::Success);
}

/// The id of the user the target holds for Okta's `00u1`, and how many it holds.
async fn user_by_okta_id(target: &ScriptedTargetClient) -> (String, usize) {
    let by = scim_core::parse_filter("externalId eq \"00u1\"").unwrap();
    let users = target
        .list_users(Some(&by), crate::Deadline::default())
        .await
        .unwrap();
    let all = target
        .list_users(None, crate::Deadline::default())
        .await
        .unwrap();
    (
        users
            .first()
            .and_then(|u| u.id())
            .unwrap_or_default()
            .to_owned(),
        all.len(),
    )
}

/// A membership event for Okta user `00u1` (`ada@x`) in Okta group `00g1` (`Eng`).
fn membership_event(member: bool) -> converge::Convergence {
    let mut user = okta_user("ada@x");
    user["externalId"] = json!("00u1");
    let user = scim_core::User::from_value(user).unwrap();
    let group = scim_core::Group::from_value(json!({
        "schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng", "externalId": "00g1"
    }))
    .unwrap();
    converge::Convergence::Membership {
        user: converge::Intent {
            okta_id: "00u1".into(),
            desired: converge::Desired::Present(Box::new(user)),
        },
        group: converge::Intent {
            okta_id: "00g1".into(),
            desired: converge::Desired::Present(Box::new(group)),
        },
        member,
        also: Vec::new(),
    }
}

/// The ids of the user and group the target holds for Okta's `00u1` and `00g1` (the
/// look-ups are calls of their own: read after the calls a test asserts).
async fn user_and_group(target: &ScriptedTargetClient) -> (String, String) {
    let by =
        |okta_id: &str| scim_core::parse_filter(&format!("externalId eq \"{okta_id}\"")).unwrap();
    let users = target
        .list_users(Some(&by("00u1")), crate::Deadline::default())
        .await
        .unwrap();
    let groups = target
        .list_groups(Some(&by("00g1")), crate::Deadline::default())
        .await
        .unwrap();
    let id = |id: Option<&str>| id.unwrap().to_owned();
    (
        id(users.first().and_then(|u| u.id())),
        id(groups.first().and_then(|g| g.id())),
    )
}

#[tokio::test]
async fn a_membership_event_for_a_mirrored_user_and_group_costs_one_request() {
    // Arrange: the first event creates both, and the mirror learns them.
    let h = harness();
    h.service
        .converge(membership_event(true), &h.ctx, true)
        .await
        .unwrap();
    let (user_id, group_id) = user_and_group(&h.target).await;
    h.target.clear_calls();

    // Act: removed, then added again.
    let removed = h
        .service
        .converge(membership_event(false), &h.ctx, true)
        .await;
    let removed_calls = h.target.calls();
    h.target.clear_calls();
    let added = h
        .service
        .converge(membership_event(true), &h.ctx, true)
        .await;

    // Assert: each is the membership call alone, no look-up.
    assert_eq!(removed.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(added.unwrap(), converge::EventVerdict::Applied);
    let methods =
        |calls: Vec<crate::testing::TargetCall>| calls.iter().map(|c| c.method).collect::<Vec<_>>();
    assert_eq!(methods(removed_calls), ["remove_group_members"]);
    assert_eq!(methods(h.target.calls()), ["add_group_members"]);
    assert_eq!(h.target.members(&group_id), [user_id]);
}

#[tokio::test]
async fn a_membership_of_a_user_and_group_new_to_the_gateway_creates_both_without_a_look_up() {
    // Arrange: an empty Identity Center, an empty mirror (the membership arrived before
    // the user's and the group's own creation events were applied).
    let h = harness();

    // Act
    let verdict = h
        .service
        .converge(membership_event(true), &h.ctx, true)
        .await;

    // Assert: two requests, where looking each up by externalId and by name first
    // took six; the group is created with its member in it.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(methods(h.target.calls()), ["create_user", "create_group"]);
    let (user_id, group_id) = user_and_group(&h.target).await;
    assert_eq!(h.target.members(&group_id), [user_id]);
}

#[tokio::test]
async fn a_membership_of_a_group_made_meanwhile_adds_the_member_to_that_group_once() {
    // Arrange: the user is known; the group was created by another event the mirror
    // has not heard of (another worker, another instance).
    let h = harness();
    h.service
        .converge(user_event("ada@x"), &h.ctx, true)
        .await
        .unwrap();
    let theirs = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng",
                        "externalId": "00g1"});
    let group_id = h.target.seed_group(theirs, &[]);
    h.target.clear_calls();

    // Act
    let verdict = h
        .service
        .converge(membership_event(true), &h.ctx, true)
        .await;

    // Assert: the create is refused (the name is taken), the group found by its
    // externalId and the member added to it; no second group.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let calls = methods(h.target.calls());
    assert_eq!(calls, ["create_group", "list_groups", "add_group_members"]);
    let (user_id, found) = user_and_group(&h.target).await;
    assert_eq!(found, group_id);
    assert_eq!(h.target.members(&group_id), [user_id]);
    let all = h
        .target
        .list_groups(None, crate::Deadline::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn a_membership_removal_of_a_group_new_to_the_gateway_still_looks_it_up() {
    // Arrange: Identity Center holds the membership; the mirror knows neither side.
    let h = harness();
    let mut user = stored_user(1);
    user["externalId"] = json!("00u1");
    user["userName"] = json!("ada@x");
    let user_id = h.target.seed_user(user);
    let group = json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Eng",
                       "externalId": "00g1"});
    let group_id = h.target.seed_group(group, std::slice::from_ref(&user_id));

    // Act
    let verdict = h
        .service
        .converge(membership_event(false), &h.ctx, true)
        .await;

    // Assert: nothing is created for a removal; both are looked up and the member goes.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let writes: Vec<_> = h.target.writes().iter().map(|c| c.method).collect();
    assert_eq!(writes, ["remove_group_members"]);
    assert!(h.target.members(&group_id).is_empty());
}

fn group_intent(okta_id: &str, name: &str) -> converge::Intent<scim_core::Group> {
    converge::Intent {
        okta_id: okta_id.into(),
        desired: converge::Desired::Present(Box::new(
            scim_core::Group::from_value(json!({
                "schemas": [scim_core::GROUP_SCHEMA], "displayName": name, "externalId": okta_id
            }))
            .unwrap(),
        )),
    }
}

/// The id of the group the target holds for an Okta group id (a call of its own).
async fn group_id_by_okta_id(target: &ScriptedTargetClient, okta_id: &str) -> String {
    let by = scim_core::parse_filter(&format!("externalId eq \"{okta_id}\"")).unwrap();
    let groups = target
        .list_groups(Some(&by), crate::Deadline::default())
        .await
        .unwrap();
    groups[0].id().unwrap().to_owned()
}

fn joining(groups: Vec<converge::Intent<scim_core::Group>>, rejoin: bool) -> converge::Convergence {
    let converge::Convergence::User(user) = user_event("ada@x") else {
        unreachable!("user_event is a user's convergence")
    };
    converge::Convergence::UserJoining {
        user,
        groups,
        rejoin,
    }
}

#[tokio::test]
async fn a_user_created_by_a_later_event_joins_its_okta_groups_in_the_same_change() {
    // Arrange: Identity Center has one of the user's groups; the other is new to it (the
    // user's memberships were skipped while Okta held it inactive).
    let h = harness();
    h.service
        .converge(
            converge::Convergence::Group(group_intent("00g1", "Eng")),
            &h.ctx,
            true,
        )
        .await
        .unwrap();
    let eng_id = group_id_by_okta_id(&h.target, "00g1").await;
    h.target.clear_calls();
    let records_before = h.audit.records().len();

    // Act
    let verdict = h
        .service
        .converge(
            joining(
                vec![group_intent("00g1", "Eng"), group_intent("00g2", "Ops")],
                false,
            ),
            &h.ctx,
            true,
        )
        .await;

    // Assert: created, added to the group Identity Center has, and the other group
    // created with the user in it: three requests, one change, one intent and one outcome.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    assert_eq!(
        methods(h.target.calls()),
        ["create_user", "add_group_members", "create_group"]
    );
    let (user_id, _) = user_by_okta_id(&h.target).await;
    assert_eq!(h.target.members(&eng_id), std::slice::from_ref(&user_id));
    let ops_id = group_id_by_okta_id(&h.target, "00g2").await;
    assert_eq!(h.target.members(&ops_id), [user_id]);
    let records = h.audit.records();
    let new = &records[records_before..];
    assert_eq!(outcome_kinds(new), [Outcome::Intent, Outcome::Success]);
    let groups = new[1]
        .changes
        .iter()
        .find(|c| c.attribute == "groups")
        .and_then(|c| c.after.clone())
        .expect("the record names the groups joined");
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["display"].as_str())
        .collect();
    assert_eq!(names, ["Eng", "Ops"]);
}

#[tokio::test]
async fn a_membership_that_creates_the_user_joins_its_other_okta_groups_too() {
    // Arrange: the user was inactive when its memberships of Eng and Ops were applied;
    // a later membership event of Eng finds it active.
    let h = harness();
    let converge::Convergence::Membership {
        user,
        group,
        member,
        ..
    } = membership_event(true)
    else {
        unreachable!("membership_event is a membership")
    };
    let membership = converge::Convergence::Membership {
        user,
        group,
        member,
        also: vec![group_intent("00g2", "Ops")],
    };

    // Act
    let verdict = h.service.converge(membership, &h.ctx, true).await;

    // Assert: created, in both groups; one record naming both.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let (user_id, eng_id) = user_and_group(&h.target).await;
    assert_eq!(h.target.members(&eng_id), std::slice::from_ref(&user_id));
    let ops_id = group_id_by_okta_id(&h.target, "00g2").await;
    assert_eq!(h.target.members(&ops_id), [user_id]);
    let records = h.audit.records();
    assert_eq!(outcome_kinds(&records), [Outcome::Intent, Outcome::Success]);
    let joined = records[1]
        .changes
        .iter()
        .find(|c| c.attribute == "groups")
        .and_then(|c| c.after.clone())
        .expect("the record names the groups joined");
    assert_eq!(joined.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_user_already_in_identity_center_joins_nothing_unless_the_event_is_tried_again() {
    // Arrange: the user exists; the group too.
    let h = harness();
    h.service
        .converge(user_event("ada@x"), &h.ctx, true)
        .await
        .unwrap();
    h.service
        .converge(
            converge::Convergence::Group(group_intent("00g1", "Eng")),
            &h.ctx,
            true,
        )
        .await
        .unwrap();
    h.target.clear_calls();

    // Act: a first attempt, then one after an attempt that failed midway.
    let first = h
        .service
        .converge(
            joining(vec![group_intent("00g1", "Eng")], false),
            &h.ctx,
            true,
        )
        .await;
    let first_writes = h.target.writes().len();
    let again = h
        .service
        .converge(
            joining(vec![group_intent("00g1", "Eng")], true),
            &h.ctx,
            true,
        )
        .await;

    // Assert: the first changes nothing (the user is not created by it); the retry
    // makes sure of the membership.
    assert_eq!(
        first.unwrap(),
        converge::EventVerdict::Skipped("already in step".into())
    );
    assert_eq!(first_writes, 0);
    assert_eq!(again.unwrap(), converge::EventVerdict::Applied);
    let writes: Vec<_> = h.target.writes().iter().map(|c| c.method).collect();
    assert_eq!(writes, ["add_group_members"]);
}

#[tokio::test]
async fn a_membership_event_whose_mirrored_user_is_gone_creates_it_again_in_the_same_event() {
    // Arrange: the user is deleted in Identity Center behind the gateway's back.
    let h = harness();
    h.service
        .converge(membership_event(true), &h.ctx, true)
        .await
        .unwrap();
    let (old_user, group_id) = user_and_group(&h.target).await;
    h.service
        .converge(membership_event(false), &h.ctx, true)
        .await
        .unwrap();
    h.target
        .delete_user(&old_user, crate::Deadline::default())
        .await
        .unwrap();
    h.target.clear_calls();

    // Act
    let verdict = h
        .service
        .converge(membership_event(true), &h.ctx, true)
        .await;

    // Assert: refused as no user, then looked up, created and added, in one event.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let methods: Vec<_> = h.target.writes().iter().map(|c| c.method).collect();
    assert_eq!(
        methods,
        ["add_group_members", "create_user", "add_group_members"]
    );
    let (new_user, _) = user_and_group(&h.target).await;
    assert_ne!(new_user, old_user);
    assert_eq!(h.target.members(&group_id), [new_user]);
    let records = h.audit.records();
    let last_two = &records[records.len() - 2..];
    assert_eq!(outcome_kinds(last_two), [Outcome::Intent, Outcome::Success]);
}

#[tokio::test]
async fn a_membership_event_whose_mirrored_group_is_gone_creates_it_again_in_the_same_event() {
    // Arrange: the group is deleted in Identity Center behind the gateway's back.
    let h = harness();
    h.service
        .converge(membership_event(true), &h.ctx, true)
        .await
        .unwrap();
    let (user_id, old_group) = user_and_group(&h.target).await;
    h.target
        .delete_group(&old_group, crate::Deadline::default())
        .await
        .unwrap();
    h.target.clear_calls();

    // Act
    let verdict = h
        .service
        .converge(membership_event(true), &h.ctx, true)
        .await;

    // Assert: 404, then looked up and created with its member.
    assert_eq!(verdict.unwrap(), converge::EventVerdict::Applied);
    let methods: Vec<_> = h.target.writes().iter().map(|c| c.method).collect();
    assert_eq!(methods, ["add_group_members", "create_group"]);
    let (_, new_group) = user_and_group(&h.target).await;
    assert_ne!(new_group, old_group);
    assert_eq!(h.target.members(&new_group), [user_id]);
}

#[tokio::test]
async fn an_event_the_trail_cannot_take_changes_nothing_and_fails_to_be_retried() {
    // Arrange
    let target = Arc::new(ScriptedTargetClient::new());
    let service = ScimService::new(
        target.clone(),
        Arc::new(IdentityRules::new()),
        Arc::new(FailingAuditLog::default()),
        Arc::new(crate::SystemClock),
        Duration::from_secs(5),
    );
    let user = scim_core::User::from_value(okta_user("ada@x")).unwrap();
    let convergence = converge::Convergence::User(converge::Intent {
        okta_id: "00ujl29u0le5T6Aj10h7".into(),
        desired: converge::Desired::Present(Box::new(user)),
    });

    // Act
    let error = service
        .converge(convergence, &harness().ctx, false)
        .await
        .unwrap_err();

    // Assert
    assert!(
        matches!(error, GatewayError::AuditUnavailable(_)),
        "{error:?}"
    );
    assert!(target.writes().is_empty());
}

/// Group signals as sent, or refused when `fail` is set.
#[derive(Default)]
struct RecordedSignals {
    sent: std::sync::Mutex<Vec<String>>,
    fail: bool,
}

#[async_trait::async_trait]
impl crate::ports::group_signal::GroupSignal for RecordedSignals {
    async fn group_created(&self, group_id: &str) -> Result<(), String> {
        if self.fail {
            return Err("SendMessage: AccessDenied".into());
        }
        self.sent.lock().unwrap().push(group_id.to_owned());
        Ok(())
    }
}

#[tokio::test]
async fn a_created_group_is_signalled_once_and_a_failed_create_is_not() {
    let mut h = harness();
    let signals = Arc::new(RecordedSignals::default());
    h.service = h.service.with_group_signal(signals.clone());
    let reply = h
        .edge()
        .create(
            ResourceKind::Group,
            json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Admins", "members": []}),
            &h.ctx,
        )
        .await
        .unwrap();
    let id = reply.body.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(*signals.sent.lock().unwrap(), [id]);

    h.target
        .fail_next("create_group", TargetError::Unauthorized);
    let failed = h
        .edge()
        .create(
            ResourceKind::Group,
            json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Readers"}),
            &h.ctx,
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(signals.sent.lock().unwrap().len(), 1, "no group, no signal");
    assert_eq!(h.service.take_group_signal_failures(), 0);
}

#[tokio::test]
async fn a_signal_that_cannot_be_sent_never_fails_the_group_create() {
    let mut h = harness();
    h.service = h.service.with_group_signal(Arc::new(RecordedSignals {
        fail: true,
        ..RecordedSignals::default()
    }));
    let reply = h
        .edge()
        .create(
            ResourceKind::Group,
            json!({"schemas": [scim_core::GROUP_SCHEMA], "displayName": "Admins"}),
            &h.ctx,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
    assert_eq!(h.target.writes().len(), 1);
    assert_eq!(h.service.take_group_signal_failures(), 1);
    assert_eq!(h.service.take_group_signal_failures(), 0, "taken");
    let last = h.audit.records().last().cloned().unwrap();
    assert_eq!(last.outcome, Outcome::Success);
}
