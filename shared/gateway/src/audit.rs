//! The audit port: one outcome record per operation the gateway performed, refused or
//! failed, preceded by an intent record for every operation that changes Identity
//! Center ([`Outcome::Intent`]) (`docs/design.md`, "Data"; the table's layout is in
//! `docs/audit-table.md`).
//!
//! The Lambdas write through `aws_adapters::DynamoDbAuditLog`
//! (`shared/aws-adapters/src/dynamodb_audit.rs`), which binds each record into the hash
//! chains of the DynamoDB audit table using the ledger in `gateway::audit_store`. This
//! module holds two adapters that need no AWS: [`InMemoryAuditLog`] for `scimgw dev` and
//! tests, and [`TracingAuditLog`], which writes records as log lines.
//!
//! Secrets never enter a record: attribute changes skip [`SENSITIVE_ATTRIBUTES`], and
//! [`AuditRecord::redact`] scrubs the free text where a secret can still appear (an
//! error message echoing a password, a filter naming one), and nothing else.

use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::translate::ResourceKind;

pub use crate::ports::audit_log::{Appended, AuditError, AuditLog};

/// Attributes whose values never enter an audit record, matched case-insensitively at
/// any depth. `password` is the only secret SCIM defines (RFC 7643 §4.1.1).
pub const SENSITIVE_ATTRIBUTES: &[&str] = &["password"];

/// What replaces a secret found in a record's text.
pub const REDACTED: &str = "[redacted]";

/// The status an intent record carries: 202, "accepted, not yet done". The request has
/// not been answered when its intent is written; the outcome record that follows names
/// the status the client got.
pub const INTENT_STATUS: u16 = 202;

/// The most member ids a record lists per direction; counts are always exact. Keeps a
/// record of a 10,000-member replace well inside a DynamoDB item.
pub const MAX_LISTED_MEMBER_IDS: usize = 100;

/// One audited operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the request arrived (the [`crate::Clock`]'s time), RFC 3339 on the wire.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// What asked for the operation.
    pub source: AuditSource,
    /// Who asked.
    pub actor: AuditActor,
    /// The user or group the operation concerned (`target` on the wire).
    #[serde(rename = "target")]
    pub subject: AuditSubject,
    /// The operation.
    pub operation: AuditOperation,
    /// Membership changes sent to the target, for group operations that made any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<MembershipChange>,
    /// The attributes that changed, before and after; never a secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttributeChange>,
    /// For lists: the filter as the gateway read it, and how many resources matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<ListSummary>,
    /// The version of the rule set in force.
    pub rule_set_version: String,
    /// How it ended, or [`Outcome::Intent`] for the record written before a change.
    pub outcome: Outcome,
    /// The HTTP status answered to the client; [`INTENT_STATUS`] in an intent record.
    pub status: u16,
    /// The target's HTTP status: on failure the status of the failing call when it
    /// answered at all; on success the status the target documents for the last call
    /// made (the target port does not report statuses of successful calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_status: Option<u16>,
    /// How many calls the operation made to the target.
    pub target_calls: u32,
    /// Time from arrival to answer.
    pub latency_ms: u64,
    /// The request's correlation id, also in the logs and the error bodies.
    pub correlation_id: String,
    /// For refusals and failures, the error detail the client got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For skipped events, why nothing was done (out of scope, already in step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The caller's address, for a request (API Gateway's view of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// API Gateway's request id, for a request that came through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What asked for an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditSource {
    /// A SCIM call.
    Scim {
        /// The HTTP method.
        method: String,
        /// The path template, e.g. `/Users/{id}`: ids live in [`AuditSubject`].
        path: String,
    },
    /// An Okta event, by its `uuid`.
    Event {
        /// The event's `uuid`.
        uuid: String,
        /// Okta's `published` time of the event, RFC 3339.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        published: Option<String>,
        /// The event type, e.g. `user.lifecycle.deactivate`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_type: Option<String>,
    },
    /// A reconcile run (`scimgw sync apply`, the scheduled `reconciler`).
    Reconcile {
        /// The run's id.
        run: String,
    },
    /// A read of the audit trail: a call to the audit API, or a `scimgw audit` command
    /// against the table (`crate::audit_reads`).
    Read {
        /// Through what the trail was read.
        via: ReadVia,
        /// The HTTP method of an audit API call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// What was read: the audit API's path (`/audit/records`) or the command
        /// (`scimgw audit export`).
        path: String,
        /// Who sent the note of the read to the reads queue, as SQS reports it (its
        /// `SenderId`: the IAM principal's unique id); absent when the note did not come
        /// through a queue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender: Option<String>,
    },
    /// An entitlements run (`scimgw entitlements apply --plan`): account assignments
    /// made or removed to match an entitlement document (`docs/entitlements.md`).
    Entitlements {
        /// The run's id (the plan's id).
        run: String,
        /// The entitlement document version the plan was computed from, e.g. `v3`.
        document_version: String,
    },
    /// An admin's command, e.g. `events dlq replay` (`scimgw`).
    Admin {
        /// The command.
        command: String,
        /// The Okta event it concerned, by its `uuid`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_uuid: Option<String>,
    },
}

/// Through what the audit trail was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadVia {
    /// The audit API (an auditor's access token).
    AuditApi,
    /// `scimgw audit` against the table (IAM credentials).
    Cli,
}

/// Who asked: the inbound credential and, for SCIM calls, the client's User-Agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    /// Which credential authenticated the call, e.g. `scim-token-1`; never the
    /// credential itself.
    pub credential: String,
    /// The `User-Agent` the client sent, e.g. `Okta SCIM Client 1.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The resource an operation concerned, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSubject {
    /// User or Group.
    pub resource_type: Option<ResourceKind>,
    /// The identity provider's id (Okta's), the resource's `externalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The target's (Identity Center's) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The `userName` of a user, the `displayName` of a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The operation audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOperation {
    /// POST.
    Create,
    /// PUT.
    Replace,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// GET of a collection.
    List,
    /// GET of one resource.
    Get,
    /// A dead-lettered event put back on the events queue (`scimgw events dlq replay`).
    Replay,
    /// A dead-lettered event deleted (`scimgw events dlq discard`).
    Discard,
    /// A scheduled reconcile run's summary: what drift it found, what it applied, what
    /// the safety rules held back (each change it applied has its own record).
    Reconcile,
    /// A read of the audit trail itself ([`AuditSource::Read`]).
    Read,
    /// An account assignment created (a group given a permission set on an account;
    /// [`AuditSource::Entitlements`]). The subject is the group; `changes` holds one
    /// `accountAssignment` entry whose `after` names the account and permission set.
    Assign,
    /// An account assignment deleted; `changes` holds its `before`.
    Unassign,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// The target failed or refused, or the gateway itself failed.
    Failure,
    /// The gateway refused the request (bad input, unknown id); nothing was changed.
    Refused,
    /// An event that needed nothing done (out of scope, already in step); `reason` says
    /// why.
    Skipped,
    /// The gateway is about to change Identity Center; the outcome record follows, with
    /// the same correlation id. Written before the first write call of a request, once,
    /// with what is known then (the subject, the planned changes); when it cannot be
    /// written nothing is sent to Identity Center. An intent without an outcome record
    /// means the gateway stopped (a crash, a timeout) or could not write the outcome:
    /// Identity Center may or may not have changed.
    Intent,
}

/// Membership changes sent to the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    /// How many members were added.
    pub added: u64,
    /// How many members were removed.
    pub removed: u64,
    /// The first [`MAX_LISTED_MEMBER_IDS`] ids added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_ids: Vec<String>,
    /// The first [`MAX_LISTED_MEMBER_IDS`] ids removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_ids: Vec<String>,
}

impl MembershipChange {
    /// The change that adding `added` and removing `removed` makes, ids capped.
    pub fn new(added: &[String], removed: &[String]) -> Self {
        let listed = |ids: &[String]| ids.iter().take(MAX_LISTED_MEMBER_IDS).cloned().collect();
        Self {
            added: added.len() as u64,
            removed: removed.len() as u64,
            added_ids: listed(added),
            removed_ids: listed(removed),
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.removed == 0
    }
}

/// One attribute's change. `None` means absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    /// The top-level attribute name (an extension's URN for its whole object).
    pub attribute: String,
    /// The value before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// For list operations: what was asked and how much matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSummary {
    /// The filter in canonical form, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// How many resources matched (`totalResults`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_results: Option<u64>,
}

/// Attributes that are bookkeeping rather than data: left out of attribute changes.
const NOT_DATA: &[&str] = &["meta", "schemas", "id"];

fn is_sensitive(key: &str) -> bool {
    SENSITIVE_ATTRIBUTES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(key))
}

/// The attribute-level difference between two JSON resources (either may be absent or
/// not an object): one change per top-level attribute whose value differs, in the order
/// the attributes first appear. Sensitive attributes are skipped, also when nested.
pub fn attribute_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<AttributeChange> {
    let empty = Map::new();
    let before = before.and_then(Value::as_object).unwrap_or(&empty);
    let after = after.and_then(Value::as_object).unwrap_or(&empty);
    let lookup = |map: &Map<String, Value>, key: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let mut keys: Vec<&String> = Vec::new();
    for key in before.keys().chain(after.keys()) {
        if !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .filter(|key| !is_sensitive(key) && !NOT_DATA.iter().any(|n| n.eq_ignore_ascii_case(key)))
        .filter_map(|key| {
            let old = lookup(before, key)
                .filter(|v| !v.is_null())
                .map(strip_sensitive);
            let new = lookup(after, key)
                .filter(|v| !v.is_null())
                .map(strip_sensitive);
            (old != new).then(|| AttributeChange {
                attribute: key.clone(),
                before: old,
                after: new,
            })
        })
        .collect()
}

/// A copy of `value` without sensitive members at any depth.
fn strip_sensitive(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !is_sensitive(k))
                .map(|(k, v)| (k, strip_sensitive(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_sensitive).collect()),
        other => other,
    }
}

/// The secret strings a request body carries: every non-empty string under a
/// sensitive key, at any depth (a create's `password`, a PATCH value object's
/// `password`), and the value of an operation whose `path` names a sensitive attribute.
pub fn secrets_in(body: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(false, body)];
    while let Some((secret, value)) = stack.pop() {
        match value {
            Value::String(s) if secret && !s.is_empty() => found.push(s.clone()),
            Value::Object(map) => {
                // `{"op": "replace", "path": "password", "value": "…"}`.
                let path_is_secret = map.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("path")
                        && v.as_str().is_some_and(|p| {
                            SENSITIVE_ATTRIBUTES
                                .iter()
                                .any(|s| p.to_ascii_lowercase().contains(s))
                        })
                });
                for (key, inner) in map {
                    let secret = secret
                        || is_sensitive(key)
                        || (path_is_secret && key.eq_ignore_ascii_case("value"));
                    stack.push((secret, inner));
                }
            }
            Value::Array(items) => stack.extend(items.iter().map(|v| (secret, v))),
            _ => {}
        }
    }
    found
}

impl AuditRecord {
    /// Replaces every occurrence of each secret in the record's free text, the only
    /// places a secret can appear: the error detail (which may echo a value of the
    /// body, or of the target's answer) and the list filter as sent. Nothing else is
    /// touched: ids, names, the user agent and the attribute changes are the record's
    /// evidence, and secrets never enter them (changes skip [`SENSITIVE_ATTRIBUTES`]),
    /// so a caller cannot blank its own record by sending a password such as `-`.
    /// Longer secrets go first so that one secret containing another is not
    /// half-redacted.
    pub fn redact(&mut self, secrets: &[String]) {
        let mut secrets: Vec<&str> = secrets
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if secrets.is_empty() {
            return;
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let scrub = |text: &mut String| {
            for secret in &secrets {
                if text.contains(secret) {
                    *text = text.replace(secret, REDACTED);
                }
            }
        };
        if let Some(error) = &mut self.error {
            scrub(error);
        }
        if let Some(query) = &mut self.query
            && let Some(filter) = &mut query.filter
        {
            scrub(filter);
        }
    }
}

/// Records kept in memory, in arrival order: `scimgw dev` and tests.
#[derive(Debug, Default)]
pub struct InMemoryAuditLog {
    records: Mutex<Vec<AuditRecord>>,
}

impl InMemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every record so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
        Ok(())
    }
}

/// Writes each record as one structured `tracing` event at info level, target
/// [`TracingAuditLog::TARGET`], with the key fields as event fields and the whole
/// record as JSON in `record`. No function uses it now that the audit table exists;
/// in a Lambda its JSON log would land in CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAuditLog;

impl TracingAuditLog {
    /// The `tracing` target of audit events.
    pub const TARGET: &'static str = "scimgw::audit";
}

#[async_trait]
impl AuditLog for TracingAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        let json =
            serde_json::to_string(&record).map_err(|e| AuditError::Unavailable(Box::new(e)))?;
        tracing::info!(
            target: "scimgw::audit",
            correlation_id = %record.correlation_id,
            operation = ?record.operation,
            outcome = ?record.outcome,
            status = record.status,
            record = %json,
            "audit"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn record() -> AuditRecord {
        AuditRecord {
            time: datetime!(2024-04-05 06:32:12 UTC),
            source: AuditSource::Scim {
                method: "POST".into(),
                path: "/Users".into(),
            },
            actor: AuditActor {
                credential: "scim-token:primary".into(),
                user_agent: Some("Okta SCIM Client 1.0.0".into()),
            },
            subject: AuditSubject {
                resource_type: Some(ResourceKind::User),
                external_id: Some("00u1".into()),
                target_id: Some("u-1".into()),
                name: Some("bjensen@example.com".into()),
            },
            operation: AuditOperation::Create,
            membership: None,
            changes: vec![],
            query: None,
            rule_set_version: "identity".into(),
            outcome: Outcome::Success,
            status: 201,
            target_status: Some(201),
            target_calls: 1,
            latency_ms: 12,
            correlation_id: "req-1".into(),
            error: None,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[test]
    fn attribute_changes_list_changed_attributes_and_never_the_password() {
        // Arrange
        let before = json!({"id": "u-1", "userName": "a", "active": true, "title": "x", "meta": {"created": "t"}});
        let after = json!({"id": "u-1", "userName": "a", "active": false, "password": "s3cret!", "name": {"givenName": "B"}});

        // Act
        let changes = attribute_changes(Some(&before), Some(&after));

        // Assert
        let attrs: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(attrs, ["active", "title", "name"]);
        assert_eq!(changes[0].before, Some(json!(true)));
        assert_eq!(changes[0].after, Some(json!(false)));
        assert_eq!(changes[1].after, None);
        assert!(!serde_json::to_string(&changes).unwrap().contains("s3cret!"));
    }

    #[test]
    fn nested_password_members_are_stripped_from_changes() {
        // Act
        let changes = attribute_changes(None, Some(&json!({"x": {"Password": "s3cret!", "y": 1}})));

        // Assert
        assert_eq!(changes[0].after, Some(json!({"y": 1})));
    }

    #[test]
    fn secrets_are_found_under_password_keys_and_password_paths() {
        // Arrange
        let create = json!({"userName": "a", "password": "p1-secret"});
        let patch = json!({"Operations": [
            {"op": "replace", "value": {"PASSWORD": "p2-secret"}},
            {"op": "replace", "path": "password", "value": "p3-secret"},
            {"op": "replace", "path": "title", "value": "not secret"}
        ]});

        // Act
        let mut found = secrets_in(&create);
        found.extend(secrets_in(&patch));
        found.sort();

        // Assert
        assert_eq!(found, ["p1-secret", "p2-secret", "p3-secret"]);
    }

    #[test]
    fn redaction_scrubs_the_free_text_where_a_secret_can_appear_and_nothing_else() {
        // Arrange
        let mut record = record();
        record.error = Some("invalid value \"hunter2-pw\" for active".into());
        record.query = Some(ListSummary {
            filter: Some("password eq \"hunter2-pw\"".into()),
            total_results: Some(0),
        });
        let changes = vec![AttributeChange {
            attribute: "title".into(),
            before: None,
            after: Some(json!({"deep": ["was hunter2-pw"]})),
        }];
        record.changes = changes.clone();

        // Act
        record.redact(&["hunter2-pw".to_owned()]);

        // Assert
        assert_eq!(
            record.error.as_deref(),
            Some("invalid value \"[redacted]\" for active")
        );
        assert_eq!(
            record.query.as_ref().and_then(|q| q.filter.as_deref()),
            Some("password eq \"[redacted]\"")
        );
        assert_eq!(record.changes, changes, "the evidence is not rewritten");
    }

    #[test]
    fn a_password_of_one_character_cannot_blank_the_records_ids_and_names() {
        // Arrange: a caller sends "password": "-" hoping to blank its own traces.
        let mut record = record();
        record.subject.target_id = Some("b2cd2c6f7f-ce61ce4e-61bb-43ec-9875-c384ee4edb41".into());
        record.subject.name = Some("ada-lovelace@example.com".into());
        record.actor.user_agent = Some("Okta SCIM Client 1.0.0".into());
        let before = record.clone();

        // Act
        record.redact(&secrets_in(&json!({"userName": "ada", "password": "-"})));

        // Assert
        assert_eq!(record, before);
    }

    #[test]
    fn a_record_serializes_with_an_rfc3339_time_and_snake_case_keywords_and_reads_back() {
        // Act
        let value = serde_json::to_value(record()).unwrap();

        // Assert
        assert_eq!(value["time"], "2024-04-05T06:32:12Z");
        assert_eq!(
            value["source"],
            json!({"kind": "scim", "method": "POST", "path": "/Users"})
        );
        assert_eq!(value["operation"], "create");
        assert_eq!(value["outcome"], "success");
        let intent = AuditRecord {
            outcome: Outcome::Intent,
            status: INTENT_STATUS,
            ..record()
        };
        assert_eq!(serde_json::to_value(&intent).unwrap()["outcome"], "intent");
        assert_eq!(value["target"]["resource_type"], "User");
        assert_eq!(
            serde_json::from_value::<AuditRecord>(value).unwrap(),
            record()
        );
    }

    #[test]
    fn membership_changes_count_everything_but_list_at_most_a_hundred_ids() {
        // Arrange
        let added: Vec<String> = (0..150).map(|i| format!("u{i}")).collect();

        // Act
        let change = MembershipChange::new(&added, &[]);

        // Assert
        assert_eq!((change.added, change.removed), (150, 0));
        assert_eq!(change.added_ids.len(), MAX_LISTED_MEMBER_IDS);
    }

    #[tokio::test]
    async fn the_in_memory_log_keeps_records_in_order_and_the_tracing_log_accepts_them() {
        // Arrange
        let log = InMemoryAuditLog::new();
        let mut second = record();
        second.correlation_id = "req-2".into();

        // Act
        log.append(record()).await.unwrap();
        log.append(second).await.unwrap();
        TracingAuditLog.append(record()).await.unwrap();

        // Assert
        let ids: Vec<String> = log
            .records()
            .into_iter()
            .map(|r| r.correlation_id)
            .collect();
        assert_eq!(ids, ["req-1", "req-2"]);
    }
}
