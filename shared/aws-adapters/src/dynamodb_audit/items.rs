//! Encoding and decoding the table's items: the serde structs written for records,
//! heads, registrations and seals, the index attributes derived from a record (and
//! their check against it), the readers that turn items into the ledger's `Raw*` views
//! for verification, and the records that queries read.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use gateway::audit::AuditRecord;
use gateway::audit_store::chain;
use gateway::audit_store::ledger::{
    Anomaly, LedgerAppend, LedgerError, RawChain, RawHead, RawRecord, RawSeal, SealEntry,
};
use gateway::audit_store::{ProblemKind, RecordIntegrity, StoredAuditRecord};
use serde::{Deserialize, Serialize};

use super::backend::unavailable;
use super::schema::{
    CHAINS_PK, HEAD_SK, PK, SEALS_PK, SK, TTL_ATTRIBUTE, chain_pk, record_sk, shard,
};

pub(super) type Item = HashMap<String, AttributeValue>;

/// A serde value's name (`success`, `patch`, `User`).
pub(super) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|s| !s.is_empty()).cloned()
}

/// A record item as stored: the ledger's fields, the record's canonical JSON, the
/// index attributes and a few plain attributes for people reading the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RecordItem {
    pk: String,
    sk: String,
    kind: String,
    chain: String,
    seq: u64,
    prev_hash: String,
    hash: String,
    mac: String,
    key_id: String,
    written_at: String,
    expires_at: i64,
    /// The record's canonical JSON, exactly as hashed.
    record: String,
    #[serde(flatten)]
    index: IndexAttributes,
}

/// Everything derived from the record for the indexes and for reading: recomputed by
/// `verify`, so a change to any of them shows as an alteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexAttributes {
    time_pk: String,
    time_sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tname: Option<String>,
    actor_pk: String,
    outcome_pk: String,
    op_pk: String,
    time: String,
    actor: String,
    outcome: String,
    operation: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_name: Option<String>,
    correlation_id: String,
}

impl IndexAttributes {
    fn of(chain: &str, id: &str, record: &AuditRecord) -> Self {
        let s = shard(chain);
        let outcome = word(&record.outcome);
        let operation = word(&record.operation);
        Self {
            time_pk: format!("REC#{s}"),
            time_sk: chain::sort_key(record.time, id),
            tid: non_empty(record.subject.target_id.as_ref()),
            xid: non_empty(record.subject.external_id.as_ref()),
            tname: non_empty(record.subject.name.as_ref()).map(|n| n.to_lowercase()),
            actor_pk: format!("{}#{s}", record.actor.credential),
            outcome_pk: format!("{outcome}#{s}"),
            op_pk: format!("{operation}#{s}"),
            time: chain::fmt_time(record.time),
            actor: record.actor.credential.clone(),
            outcome,
            operation,
            status: record.status,
            resource_type: record.subject.resource_type.as_ref().map(word),
            target_name: non_empty(record.subject.name.as_ref()),
            correlation_id: record.correlation_id.clone(),
        }
    }

    /// The names of the attributes on which `self` (stored) and `expected` differ.
    fn differences(stored: &Item, expected: &Self) -> Vec<String> {
        let Ok(expected) = to_item(expected) else {
            return vec!["(unreadable)".into()];
        };
        let names: HashSet<&String> = expected.keys().collect();
        let mut out: Vec<String> = expected
            .iter()
            .filter(|(name, value)| stored.get(*name) != Some(value))
            .map(|(name, _)| name.clone())
            .collect();
        // An index attribute the record does not call for (e.g. a planted `tid`).
        for optional in ["tid", "xid", "tname", "resource_type", "target_name"] {
            if !names.iter().any(|n| n.as_str() == optional) && stored.contains_key(optional) {
                out.push(optional.to_owned());
            }
        }
        out.sort();
        out
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, serde_dynamo::Error> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value)
}

#[derive(Debug, Serialize)]
struct HeadItem<'a> {
    pk: String,
    sk: &'a str,
    kind: &'a str,
    chain: &'a str,
    seq: u64,
    hash: &'a str,
    last_written_at: &'a str,
    last_expires_at: i64,
    key_id: &'a str,
    mac: &'a str,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct ChainItem<'a> {
    pk: &'a str,
    sk: &'a str,
    kind: &'a str,
    chain: &'a str,
    created_at: &'a str,
    key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_chain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_hash: Option<&'a str>,
    mac: &'a str,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct SealItem<'a> {
    pk: &'a str,
    sk: &'a str,
    kind: &'a str,
    from: &'a str,
    prev_mac: &'a str,
    prev_expires_at: i64,
    chains: &'a str,
    key_id: &'a str,
    mac: &'a str,
    expires_at: i64,
}

/// The record item of an append.
pub(super) fn record_item(append: &LedgerAppend<AuditRecord>) -> Result<Item, LedgerError> {
    let entry = &append.record;
    let i = &entry.integrity;
    to_item(&RecordItem {
        pk: chain_pk(&i.chain),
        sk: record_sk(i.seq),
        kind: "record".into(),
        chain: i.chain.clone(),
        seq: i.seq,
        prev_hash: i.prev_hash.clone(),
        hash: i.hash.clone(),
        mac: i.mac.clone(),
        key_id: i.key_id.clone(),
        written_at: i.written_at.clone(),
        expires_at: i.expires_at,
        record: entry.record_json.clone(),
        index: IndexAttributes::of(&i.chain, &entry.id, &entry.record),
    })
    .map_err(unavailable)
}

/// The chain head item of an append.
pub(super) fn head_item(append: &LedgerAppend<AuditRecord>) -> Result<Item, LedgerError> {
    let h = &append.head;
    to_item(&HeadItem {
        pk: chain_pk(&h.chain),
        sk: HEAD_SK,
        kind: "head",
        chain: &h.chain,
        seq: h.seq,
        hash: &h.hash,
        last_written_at: &h.last_written_at,
        last_expires_at: h.last_expires_at,
        key_id: &h.key_id,
        mac: &h.mac,
        expires_at: h.expires_at,
    })
    .map_err(unavailable)
}

/// The chain registration item of an append that starts a chain.
pub(super) fn chain_item(append: &LedgerAppend<AuditRecord>) -> Result<Option<Item>, LedgerError> {
    append
        .genesis
        .as_ref()
        .map(|g| {
            to_item(&ChainItem {
                pk: CHAINS_PK,
                sk: &g.chain,
                kind: "chain",
                chain: &g.chain,
                created_at: &g.created_at,
                key_id: &g.key_id,
                prev_chain: g.prev.as_ref().map(|p| p.chain.as_str()),
                prev_seq: g.prev.as_ref().map(|p| p.seq),
                prev_hash: g.prev.as_ref().map(|p| p.hash.as_str()),
                mac: &g.mac,
                expires_at: g.expires_at,
            })
            .map_err(unavailable)
        })
        .transpose()
}

/// An item's key.
pub(super) fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// The seal item of a seal.
pub(super) fn seal_item(seal: &SealEntry) -> Result<Item, LedgerError> {
    to_item(&SealItem {
        pk: SEALS_PK,
        sk: &seal.through,
        kind: "seal",
        from: &seal.from,
        prev_mac: &seal.prev_mac,
        prev_expires_at: seal.prev_expires_at,
        chains: &seal.chains,
        key_id: &seal.key_id,
        mac: &seal.mac,
        expires_at: seal.expires_at,
    })
    .map_err(unavailable)
}

pub(super) fn s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(super) fn n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

pub(super) fn location(item: &Item) -> String {
    format!(
        "pk={} sk={}",
        s(item, PK).unwrap_or_default(),
        s(item, SK).unwrap_or_default()
    )
}

/// A record item as read for verification, with what its key and index attributes
/// say against its content.
pub(super) fn raw_record(item: &Item) -> RawRecord {
    let mut raw = RawRecord {
        location: location(item),
        chain: s(item, "chain"),
        seq: n(item, "seq"),
        prev_hash: s(item, "prev_hash"),
        hash: s(item, "hash"),
        mac: s(item, "mac"),
        key_id: s(item, "key_id"),
        written_at: s(item, "written_at"),
        expires_at: n(item, TTL_ATTRIBUTE),
        record_json: s(item, "record"),
        anomalies: Vec::new(),
    };
    if let (Some(chain_id), Some(seq)) = (&raw.chain, raw.seq) {
        let id = chain::record_id(chain_id, seq);
        if s(item, PK).as_deref() != Some(chain_pk(chain_id).as_str())
            || s(item, SK).as_deref() != Some(record_sk(seq).as_str())
        {
            raw.anomalies.push(Anomaly {
                kind: ProblemKind::Reordered,
                detail: format!("stored under {}, but the item is record {id}", raw.location),
            });
        }
        let record = raw
            .record_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<AuditRecord>(j).ok());
        match record {
            Some(record) => {
                let diff = IndexAttributes::differences(
                    item,
                    &IndexAttributes::of(chain_id, &id, &record),
                );
                if !diff.is_empty() {
                    raw.anomalies.push(Anomaly {
                        kind: ProblemKind::Altered,
                        detail: format!(
                            "attributes that disagree with the record: {}",
                            diff.join(", ")
                        ),
                    });
                }
            }
            None => raw.anomalies.push(Anomaly {
                kind: ProblemKind::Altered,
                detail: "the record's JSON does not read as an audit record".into(),
            }),
        }
    }
    raw
}

pub(super) fn raw_head(item: &Item) -> RawHead {
    RawHead {
        location: location(item),
        seq: n(item, "seq"),
        hash: s(item, "hash"),
        last_written_at: s(item, "last_written_at"),
        last_expires_at: n(item, "last_expires_at"),
        key_id: s(item, "key_id"),
        mac: s(item, "mac"),
    }
}

pub(super) fn raw_chain(item: &Item) -> RawChain {
    RawChain {
        location: location(item),
        chain: s(item, SK).unwrap_or_default(),
        created_at: s(item, "created_at"),
        key_id: s(item, "key_id"),
        prev_chain: s(item, "prev_chain"),
        prev_seq: n(item, "prev_seq"),
        prev_hash: s(item, "prev_hash"),
        mac: s(item, "mac"),
    }
}

pub(super) fn raw_seal(item: &Item) -> RawSeal {
    RawSeal {
        location: location(item),
        through: s(item, SK).unwrap_or_default(),
        from: s(item, "from"),
        prev_mac: s(item, "prev_mac"),
        prev_expires_at: n(item, "prev_expires_at"),
        chains: s(item, "chains"),
        key_id: s(item, "key_id"),
        mac: s(item, "mac"),
        expires_at: n(item, TTL_ATTRIBUTE),
    }
}

/// What a query reads of each item: the record and its chain fields, not the index
/// attributes (less to transfer; in moto, far less to serialize).
pub(super) const QUERY_PROJECTION: &str =
    "chain, seq, prev_hash, #h, mac, key_id, written_at, expires_at, #r, time_sk";

/// What verification's discovery reads of each record in the period.
pub(super) const DISCOVERY_PROJECTION: &str = "pk, sk, chain, seq";

/// A query result item.
#[derive(Debug, Deserialize)]
struct QueriedItem {
    chain: String,
    seq: u64,
    prev_hash: String,
    hash: String,
    mac: String,
    key_id: String,
    written_at: String,
    expires_at: i64,
    record: String,
}

/// The stored record of a query result item; `None` (logged) for an item that does not
/// read as one, which `verify` reports.
pub(super) fn stored_record(item: Item) -> Option<StoredAuditRecord> {
    let location = location(&item);
    let parsed: Result<QueriedItem, _> = serde_dynamo::aws_sdk_dynamodb_1::from_item(item);
    let stored = parsed.ok().and_then(|r| {
        Some(StoredAuditRecord {
            id: chain::record_id(&r.chain, r.seq),
            record: serde_json::from_str(&r.record).ok()?,
            integrity: RecordIntegrity {
                chain: r.chain,
                seq: r.seq,
                prev_hash: r.prev_hash,
                hash: r.hash,
                mac: r.mac,
                key_id: r.key_id,
                written_at: r.written_at,
                expires_at: r.expires_at,
            },
        })
    });
    if stored.is_none() {
        tracing::warn!(target: "scimgw::audit", %location, "audit: an item in an index does not read as a record");
    }
    stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::audit::{AuditActor, AuditOperation, AuditSource, AuditSubject, Outcome};
    use time::macros::datetime;

    fn record() -> AuditRecord {
        AuditRecord {
            time: datetime!(2024-04-05 06:32:12 UTC),
            source: AuditSource::Event {
                uuid: "e-1".into(),
                published: None,
                event_type: None,
            },
            actor: AuditActor {
                credential: "okta-admin:alice".into(),
                user_agent: None,
            },
            subject: AuditSubject {
                resource_type: None,
                external_id: Some("00u1".into()),
                target_id: Some(String::new()),
                name: Some("BJensen".into()),
            },
            operation: AuditOperation::Delete,
            membership: None,
            changes: vec![],
            query: None,
            rule_set_version: "v1".into(),
            outcome: Outcome::Refused,
            status: 404,
            target_status: None,
            target_calls: 0,
            latency_ms: 1,
            correlation_id: "req-1".into(),
            error: None,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[test]
    fn index_attributes_are_sharded_by_chain_and_leave_empty_ids_out() {
        // Act
        let chain = "20240405T06-0000000000000006";
        let attrs = IndexAttributes::of(chain, &chain::record_id(chain, 1), &record());

        // Assert
        assert_eq!(attrs.time_pk, "REC#2");
        assert_eq!(attrs.outcome_pk, "refused#2");
        assert_eq!(attrs.op_pk, "delete#2");
        assert_eq!(attrs.actor_pk, "okta-admin:alice#2");
        assert_eq!(attrs.tid, None, "an empty id is not a key");
        assert_eq!(attrs.tname.as_deref(), Some("bjensen"));
        assert!(attrs.time_sk.starts_with("2024-04-05T06:32:12.000000000Z#"));
    }

    #[test]
    fn a_record_item_whose_index_attributes_were_changed_is_flagged() {
        // Arrange
        let chain = "20240405T06-0000000000000006";
        let id = chain::record_id(chain, 1);
        let index = IndexAttributes::of(chain, &id, &record());
        let mut item = to_item(&index).unwrap();
        item.insert(
            "record".into(),
            AttributeValue::S(chain::canonical_record(&record()).unwrap()),
        );
        item.insert("chain".into(), AttributeValue::S(chain.into()));
        item.insert("seq".into(), AttributeValue::N("1".into()));
        item.insert(PK.into(), AttributeValue::S(chain_pk(chain)));
        item.insert(SK.into(), AttributeValue::S(record_sk(1)));
        assert!(raw_record(&item).anomalies.is_empty());

        // Act
        item.insert("outcome_pk".into(), AttributeValue::S("success#2".into()));
        item.insert("tid".into(), AttributeValue::S("u-9".into()));

        // Assert
        let anomalies = raw_record(&item).anomalies;
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, ProblemKind::Altered);
        assert!(
            anomalies[0].detail.ends_with("outcome_pk, tid"),
            "{}",
            anomalies[0].detail
        );
    }
}
