//! The query planner: [`plan`] picks the index an audit query reads (the most selective
//! its filters allow) and its partitions, and [`DynamoDbLedger::query_page`] reads them
//! a page at a time, merges them in sort-key order, applies the remaining filters and
//! hands back a cursor where it stopped.

use std::collections::{HashSet, VecDeque};

use aws_sdk_dynamodb::types::AttributeValue;
use gateway::audit::Outcome;
use gateway::audit_store::chain;
use gateway::audit_store::{AuditPage, AuditQuery, AuditStoreError, QueryCursor};
use time::Duration;

use super::backend::{DynamoDbLedger, store_unavailable};
use super::items::{Item, QUERY_PROJECTION, s, stored_record, word};
use super::schema::{
    ACTOR_INDEX, EXTERNAL_ID_INDEX, NAME_INDEX, OPERATION_INDEX, OUTCOME_INDEX, SHARDS,
    TARGET_ID_INDEX, TIME_INDEX, TIME_SK,
};

/// The most items one query call reads before it hands back a cursor, so that a very
/// unselective residual filter cannot make one call read the whole table.
const SCAN_BUDGET: usize = 5_000;

/// One index partition read in sort-key order during a query.
#[derive(Debug)]
pub(super) struct Stream {
    index: &'static str,
    attribute: &'static str,
    value: String,
    buffer: VecDeque<Item>,
    pub(super) next: Option<Item>,
    done: bool,
}

impl Stream {
    pub(super) fn new(index: &'static str, attribute: &'static str, value: String) -> Self {
        Self {
            index,
            attribute,
            value,
            buffer: VecDeque::new(),
            next: None,
            done: false,
        }
    }

    fn head_key(&self) -> Option<String> {
        self.buffer.front().and_then(|item| s(item, TIME_SK))
    }
}

/// The index a query reads (the most selective its filters allow) and its partitions;
/// the other filters are applied to what it returns.
fn plan(query: &AuditQuery) -> (&'static str, Vec<Stream>) {
    let sharded = |index: &'static str, attribute: &'static str, prefix: &str| {
        (0..SHARDS)
            .map(|s| Stream::new(index, attribute, format!("{prefix}#{s}")))
            .collect::<Vec<_>>()
    };
    if let Some(target) = &query.target {
        return (
            "target",
            vec![
                Stream::new(TARGET_ID_INDEX, "tid", target.clone()),
                Stream::new(EXTERNAL_ID_INDEX, "xid", target.clone()),
                Stream::new(NAME_INDEX, "tname", target.to_lowercase()),
            ],
        );
    }
    // Failures and refusals are rare, so their index partitions are small; successes
    // are most of the table and come last.
    if let Some(outcome) = query.outcome.filter(|o| *o != Outcome::Success) {
        return (
            "outcome",
            sharded(OUTCOME_INDEX, "outcome_pk", &word(&outcome)),
        );
    }
    if let Some(actor) = &query.actor {
        return ("actor", sharded(ACTOR_INDEX, "actor_pk", actor));
    }
    if let Some(op) = &query.operation {
        return ("operation", sharded(OPERATION_INDEX, "op_pk", &word(op)));
    }
    if let Some(outcome) = &query.outcome {
        return (
            "outcome",
            sharded(OUTCOME_INDEX, "outcome_pk", &word(outcome)),
        );
    }
    ("time", sharded(TIME_INDEX, "time_pk", "REC"))
}

impl DynamoDbLedger {
    /// Answers [`AuditIndex::query`](gateway::audit_store::AuditIndex::query):
    /// one page of the records `query` matches, in time order across the partitions
    /// read, with a cursor where it stopped.
    pub(super) async fn query_page(
        &self,
        query: &AuditQuery,
    ) -> Result<AuditPage, AuditStoreError> {
        let (plan_id, mut streams) = plan(query);
        let mut lo = query.since.map_or_else(|| "0".to_owned(), chain::fmt_time);
        if let Some(text) = &query.cursor {
            // Sort keys are prefix-free, so anything after `after` sorts after `after!`.
            let after = format!("{}!", QueryCursor::decode(text, plan_id)?.after);
            lo = lo.max(after);
        }
        let hi = query.until.map_or_else(
            || "~".to_owned(),
            |u| format!("{}~", chain::fmt_time(u - Duration::nanoseconds(1))),
        );
        let limit = query.limit as usize;
        let mut records = Vec::new();
        if lo > hi {
            return Ok(AuditPage {
                records,
                next_cursor: None,
            });
        }
        // Each partition is read a page at a time and the pages merged by sort key, so
        // the result is in time order across shards and indexes. Records spread evenly
        // over the shards, so each page asks for a share of the limit (plus a margin),
        // and a partition whose page runs out first is simply read again.
        let share = limit / streams.len().max(1);
        let page_size = i32::try_from((share + share / 4 + 5).clamp(5, 1000)).unwrap_or(1000);
        let mut seen: HashSet<String> = HashSet::new();
        let mut position: Option<String> = None;
        let mut scanned = 0usize;
        while records.len() < limit && scanned < SCAN_BUDGET {
            let refill: Vec<usize> = (0..streams.len())
                .filter(|&i| streams[i].buffer.is_empty() && !streams[i].done)
                .collect();
            let pages = futures::future::join_all(refill.iter().map(|&i| {
                self.index_page(&streams[i], &lo, &hi, page_size, Some(QUERY_PROJECTION))
            }))
            .await;
            for (&i, page) in refill.iter().zip(pages) {
                let (items, next) = page?;
                let stream = &mut streams[i];
                stream.buffer.extend(items);
                stream.done = next.is_none();
                stream.next = next;
            }
            let Some(i) = (0..streams.len())
                .filter_map(|i| streams[i].head_key().map(|k| (k, i)))
                .min()
                .map(|(_, i)| i)
            else {
                break;
            };
            let Some(item) = streams[i].buffer.pop_front() else {
                break;
            };
            scanned += 1;
            position = s(&item, TIME_SK);
            let Some(stored) = stored_record(item) else {
                continue;
            };
            if seen.insert(stored.id.clone()) && query.matches(&stored.record) {
                records.push(stored);
            }
        }
        let more = streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
        let next_cursor = match position {
            Some(after) if more => Some(
                QueryCursor {
                    plan: plan_id.to_owned(),
                    after,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }

    /// One page of one index partition within `[lo, hi]` of the sort key.
    pub(super) async fn index_page(
        &self,
        stream: &Stream,
        lo: &str,
        hi: &str,
        page_size: i32,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<Item>), AuditStoreError> {
        let mut request = self.client.query();
        if let Some(projection) = projection {
            request = request.projection_expression(projection);
            // `hash` is a reserved word; `record` is aliased alike for symmetry. Names
            // a request does not use are an error, so only where the projection has them.
            if projection.contains("#h") {
                request = request
                    .expression_attribute_names("#h", "hash")
                    .expression_attribute_names("#r", "record");
            }
        }
        let page = request
            .table_name(&self.table)
            .index_name(stream.index)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", stream.attribute)
            .expression_attribute_names("#sk", TIME_SK)
            .expression_attribute_values(":pk", AttributeValue::S(stream.value.clone()))
            .expression_attribute_values(":lo", AttributeValue::S(lo.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(hi.to_owned()))
            .limit(page_size)
            .set_exclusive_start_key(stream.next.clone())
            .send()
            .await
            .map_err(store_unavailable)?;
        let next = page.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((page.items.unwrap_or_default(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::audit::AuditOperation;

    #[test]
    fn the_plan_reads_the_most_selective_index() {
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            let (id, streams) = plan(&q);
            (id, streams.len(), streams[0].index)
        };
        assert_eq!(
            q(|q| q.target = Some("x".into())),
            ("target", 3, TARGET_ID_INDEX)
        );
        assert_eq!(
            q(|q| {
                q.actor = Some("a".into());
                q.outcome = Some(Outcome::Failure)
            }),
            ("outcome", 4, OUTCOME_INDEX)
        );
        assert_eq!(
            q(|q| {
                q.actor = Some("a".into());
                q.outcome = Some(Outcome::Success)
            }),
            ("actor", 4, ACTOR_INDEX)
        );
        assert_eq!(
            q(|q| q.operation = Some(AuditOperation::Delete)),
            ("operation", 4, OPERATION_INDEX)
        );
        assert_eq!(q(|_| {}), ("time", 4, TIME_INDEX));
    }
}
