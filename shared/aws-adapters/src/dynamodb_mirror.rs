//! The mirror in the state table: [`DynamoDbMirror`] implements the gateway's [`Mirror`]
//! port (what the gateway knows of Identity Center's users and groups) over the stack's
//! single-table state table (`StateTable` in `template.yaml`: string keys `pk`/`sk`, TTL
//! attribute `expires_at`), with one `GetItem`, `PutItem` or `DeleteItem` per call and
//! never a query or scan.
//!
//! Items, one per resource, each in its own partition (so no key is hot, whatever the
//! traffic on one user or group):
//! - user: `pk = MIRROR#USER#<Identity Center id>`, `sk = MIRROR`;
//! - group: `pk = MIRROR#GROUP#<Identity Center id>`, `sk = MIRROR`;
//! - a user's name: `pk = MIRROR#USERNAME#<userName, lowercased>`, `sk = MIRROR`, holding
//!   the user's `id` (for a lookup in another case than Identity Center stored; the
//!   gateway reads the user before trusting it, so an entry left by a rename is harmless);
//! - a user's or group's `externalId` (its Okta id): `pk = MIRROR#USEREXT#<externalId>`
//!   or `MIRROR#GROUPEXT#<externalId>`, `sk = MIRROR`, holding the resource's `id` (so an
//!   Okta event finds its user and group without asking Identity Center; the gateway
//!   checks the entry it leads to, and goes back to Identity Center when Identity
//!   Center's answer shows the entry stale).
//!
//! Every `pk` of the mirror starts with `MIRROR#`, a prefix no other item of the state
//! table uses (the planned rule sets and event de-duplication records get prefixes of
//! their own). Attributes: `kind` (`mirror-user` or `mirror-group`), `id`, `resource`
//! (the resource's JSON, with every `password` removed and a group's `members` left
//! out), `created_at` (RFC 3339, when the gateway created the resource, if it did),
//! `written_at` (RFC 3339) and `expires_at` (epoch seconds: the write plus the
//! retention, [`DEFAULT_RETENTION_DAYS`] unless [`DynamoDbMirror::with_retention`]
//! says otherwise). DynamoDB's TTL removes an entry nobody has written for that long
//! (a resource deleted behind the gateway's back), and a read treats an entry past its
//! `expires_at` as missing even before the TTL has removed it.
//!
//! Reads are strongly consistent, so a write by one Lambda instance is seen by the next
//! request on another. Writes are unconditional: the last writer wins, and a stale entry
//! is what the use cases expect of a cache and repair.
//!
//! Every failure is a [`MirrorError`] whose source is a [`DynamoDbMirrorError`] saying
//! what went wrong (unreachable, timed out, throttled, table missing, denied, an
//! unreadable entry), logged here with the table and the id; no call panics, and no
//! call waits longer than the timeout ([`DEFAULT_TIMEOUT`]), so a slow table costs a
//! request at most that before the use case reads Identity Center instead.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use gateway::Clock;
use gateway::mirror::{Mirror, MirrorError, MirroredGroup, MirroredUser};
use scim_core::{Group, Resource as _, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

type Item = HashMap<String, AttributeValue>;
use crate::sdk_error::BoxError;

/// The TTL attribute (epoch seconds) on every mirror item, as the state table's
/// `TimeToLiveSpecification` names it.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The prefix of every mirror item's partition key.
pub const PK_PREFIX: &str = "MIRROR#";

/// The sort key of every mirror item.
pub const MIRROR_SK: &str = "MIRROR";

/// How long an entry is kept after its last write when the caller does not say: long
/// enough that a quiet user is still mirrored at Okta's next push (Okta re-pushes
/// profiles on any change, and at least on every import), short enough that the
/// entries of resources deleted behind the gateway's back do not pile up.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;

/// How long one call may take, SDK retries included, before it counts as failed: far
/// above DynamoDB's milliseconds, far below the request budget.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

const PK: &str = "pk";
const SK: &str = "sk";

/// The two kinds of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

impl Kind {
    fn pk(self, id: &str) -> String {
        match self {
            Self::User => format!("{PK_PREFIX}USER#{id}"),
            Self::Group => format!("{PK_PREFIX}GROUP#{id}"),
        }
    }

    /// The item's `kind` attribute.
    fn name(self) -> &'static str {
        match self {
            Self::User => "mirror-user",
            Self::Group => "mirror-group",
        }
    }
}

/// The partition key of a user's name entry.
pub fn user_name_pk(user_name: &str) -> String {
    format!("{PK_PREFIX}USERNAME#{}", user_name.to_lowercase())
}

/// The partition key of a user's `externalId` entry.
pub fn user_external_id_pk(external_id: &str) -> String {
    format!("{PK_PREFIX}USEREXT#{external_id}")
}

/// The partition key of a group's `externalId` entry.
pub fn group_external_id_pk(external_id: &str) -> String {
    format!("{PK_PREFIX}GROUPEXT#{external_id}")
}

/// The item's partition key for a user.
pub fn user_pk(id: &str) -> String {
    Kind::User.pk(id)
}

/// The item's partition key for a group.
pub fn group_pk(id: &str) -> String {
    Kind::Group.pk(id)
}

/// A mirror item as stored (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct EntryItem {
    pk: String,
    sk: String,
    kind: String,
    id: String,
    /// The resource's JSON, without passwords (and a group without members).
    resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    written_at: String,
    expires_at: i64,
}

/// An entry as read back: the resource's JSON and when the gateway created it.
struct Entry {
    resource: Value,
    created_at: Option<OffsetDateTime>,
}

/// What went wrong with a call to the mirror's table: the source of every
/// [`MirrorError`] this adapter returns. Messages name the operation, the error code
/// and the entry's key, never a value stored in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoDbMirrorError {
    /// DynamoDB could not be reached, or answered nothing that reads as a response.
    #[error("mirror table: {op} could not reach DynamoDB")]
    Unreachable {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// No answer within the adapter's timeout.
    #[error("mirror table: {op} had no answer within {timeout:?}")]
    TimedOut {
        /// The DynamoDB operation.
        op: &'static str,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// DynamoDB throttled the call (after the SDK's own retries).
    #[error("mirror table: {op} was throttled ({code})")]
    Throttled {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The table does not exist (a wrong `STATE_TABLE_NAME`, or another Region).
    #[error("mirror table: {op}: the table does not exist")]
    TableMissing {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The caller's credentials may not make the call (the role, or a KMS key).
    #[error("mirror table: {op} was denied ({code})")]
    Denied {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// Any other error DynamoDB answered (a validation error, an item too large, …).
    #[error("mirror table: {op} failed ({code})")]
    Failed {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// An item under a mirror key that does not read as the entry asked for.
    #[error("mirror table: the item {key} does not read as a mirror entry ({reason})")]
    Unreadable {
        /// The item's `pk`.
        key: String,
        /// What is wrong with it, without its values.
        reason: String,
    },
    /// A resource that could not be written as an entry.
    #[error("mirror table: the entry {key} could not be encoded ({reason})")]
    Unencodable {
        /// The item's `pk`.
        key: String,
        /// What is wrong, without values.
        reason: String,
    },
}

/// Sorts a failed SDK call by its error code, keeping the SDK's error as the source.
fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> DynamoDbMirrorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    use crate::sdk_error::Kind;
    let crate::sdk_error::Failure { kind, code, source } =
        crate::sdk_error::sort(err, &crate::sdk_error::DYNAMODB);
    match kind {
        Kind::Unreachable => DynamoDbMirrorError::Unreachable { op, source },
        Kind::Throttled => DynamoDbMirrorError::Throttled { op, code, source },
        Kind::Missing => DynamoDbMirrorError::TableMissing { op, source },
        Kind::Denied => DynamoDbMirrorError::Denied { op, code, source },
        Kind::ConditionFailed | Kind::Failed => DynamoDbMirrorError::Failed { op, code, source },
    }
}

/// A serde_json error's kind (and place, when it has one), without its message, which
/// may quote a value.
fn json_reason(what: &str, e: &serde_json::Error) -> String {
    match e.line() {
        0 => format!("{what}: {:?} error", e.classify()),
        line => format!(
            "{what}: {:?} error at line {line} column {}",
            e.classify(),
            e.column()
        ),
    }
}

/// Removes every member named `password` (in any case), at any depth: the mirror holds
/// no secret, whatever a caller left in a resource.
fn strip_passwords(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.eq_ignore_ascii_case("password"));
            map.values_mut().for_each(strip_passwords);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_passwords),
        _ => {}
    }
}

fn format_time(at: OffsetDateTime) -> Option<String> {
    at.format(&Rfc3339).ok()
}

/// [`Mirror`] over the state table (see the module docs).
pub struct DynamoDbMirror {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    retention: Duration,
    timeout: std::time::Duration,
}

impl fmt::Debug for DynamoDbMirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbMirror")
            .field("table", &self.table)
            .field("retention", &self.retention)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DynamoDbMirror {
    /// A mirror in `table`, keeping entries for [`DEFAULT_RETENTION_DAYS`] after their
    /// last write and giving each call [`DEFAULT_TIMEOUT`].
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            retention: Duration::days(DEFAULT_RETENTION_DAYS),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Keeps entries for `retention` after their last write (the TTL). A retention that
    /// is not positive is taken as one second: such entries are as good as unwritten.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(Duration::SECOND);
        self
    }

    /// Gives each call at most `timeout`, the SDK's retries included.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How long entries are kept after their last write.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn key(pk: String) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk)),
            (SK.to_owned(), AttributeValue::S(MIRROR_SK.to_owned())),
        ])
    }

    /// Runs one SDK call within the timeout.
    async fn bounded<T, E, R>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, DynamoDbMirrorError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(|e| classify(op, e)),
            Err(_) => Err(DynamoDbMirrorError::TimedOut {
                op,
                timeout: self.timeout,
            }),
        }
    }

    async fn get(&self, kind: Kind, id: &str) -> Result<Option<Entry>, DynamoDbMirrorError> {
        let pk = kind.pk(id);
        let output = self
            .bounded(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(pk.clone())))
                    .consistent_read(true)
                    .send(),
            )
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let unreadable = |reason: String| DynamoDbMirrorError::Unreadable {
            key: pk.clone(),
            reason,
        };
        let stored: EntryItem = serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
            .map_err(|_| unreadable("missing or mistyped attributes".into()))?;
        if stored.kind != kind.name() || stored.id != id {
            return Err(unreadable("its kind or id is not that of its key".into()));
        }
        if stored.expires_at <= self.clock.now().unix_timestamp() {
            // Past its retention; DynamoDB's TTL removes it within days.
            return Ok(None);
        }
        let resource: Value = serde_json::from_str(&stored.resource)
            .map_err(|e| unreadable(json_reason("resource", &e)))?;
        let created_at = stored
            .created_at
            .map(|at| OffsetDateTime::parse(&at, &Rfc3339))
            .transpose()
            .map_err(|_| unreadable("created_at is not an RFC 3339 time".into()))?;
        Ok(Some(Entry {
            resource,
            created_at,
        }))
    }

    async fn put(
        &self,
        kind: Kind,
        id: String,
        mut resource: Value,
        created_at: Option<OffsetDateTime>,
    ) -> Result<(), DynamoDbMirrorError> {
        let pk = kind.pk(&id);
        let unencodable = |reason: &str| DynamoDbMirrorError::Unencodable {
            key: pk.clone(),
            reason: reason.to_owned(),
        };
        strip_passwords(&mut resource);
        let now = self.clock.now();
        let created_at = match created_at {
            Some(at) => Some(format_time(at).ok_or_else(|| unencodable("created_at"))?),
            None => None,
        };
        let entry = EntryItem {
            pk: pk.clone(),
            sk: MIRROR_SK.to_owned(),
            kind: kind.name().to_owned(),
            id,
            resource: resource.to_string(),
            created_at,
            written_at: format_time(now).ok_or_else(|| unencodable("written_at"))?,
            expires_at: (now + self.retention).unix_timestamp(),
        };
        let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&entry)
            .map_err(|_| unencodable("the item"))?;
        self.bounded(
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send(),
        )
        .await?;
        Ok(())
    }

    /// Records `id` under a pointer's key (`kind`: the item's `kind` attribute).
    async fn put_pointer(
        &self,
        pk: String,
        kind: &str,
        id: &str,
    ) -> Result<(), DynamoDbMirrorError> {
        let now = self.clock.now();
        let mut item = Self::key(pk);
        item.insert("kind".to_owned(), AttributeValue::S(kind.to_owned()));
        item.insert("id".to_owned(), AttributeValue::S(id.to_owned()));
        item.insert(
            TTL_ATTRIBUTE.to_owned(),
            AttributeValue::N((now + self.retention).unix_timestamp().to_string()),
        );
        self.bounded(
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send(),
        )
        .await?;
        Ok(())
    }

    /// The id recorded under a pointer's key, unless expired.
    async fn get_pointer(&self, pk: String) -> Result<Option<String>, DynamoDbMirrorError> {
        let output = self
            .bounded(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(pk)))
                    .consistent_read(true)
                    .send(),
            )
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let expired = item
            .get(TTL_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|at| at <= self.clock.now().unix_timestamp());
        let id = item.get("id").and_then(|v| v.as_s().ok()).cloned();
        Ok(id.filter(|_| !expired))
    }

    /// The pointer keys that lead to a stored entry: a user's name and `externalId`, a
    /// group's `externalId` (none when the mirror lacks the entry).
    async fn stored_pointers(&self, kind: Kind, id: &str) -> Vec<String> {
        let Some(entry) = self.get(kind, id).await.ok().flatten() else {
            return Vec::new();
        };
        let text = |name: &str| entry.resource.get(name).and_then(Value::as_str);
        let (name, external_id) = (text("userName"), text("externalId"));
        match kind {
            Kind::User => [name.map(user_name_pk), external_id.map(user_external_id_pk)]
                .into_iter()
                .flatten()
                .collect(),
            Kind::Group => external_id.map(group_external_id_pk).into_iter().collect(),
        }
    }

    /// Deletes a pointer, if it still leads to `id`.
    async fn delete_pointer(&self, pk: String, id: &str) -> Result<(), DynamoDbMirrorError> {
        if self.get_pointer(pk.clone()).await?.as_deref() != Some(id) {
            return Ok(());
        }
        self.bounded(
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(pk)))
                .send(),
        )
        .await?;
        Ok(())
    }

    /// Writes an entry's pointers, and deletes those of its previous version (`previous`)
    /// that no longer lead to it (a rename, a new `externalId`).
    async fn repoint(
        &self,
        id: &str,
        previous: Vec<String>,
        current: Vec<(String, &'static str)>,
    ) -> Result<(), DynamoDbMirrorError> {
        for pk in previous {
            if !current.iter().any(|(now, _)| *now == pk) {
                self.delete_pointer(pk, id).await?;
            }
        }
        for (pk, kind) in current {
            self.put_pointer(pk, kind, id).await?;
        }
        Ok(())
    }

    /// Deletes an entry and the pointers that lead to it.
    async fn forget(&self, kind: Kind, id: &str) -> Result<(), MirrorError> {
        for pk in self.stored_pointers(kind, id).await {
            self.delete_pointer(pk, id)
                .await
                .map_err(|e| self.fail(kind, id, e))?;
        }
        self.delete(kind, id)
            .await
            .map_err(|e| self.fail(kind, id, e))
    }

    async fn delete(&self, kind: Kind, id: &str) -> Result<(), DynamoDbMirrorError> {
        self.bounded(
            "DeleteItem",
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(kind.pk(id))))
                .send(),
        )
        .await?;
        Ok(())
    }

    /// Logs a failure with the table and the id, and wraps it for the port.
    fn fail(&self, kind: Kind, id: &str, error: DynamoDbMirrorError) -> MirrorError {
        tracing::warn!(
            target: "scimgw::mirror",
            table = %self.table,
            kind = kind.name(),
            id,
            error = %error,
            "mirror: the state table call failed; the use case goes on without the entry"
        );
        MirrorError(Box::new(error))
    }

    /// An entry's resource read as `T`, or the failure to read it.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        kind: Kind,
        id: &str,
        resource: Value,
    ) -> Result<T, MirrorError> {
        serde_json::from_value(resource).map_err(|e| {
            self.fail(
                kind,
                id,
                DynamoDbMirrorError::Unreadable {
                    key: kind.pk(id),
                    reason: json_reason("resource", &e),
                },
            )
        })
    }

    fn encode<T: Serialize>(
        &self,
        kind: Kind,
        id: &str,
        resource: &T,
    ) -> Result<Value, MirrorError> {
        serde_json::to_value(resource).map_err(|e| {
            self.fail(
                kind,
                id,
                DynamoDbMirrorError::Unencodable {
                    key: kind.pk(id),
                    reason: json_reason("resource", &e),
                },
            )
        })
    }
}

/// The id a resource is mirrored under: none (the entry is ignored) when it has no id.
fn mirror_id(id: Option<&String>) -> Option<String> {
    id.filter(|id| !id.is_empty()).cloned()
}

#[async_trait]
impl Mirror for DynamoDbMirror {
    async fn user(&self, id: &str) -> Result<Option<MirroredUser>, MirrorError> {
        let kind = Kind::User;
        let Some(entry) = self
            .get(kind, id)
            .await
            .map_err(|e| self.fail(kind, id, e))?
        else {
            return Ok(None);
        };
        let user: User = self.decode(kind, id, entry.resource)?;
        Ok(Some(MirroredUser {
            user,
            created_at: entry.created_at,
        }))
    }

    async fn put_user(&self, entry: MirroredUser) -> Result<(), MirrorError> {
        let kind = Kind::User;
        let Some(id) = mirror_id(entry.user.id.as_ref()) else {
            return Ok(());
        };
        let mut user = entry.user;
        user.password = None;
        let resource = self.encode(kind, &id, &user)?;
        let previous = self.stored_pointers(kind, &id).await;
        self.put(kind, id.clone(), resource, entry.created_at)
            .await
            .map_err(|e| self.fail(kind, &id, e))?;
        let mut current = vec![(user_name_pk(&user.user_name), "mirror-username")];
        if let Some(external_id) = user.external_id() {
            current.push((user_external_id_pk(external_id), "mirror-user-external-id"));
        }
        self.repoint(&id, previous, current)
            .await
            .map_err(|e| self.fail(kind, &id, e))
    }

    async fn user_id_by_name(&self, user_name: &str) -> Result<Option<String>, MirrorError> {
        self.get_pointer(user_name_pk(user_name))
            .await
            .map_err(|e| self.fail(Kind::User, "(looked up by userName)", e))
    }

    async fn user_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError> {
        self.get_pointer(user_external_id_pk(external_id))
            .await
            .map_err(|e| self.fail(Kind::User, "(looked up by externalId)", e))
    }

    async fn forget_user(&self, id: &str) -> Result<(), MirrorError> {
        self.forget(Kind::User, id).await
    }

    async fn group(&self, id: &str) -> Result<Option<MirroredGroup>, MirrorError> {
        let kind = Kind::Group;
        let Some(entry) = self
            .get(kind, id)
            .await
            .map_err(|e| self.fail(kind, id, e))?
        else {
            return Ok(None);
        };
        let mut group: Group = self.decode(kind, id, entry.resource)?;
        group.members = None;
        Ok(Some(MirroredGroup {
            group,
            created_at: entry.created_at,
        }))
    }

    async fn put_group(&self, entry: MirroredGroup) -> Result<(), MirrorError> {
        let kind = Kind::Group;
        let Some(id) = mirror_id(entry.group.id.as_ref()) else {
            return Ok(());
        };
        let mut group = entry.group;
        group.members = None;
        let resource = self.encode(kind, &id, &group)?;
        // Not read first (a group is written after every membership change): a pointer
        // left by a changed `externalId` leads to an entry that no longer says it, which
        // readers check, and expires.
        self.put(kind, id.clone(), resource, entry.created_at)
            .await
            .map_err(|e| self.fail(kind, &id, e))?;
        let current = group
            .external_id()
            .map(|e| (group_external_id_pk(e), "mirror-group-external-id"))
            .into_iter()
            .collect();
        self.repoint(&id, Vec::new(), current)
            .await
            .map_err(|e| self.fail(kind, &id, e))
    }

    async fn group_id_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<String>, MirrorError> {
        self.get_pointer(group_external_id_pk(external_id))
            .await
            .map_err(|e| self.fail(Kind::Group, "(looked up by externalId)", e))
    }

    async fn forget_group(&self, id: &str) -> Result<(), MirrorError> {
        self.forget(Kind::Group, id).await
    }
}

/// Creates the state table as `template.yaml` defines it (`pk`/`sk` string keys,
/// on-demand capacity) and turns on its TTL ([`TTL_ATTRIBUTE`]). For tests and local
/// runs against an emulator; in AWS the template creates it, with point-in-time
/// recovery and deletion protection on.
pub async fn create_table(client: &Client, table: &str) -> Result<(), MirrorError> {
    let unavailable = |e: BoxError| MirrorError(e);
    let string_key = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let attributes = [string_key(PK), string_key(SK)]
        .into_iter()
        .collect::<Result<Vec<_>, BuildError>>()
        .map_err(|e| unavailable(Box::new(e)))?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .key_schema(key(PK, KeyType::Hash).map_err(|e| unavailable(Box::new(e)))?)
        .key_schema(key(SK, KeyType::Range).map_err(|e| unavailable(Box::new(e)))?)
        .send()
        .await
        .map_err(|e| unavailable(Box::new(classify("CreateTable", e))))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(|e| unavailable(Box::new(e)))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| unavailable(Box::new(classify("UpdateTimeToLive", e))))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use serde_json::json;

    use super::*;

    fn service(code: &str) -> SdkError<GetItemError, ()> {
        SdkError::service_error(
            GetItemError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("the message")
                    .build(),
            ),
            (),
        )
    }

    #[test]
    fn keys_put_each_resource_in_its_own_mirror_partition() {
        assert_eq!(user_pk("u-1"), "MIRROR#USER#u-1");
        assert_eq!(group_pk("u-1"), "MIRROR#GROUP#u-1");
        assert!(user_pk("x").starts_with(PK_PREFIX) && group_pk("x").starts_with(PK_PREFIX));
    }

    #[test]
    fn sdk_errors_are_classified_by_code() {
        assert!(matches!(
            classify("GetItem", service("ProvisionedThroughputExceededException")),
            DynamoDbMirrorError::Throttled { .. }
        ));
        assert!(matches!(
            classify("GetItem", service("ResourceNotFoundException")),
            DynamoDbMirrorError::TableMissing { .. }
        ));
        assert!(matches!(
            classify("GetItem", service("AccessDeniedException")),
            DynamoDbMirrorError::Denied { .. }
        ));
        let other = classify("GetItem", service("ValidationException"));
        assert_eq!(
            other.to_string(),
            "mirror table: GetItem failed (ValidationException)"
        );
        let timeout: SdkError<GetItemError, ()> = SdkError::timeout_error("took too long");
        let unreachable = classify("GetItem", timeout);
        assert!(matches!(
            unreachable,
            DynamoDbMirrorError::Unreachable { .. }
        ));
        assert!(std::error::Error::source(&unreachable).is_some());
    }

    #[test]
    fn passwords_are_stripped_at_any_depth_and_in_any_case() {
        let mut value = json!({
            "userName": "bjensen",
            "password": "a",
            "urn:x": {"Password": "b", "keep": [{"PASSWORD": "c", "v": 1}]}
        });
        strip_passwords(&mut value);
        assert_eq!(
            value,
            json!({"userName": "bjensen", "urn:x": {"keep": [{"v": 1}]}})
        );
    }

    #[test]
    fn a_json_reason_quotes_no_value() {
        let e = serde_json::from_str::<User>(r#"{"userName": true, "title": "s3cr3t"}"#);
        let reason = json_reason("resource", &e.err().unwrap());
        assert_eq!(reason, "resource: Data error");
        let e = serde_json::from_str::<Value>(r#"{"title": "s3cr3t""#);
        let reason = json_reason("resource", &e.err().unwrap());
        assert_eq!(reason, "resource: Eof error at line 1 column 18");
    }
}
