//! Rule sets in the state table: [`DynamoDbRuleStore`] implements the gateway's
//! [`RuleStore`] port (versioned rule-set documents and the active pointer) over the
//! stack's single-table state table (`StateTable` in `template.yaml`: string keys
//! `pk`/`sk`, TTL attribute `expires_at`, which no rule item carries, so none expires).
//!
//! Items, all in one partition, `pk = RULES` (no other item of the table uses that key:
//! the mirror's all start with `MIRROR#`). Rule sets change a few times a month, by
//! hand, so one partition is never hot, and it lets one `Query` list the history:
//! - a version: `sk = VERSION#<number, 10 digits>` (`VERSION#0000000042` for `v42`):
//!   `kind` = `rule-set-version`, `version` (N), `document` (the YAML text as written),
//!   `sha256` (of the text, hex), `author`, `note` (when given), `created_at` (RFC 3339);
//! - a switch of the active pointer: `sk = ACTIVATION#<sequence, 10 digits>`:
//!   `kind` = `rule-set-activation`, `sequence` (N, from 1), `version` (N, made active),
//!   `previous` (N, the version active before, when there was one), `activated_at`
//!   (RFC 3339), `activated_by`.
//!
//! Entitlement documents (`docs/entitlements.md`) are kept the same way, in their own
//! partition `pk = ENTITLEMENTS` ([`DynamoDbRuleStore::entitlements`]), with the same
//! item kinds and keys.
//!
//! Zero-padded numbers sort as numbers, so the newest version and the newest switch are
//! each one `Query` (descending, `Limit` 1). **The active pointer is the newest
//! `ACTIVATION#` item**: a switch is one conditional `PutItem` that is at once the
//! pointer's new value and its record in the history, so no switch can be missing from
//! the history, and no transaction is needed.
//!
//! Both writes are conditional (`attribute_not_exists(pk)`), and both numbers are taken
//! gap-free from the newest existing item rather than from a counter:
//! - [`RuleStore::put_version`] reads the newest version `n` and puts `VERSION#n+1`; when
//!   the condition fails (another save took `n+1`) it tries `n+2`, and so on (at most
//!   [`MAX_PUT_ATTEMPTS`] times). Two saves never share a number, and a save that dies
//!   half-way leaves no hole (a counter item would, between its increment and the put).
//! - [`RuleStore::activate`] checks the version exists, reads the newest switch `s`,
//!   answers [`RuleStoreError::Conflict`] unless `s` made the caller's
//!   `expected_active` active, and puts `ACTIVATION#s+1`. When the condition fails
//!   (`ConditionalCheckFailedException`: another switch took `s+1` in between), that is
//!   the port's conflict too, and nothing changed.
//!
//! Reads are strongly consistent. Every call is bounded by a timeout
//! ([`DEFAULT_TIMEOUT`], or [`DynamoDbRuleStore::with_timeout`]), and every failure is a
//! [`RuleStoreError`] (`Unavailable`, with a [`DynamoDbRuleStoreError`] as its source
//! saying what went wrong), never a panic. A save or switch that timed out may still have
//! been made: the history says.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use gateway::Clock;
use gateway::rule_store::{
    Activation, NewRuleSet, RuleHistory, RuleSetEntry, RuleStore, RuleStoreError, RuleVersion,
    StoredRuleSet, check_name, document_sha256,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

type Item = HashMap<String, AttributeValue>;
use crate::sdk_error::BoxError;

/// The partition key of every rule item.
pub const RULES_PK: &str = "RULES";

/// The partition key of the entitlement documents' items (the same shapes as the rule
/// items; [`DynamoDbRuleStore::entitlements`]).
pub const ENTITLEMENTS_PK: &str = "ENTITLEMENTS";

/// The prefix of a version's sort key.
pub const VERSION_SK_PREFIX: &str = "VERSION#";

/// The prefix of a switch's sort key.
pub const ACTIVATION_SK_PREFIX: &str = "ACTIVATION#";

/// The largest version or switch number: ten digits, so the keys sort as numbers.
pub const MAX_NUMBER: u64 = 9_999_999_999;

/// How many numbers a save tries before giving up (each failure means another save took
/// that number, so this bounds the saves racing it).
pub const MAX_PUT_ATTEMPTS: usize = 100;

/// How long one call may take, SDK retries included, before it counts as failed.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const PK: &str = "pk";
const SK: &str = "sk";
const VERSION_KIND: &str = "rule-set-version";
const ACTIVATION_KIND: &str = "rule-set-activation";
/// Only when the item does not exist yet.
const NEW_ITEM: &str = "attribute_not_exists(pk)";

/// The sort key of a version: `VERSION#0000000042`.
pub fn version_sk(version: RuleVersion) -> String {
    format!("{VERSION_SK_PREFIX}{:010}", version.number())
}

/// The sort key of the switch numbered `sequence`: `ACTIVATION#0000000007`.
pub fn activation_sk(sequence: u64) -> String {
    format!("{ACTIVATION_SK_PREFIX}{sequence:010}")
}

/// A version as stored (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct VersionItem {
    pk: String,
    sk: String,
    kind: String,
    version: u64,
    document: String,
    sha256: String,
    author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    created_at: String,
}

/// A version as the history reads it: everything but the document.
#[derive(Debug, Deserialize)]
struct VersionSummary {
    sk: String,
    kind: String,
    version: u64,
    sha256: String,
    author: String,
    #[serde(default)]
    note: Option<String>,
    created_at: String,
}

/// A switch as stored (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct ActivationItem {
    pk: String,
    sk: String,
    kind: String,
    sequence: u64,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<u64>,
    activated_at: String,
    activated_by: String,
}

/// What went wrong with a call to the rule items: the source of every
/// [`RuleStoreError::Unavailable`] this adapter returns. Messages name the operation, the
/// error code and the item's key, never a document, author or note.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoDbRuleStoreError {
    /// DynamoDB could not be reached, or answered nothing that reads as a response.
    #[error("rule store table: {op} could not reach DynamoDB")]
    Unreachable {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// No answer within the adapter's timeout.
    #[error("rule store table: {op} had no answer within {timeout:?}")]
    TimedOut {
        /// The DynamoDB operation.
        op: &'static str,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// DynamoDB throttled the call (after the SDK's own retries).
    #[error("rule store table: {op} was throttled ({code})")]
    Throttled {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The table does not exist (a wrong table name, or another Region).
    #[error("rule store table: {op}: the table does not exist")]
    TableMissing {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The caller's credentials may not make the call (IAM, or a KMS key).
    #[error("rule store table: {op} was denied ({code})")]
    Denied {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// A conditional write found its item already there
    /// (`ConditionalCheckFailedException`): another save took the number, or another
    /// switch came first. The adapter answers the port's conflict (or tries the next
    /// number) rather than this.
    #[error("rule store table: {op}: the condition failed (the item exists)")]
    ConditionFailed {
        /// The DynamoDB operation.
        op: &'static str,
    },
    /// Any other error DynamoDB answered (a validation error, an item too large, …).
    #[error("rule store table: {op} failed ({code})")]
    Failed {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// An item under a rule key that does not read as what its key says.
    #[error("rule store table: the item {key} does not read as a rule item ({reason})")]
    Unreadable {
        /// The item's `sk`.
        key: String,
        /// What is wrong with it, without its values.
        reason: String,
    },
    /// Every number a save tried was taken by another save.
    #[error("rule store table: {attempts} numbers in a row were taken by other saves; try again")]
    Contended {
        /// How many numbers were tried.
        attempts: usize,
    },
}

/// Sorts a failed SDK call by its error code, keeping the SDK's error as the source.
fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> DynamoDbRuleStoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    use crate::sdk_error::Kind;
    let crate::sdk_error::Failure { kind, code, source } =
        crate::sdk_error::sort(err, &crate::sdk_error::DYNAMODB);
    match kind {
        Kind::Unreachable => DynamoDbRuleStoreError::Unreachable { op, source },
        Kind::ConditionFailed => DynamoDbRuleStoreError::ConditionFailed { op },
        Kind::Throttled => DynamoDbRuleStoreError::Throttled { op, code, source },
        Kind::Missing => DynamoDbRuleStoreError::TableMissing { op, source },
        Kind::Denied => DynamoDbRuleStoreError::Denied { op, code, source },
        Kind::Failed => DynamoDbRuleStoreError::Failed { op, code, source },
    }
}

fn unreadable(key: &str, reason: impl Into<String>) -> DynamoDbRuleStoreError {
    DynamoDbRuleStoreError::Unreadable {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn parse_time(key: &str, what: &str, text: &str) -> Result<OffsetDateTime, DynamoDbRuleStoreError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| unreadable(key, format!("{what} is not an RFC 3339 time")))
}

fn format_time(at: OffsetDateTime) -> Result<String, RuleStoreError> {
    at.format(&Rfc3339).map_err(|_| {
        RuleStoreError::Refused("the clock's time cannot be written as RFC 3339".into())
    })
}

fn version_of(key: &str, n: u64) -> Result<RuleVersion, DynamoDbRuleStoreError> {
    RuleVersion::new(n).ok_or_else(|| unreadable(key, "its version is 0"))
}

/// Reads a version item, checking it is the version its key says and that its text
/// still has its hash.
fn decode_version(item: Item) -> Result<StoredRuleSet, DynamoDbRuleStoreError> {
    let key = sort_key(&item);
    let stored: VersionItem = serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|_| unreadable(&key, "missing or mistyped attributes"))?;
    let version = version_of(&key, stored.version)?;
    if stored.kind != VERSION_KIND || stored.sk != version_sk(version) {
        return Err(unreadable(
            &key,
            "its kind or version is not that of its key",
        ));
    }
    if document_sha256(&stored.document) != stored.sha256 {
        return Err(unreadable(&key, "its document does not have its sha256"));
    }
    Ok(StoredRuleSet {
        version,
        created_at: parse_time(&key, "created_at", &stored.created_at)?,
        document: stored.document,
        sha256: stored.sha256,
        author: stored.author,
        note: stored.note,
    })
}

fn decode_summary(item: Item) -> Result<RuleSetEntry, DynamoDbRuleStoreError> {
    let key = sort_key(&item);
    let stored: VersionSummary = serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|_| unreadable(&key, "missing or mistyped attributes"))?;
    let version = version_of(&key, stored.version)?;
    if stored.kind != VERSION_KIND || stored.sk != version_sk(version) {
        return Err(unreadable(
            &key,
            "its kind or version is not that of its key",
        ));
    }
    Ok(RuleSetEntry {
        version,
        created_at: parse_time(&key, "created_at", &stored.created_at)?,
        sha256: stored.sha256,
        author: stored.author,
        note: stored.note,
        activated_at: None,
    })
}

fn decode_activation(item: Item) -> Result<Activation, DynamoDbRuleStoreError> {
    let key = sort_key(&item);
    let stored: ActivationItem = serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|_| unreadable(&key, "missing or mistyped attributes"))?;
    if stored.kind != ACTIVATION_KIND
        || stored.sequence == 0
        || stored.sk != activation_sk(stored.sequence)
    {
        return Err(unreadable(
            &key,
            "its kind or sequence is not that of its key",
        ));
    }
    Ok(Activation {
        sequence: stored.sequence,
        version: version_of(&key, stored.version)?,
        previous: stored.previous.map(|p| version_of(&key, p)).transpose()?,
        activated_at: parse_time(&key, "activated_at", &stored.activated_at)?,
        activated_by: stored.activated_by,
    })
}

/// The item's `sk`, for messages.
fn sort_key(item: &Item) -> String {
    item.get(SK)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_else(|| "(without sk)".to_owned())
}

/// [`RuleStore`] over the state table (see the module docs).
pub struct DynamoDbRuleStore {
    client: Client,
    table: String,
    /// The partition: [`RULES_PK`], or [`ENTITLEMENTS_PK`] for entitlement documents.
    pk: &'static str,
    clock: Arc<dyn Clock>,
    timeout: std::time::Duration,
}

impl fmt::Debug for DynamoDbRuleStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbRuleStore")
            .field("table", &self.table)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DynamoDbRuleStore {
    /// The rule sets in `table` (the state table), timestamped with `clock`, each call
    /// given [`DEFAULT_TIMEOUT`].
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            pk: RULES_PK,
            clock,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The entitlement documents in `table` (`docs/entitlements.md`): the same versions
    /// and switches, under the partition [`ENTITLEMENTS_PK`].
    pub fn entitlements(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            pk: ENTITLEMENTS_PK,
            ..Self::new(client, table, clock)
        }
    }

    /// Gives each call at most `timeout`, the SDK's retries (and, on the first call,
    /// the credential chain's look-ups) included.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs one SDK call within the timeout.
    async fn bounded<T, E, R>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, DynamoDbRuleStoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(|e| classify(op, e)),
            Err(_) => Err(DynamoDbRuleStoreError::TimedOut {
                op,
                timeout: self.timeout,
            }),
        }
    }

    /// Logs a failure with the table, and wraps it for the port.
    fn fail(&self, error: DynamoDbRuleStoreError) -> RuleStoreError {
        tracing::debug!(
            target: "scimgw::rule_store",
            table = %self.table,
            error = %error,
            "rule store: the state table call failed"
        );
        RuleStoreError::Unavailable(Box::new(error))
    }

    fn key(&self, sk: String) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.to_owned())),
            (SK.to_owned(), AttributeValue::S(sk)),
        ])
    }

    /// The newest item under `prefix`, its projection only.
    async fn newest(
        &self,
        prefix: &str,
        projection: &[&str],
    ) -> Result<Option<Item>, DynamoDbRuleStoreError> {
        let output = self.query(prefix, projection, None, Some(1), false).await?;
        Ok(output.0.into_iter().next())
    }

    /// One page of the items under `prefix`, in `forward` or reverse key order: the
    /// items and where the next page starts.
    async fn query(
        &self,
        prefix: &str,
        projection: &[&str],
        start: Option<Item>,
        limit: Option<i32>,
        forward: bool,
    ) -> Result<(Vec<Item>, Option<Item>), DynamoDbRuleStoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(self.pk.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            .scan_index_forward(forward)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .set_limit(limit);
        let mut names = Vec::with_capacity(projection.len());
        for (i, attribute) in projection.iter().enumerate() {
            let name = format!("#p{i}");
            request = request.expression_attribute_names(&name, *attribute);
            names.push(name);
        }
        if !names.is_empty() {
            request = request.projection_expression(names.join(", "));
        }
        let output = self.bounded("Query", request.send()).await?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }

    /// Every item under `prefix`, page after page.
    async fn query_all(
        &self,
        prefix: &str,
        projection: &[&str],
    ) -> Result<Vec<Item>, DynamoDbRuleStoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let (page, next) = self.query(prefix, projection, start, None, true).await?;
            items.extend(page);
            match next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// The newest version's number, if any.
    async fn newest_version(&self) -> Result<Option<RuleVersion>, DynamoDbRuleStoreError> {
        let Some(item) = self
            .newest(VERSION_SK_PREFIX, &[SK, "kind", "version"])
            .await?
        else {
            return Ok(None);
        };
        let key = sort_key(&item);
        let n = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| unreadable(&key, "version is not a number"))?;
        let version = version_of(&key, n)?;
        if key != version_sk(version) {
            return Err(unreadable(&key, "its version is not that of its key"));
        }
        Ok(Some(version))
    }

    /// The newest switch: the active pointer.
    async fn newest_activation(&self) -> Result<Option<Activation>, DynamoDbRuleStoreError> {
        self.newest(ACTIVATION_SK_PREFIX, &[])
            .await?
            .map(decode_activation)
            .transpose()
    }

    async fn get_version(
        &self,
        version: RuleVersion,
    ) -> Result<Option<StoredRuleSet>, DynamoDbRuleStoreError> {
        let output = self
            .bounded(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(self.key(version_sk(version))))
                    .consistent_read(true)
                    .send(),
            )
            .await?;
        output.item.map(decode_version).transpose()
    }

    /// Puts a new item, only if its key is free.
    async fn put_new(&self, item: Item) -> Result<(), DynamoDbRuleStoreError> {
        self.bounded(
            "PutItem",
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(NEW_ITEM)
                .send(),
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl RuleStore for DynamoDbRuleStore {
    async fn put_version(&self, new: NewRuleSet) -> Result<RuleVersion, RuleStoreError> {
        new.check()?;
        let created_at = format_time(self.clock.now())?;
        let sha256 = document_sha256(&new.document);
        let mut next = match self.newest_version().await.map_err(|e| self.fail(e))? {
            None => Some(RuleVersion::FIRST),
            Some(newest) => newest.next(),
        };
        for _ in 0..MAX_PUT_ATTEMPTS {
            let version = next
                .filter(|v| v.number() <= MAX_NUMBER)
                .ok_or_else(|| RuleStoreError::Refused("no version number is left".into()))?;
            let item = VersionItem {
                pk: self.pk.to_owned(),
                sk: version_sk(version),
                kind: VERSION_KIND.to_owned(),
                version: version.number(),
                document: new.document.clone(),
                sha256: sha256.clone(),
                author: new.author.clone(),
                note: new.note.clone(),
                created_at: created_at.clone(),
            };
            let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&item).map_err(|_| {
                RuleStoreError::Refused("the version could not be encoded as an item".into())
            })?;
            match self.put_new(item).await {
                Ok(()) => return Ok(version),
                // Another save took this number: the next one.
                Err(DynamoDbRuleStoreError::ConditionFailed { .. }) => next = version.next(),
                Err(e) => return Err(self.fail(e)),
            }
        }
        Err(self.fail(DynamoDbRuleStoreError::Contended {
            attempts: MAX_PUT_ATTEMPTS,
        }))
    }

    async fn get(&self, version: RuleVersion) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        self.get_version(version).await.map_err(|e| self.fail(e))
    }

    async fn active(&self) -> Result<Option<StoredRuleSet>, RuleStoreError> {
        let Some(activation) = self.newest_activation().await.map_err(|e| self.fail(e))? else {
            return Ok(None);
        };
        match self.get_version(activation.version).await {
            Ok(Some(stored)) => Ok(Some(stored)),
            Ok(None) => Err(self.fail(unreadable(
                &activation_sk(activation.sequence),
                format!("it activates {}, which is not stored", activation.version),
            ))),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn activate(
        &self,
        version: RuleVersion,
        expected_active: Option<RuleVersion>,
        by: &str,
    ) -> Result<Activation, RuleStoreError> {
        check_name("activating principal", by)?;
        let activated_at = self.clock.now();
        if self
            .get_version(version)
            .await
            .map_err(|e| self.fail(e))?
            .is_none()
        {
            return Err(RuleStoreError::NotFound(version));
        }
        let latest = self.newest_activation().await.map_err(|e| self.fail(e))?;
        let previous = latest.as_ref().map(|a| a.version);
        if previous != expected_active {
            return Err(RuleStoreError::Conflict {
                expected: expected_active,
            });
        }
        let sequence = latest.map_or(1, |a| a.sequence.saturating_add(1));
        if sequence > MAX_NUMBER {
            return Err(RuleStoreError::Refused(
                "no activation number is left".into(),
            ));
        }
        let item = ActivationItem {
            pk: self.pk.to_owned(),
            sk: activation_sk(sequence),
            kind: ACTIVATION_KIND.to_owned(),
            sequence,
            version: version.number(),
            previous: previous.map(RuleVersion::number),
            activated_at: format_time(activated_at)?,
            activated_by: by.to_owned(),
        };
        let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&item).map_err(|_| {
            RuleStoreError::Refused("the activation could not be encoded as an item".into())
        })?;
        match self.put_new(item).await {
            Ok(()) => Ok(Activation {
                sequence,
                version,
                previous,
                activated_at,
                activated_by: by.to_owned(),
            }),
            // Another switch took this sequence number since the read.
            Err(DynamoDbRuleStoreError::ConditionFailed { .. }) => Err(RuleStoreError::Conflict {
                expected: expected_active,
            }),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn history(&self) -> Result<RuleHistory, RuleStoreError> {
        let summary = [
            SK,
            "kind",
            "version",
            "sha256",
            "author",
            "note",
            "created_at",
        ];
        let versions = self
            .query_all(VERSION_SK_PREFIX, &summary)
            .await
            .and_then(|items| items.into_iter().map(decode_summary).collect())
            .map_err(|e| self.fail(e))?;
        let activations = self
            .query_all(ACTIVATION_SK_PREFIX, &[])
            .await
            .and_then(|items| items.into_iter().map(decode_activation).collect())
            .map_err(|e| self.fail(e))?;
        Ok(RuleHistory::new(versions, activations))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    use super::*;

    fn service(code: &str) -> SdkError<PutItemError, ()> {
        SdkError::service_error(
            PutItemError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("the message")
                    .build(),
            ),
            (),
        )
    }

    fn v(n: u64) -> RuleVersion {
        RuleVersion::new(n).unwrap()
    }

    #[test]
    fn keys_are_zero_padded_in_the_rules_partition_apart_from_the_mirror() {
        assert_eq!(version_sk(v(42)), "VERSION#0000000042");
        assert_eq!(activation_sk(7), "ACTIVATION#0000000007");
        assert_eq!(version_sk(v(MAX_NUMBER)), "VERSION#9999999999");
        assert!(version_sk(v(9)) < version_sk(v(10)));
        assert!(!RULES_PK.starts_with(crate::dynamodb_mirror::PK_PREFIX));
    }

    #[test]
    fn a_failed_condition_is_told_apart_from_other_errors() {
        assert!(matches!(
            classify("PutItem", service("ConditionalCheckFailedException")),
            DynamoDbRuleStoreError::ConditionFailed { op: "PutItem" }
        ));
        assert!(matches!(
            classify("PutItem", service("ThrottlingException")),
            DynamoDbRuleStoreError::Throttled { .. }
        ));
        assert!(matches!(
            classify("PutItem", service("ResourceNotFoundException")),
            DynamoDbRuleStoreError::TableMissing { .. }
        ));
        assert!(matches!(
            classify("PutItem", service("AccessDeniedException")),
            DynamoDbRuleStoreError::Denied { .. }
        ));
        assert_eq!(
            classify("PutItem", service("ValidationException")).to_string(),
            "rule store table: PutItem failed (ValidationException)"
        );
        let timeout: SdkError<PutItemError, ()> = SdkError::timeout_error("took too long");
        assert!(matches!(
            classify("PutItem", timeout),
            DynamoDbRuleStoreError::Unreachable { .. }
        ));
    }

    #[test]
    fn an_item_whose_text_lost_its_hash_does_not_read() {
        let item = VersionItem {
            pk: RULES_PK.into(),
            sk: version_sk(v(3)),
            kind: VERSION_KIND.into(),
            version: 3,
            document: "users: []\n".into(),
            sha256: document_sha256("groups: []\n"),
            author: "ada".into(),
            note: None,
            created_at: "2024-04-05T06:32:12Z".into(),
        };
        let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&item).unwrap();
        let error = decode_version(item).unwrap_err();
        assert_eq!(
            error.to_string(),
            "rule store table: the item VERSION#0000000003 does not read as a rule item (its \
             document does not have its sha256)"
        );
    }
}
