//! The audit store's tests: queries over the ledger in memory (each filter, paging,
//! cursors), the store as the audit log port, and query validation and cursors on their
//! own. The ledger's own tests (chaining, sealing, tampering) are in `audit-ledger`.

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::audit::{AuditActor, AuditSource, AuditSubject};
use crate::translate::ResourceKind;
use crate::{Clock, FixedClock};

const START: OffsetDateTime = datetime!(2024-04-05 06:00 UTC);

fn record(n: u32, time: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        time,
        source: AuditSource::Scim {
            method: "PATCH".into(),
            path: "/Users/{id}".into(),
        },
        actor: AuditActor {
            credential: if n.is_multiple_of(2) {
                "scim-token:primary"
            } else {
                "okta-admin:alice"
            }
            .into(),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: AuditSubject {
            resource_type: Some(ResourceKind::User),
            external_id: Some(format!("00u{n}")),
            target_id: Some(format!("u-{n}")),
            name: Some(format!("user{n}@example.com")),
        },
        operation: if n.is_multiple_of(3) {
            AuditOperation::Delete
        } else {
            AuditOperation::Patch
        },
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "v1".into(),
        outcome: if n.is_multiple_of(5) {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        status: 200,
        target_status: Some(200),
        target_calls: 1,
        latency_ms: 5,
        correlation_id: format!("req-{n}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

struct Fixture {
    clock: Arc<FixedClock>,
    store: InMemoryAuditStore,
}

impl Fixture {
    fn new() -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let store = InMemoryAuditStore::ephemeral(clock.clone(), Duration::days(400)).unwrap();
        Self { clock, store }
    }

    /// Appends `n` records a minute apart from the clock's time; returns them as stored.
    async fn append(&self, n: u32) -> Vec<StoredAuditRecord> {
        let mut out = Vec::new();
        for i in 0..n {
            let at = self.clock.now();
            out.push(
                self.store
                    .ledger()
                    .append_stored(record(i, at))
                    .await
                    .unwrap(),
            );
            self.clock.advance(Duration::MINUTE);
        }
        out
    }
}

#[tokio::test]
async fn queries_filter_by_each_field_and_page_with_a_cursor() {
    // Arrange: 12 records.
    let fx = Fixture::new();
    let records = fx.append(12).await;

    // Act
    let by = |q: AuditQuery| {
        let store = &fx.store;
        async move {
            store
                .query(&q)
                .await
                .unwrap()
                .records
                .into_iter()
                .map(|r| r.record.correlation_id)
                .collect::<Vec<_>>()
        }
    };
    let target = by(AuditQuery {
        target: Some("USER3@example.com".into()),
        ..Default::default()
    })
    .await;
    let actor = by(AuditQuery {
        actor: Some("okta-admin:alice".into()),
        ..Default::default()
    })
    .await;
    let failures = by(AuditQuery {
        outcome: Some(Outcome::Failure),
        ..Default::default()
    })
    .await;
    let deletes = by(AuditQuery {
        operation: Some(AuditOperation::Delete),
        ..Default::default()
    })
    .await;
    let range = by(AuditQuery {
        since: Some(records[2].record.time),
        until: Some(records[5].record.time),
        ..Default::default()
    })
    .await;

    // Assert
    assert_eq!(target, ["req-3"]);
    assert_eq!(
        actor,
        ["req-1", "req-3", "req-5", "req-7", "req-9", "req-11"]
    );
    assert_eq!(failures, ["req-0", "req-5", "req-10"]);
    assert_eq!(deletes, ["req-0", "req-3", "req-6", "req-9"]);
    assert_eq!(range, ["req-2", "req-3", "req-4"]);

    // Paging: 12 records in pages of 5.
    let mut ids = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = fx
            .store
            .query(&AuditQuery {
                limit: 5,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        pages += 1;
        ids.extend(page.records.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        ids,
        records.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    );
    assert!(matches!(
        fx.store
            .query(&AuditQuery {
                cursor: Some("not-a-cursor".into()),
                ..Default::default()
            })
            .await,
        Err(AuditStoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn the_store_writes_through_the_audit_log_port() {
    // Arrange
    let fx = Fixture::new();
    let log: &dyn AuditLog = &fx.store;

    // Act
    log.append(record(1, START)).await.unwrap();

    // Assert
    let page = fx.store.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].record, record(1, START));
}

/// Query planning and cursors, apart from the ledger.
mod query {
    use super::super::*;
    use crate::audit::{AuditActor, AuditSource, AuditSubject};
    use crate::translate::ResourceKind;
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
                user_agent: None,
            },
            subject: AuditSubject {
                resource_type: Some(ResourceKind::User),
                external_id: Some("00u1".into()),
                target_id: Some("u-1".into()),
                name: Some("BJensen@example.com".into()),
            },
            operation: AuditOperation::Create,
            membership: None,
            changes: vec![],
            query: None,
            rule_set_version: "v1".into(),
            outcome: Outcome::Success,
            status: 201,
            target_status: Some(201),
            target_calls: 1,
            latency_ms: 3,
            correlation_id: "req-1".into(),
            reason: None,
            source_ip: None,
            request_id: None,
            error: None,
        }
    }

    #[test]
    fn a_target_filter_matches_the_identity_center_id_the_okta_id_or_the_name_in_any_case() {
        for wanted in ["u-1", "00u1", "bjensen@EXAMPLE.com"] {
            let query = AuditQuery {
                target: Some(wanted.into()),
                ..AuditQuery::default()
            };
            assert!(query.matches(&record()), "{wanted}");
        }
        let other = AuditQuery {
            target: Some("u-2".into()),
            ..AuditQuery::default()
        };
        assert!(!other.matches(&record()));
    }

    #[test]
    fn the_period_includes_since_and_excludes_until() {
        // Arrange
        let at = record().time;
        let from_at = AuditQuery {
            since: Some(at),
            ..AuditQuery::default()
        };
        let until_at = AuditQuery {
            until: Some(at),
            ..AuditQuery::default()
        };

        // Assert
        assert!(from_at.matches(&record()));
        assert!(!until_at.matches(&record()));
    }

    #[test]
    fn limits_out_of_range_and_empty_periods_are_refused() {
        let zero = AuditQuery {
            limit: 0,
            ..AuditQuery::default()
        };
        let huge = AuditQuery {
            limit: MAX_LIMIT + 1,
            ..AuditQuery::default()
        };
        let at = record().time;
        let empty = AuditQuery {
            since: Some(at),
            until: Some(at),
            ..AuditQuery::default()
        };
        for q in [zero, huge, empty] {
            assert!(matches!(
                q.validate(),
                Err(AuditStoreError::InvalidQuery(_))
            ));
        }
        assert!(AuditQuery::default().validate().is_ok());
    }

    #[test]
    fn a_cursor_round_trips_and_a_garbled_or_foreign_one_is_refused() {
        // Arrange
        let cursor = QueryCursor {
            plan: "time".into(),
            after: "2024-04-05T06:32:12.000000000Z#20240405T06-0123456789abcdef:0000000001".into(),
        };

        // Act
        let text = cursor.encode();

        // Assert
        assert_eq!(QueryCursor::decode(&text, "time").unwrap(), cursor);
        for bad in ["", "!!!", "eyJ4IjoxfQ", &"A".repeat(5000)] {
            assert!(matches!(
                QueryCursor::decode(bad, "time"),
                Err(AuditStoreError::InvalidCursor)
            ));
        }
        assert!(matches!(
            QueryCursor::decode(&text, "actor"),
            Err(AuditStoreError::InvalidCursor)
        ));
    }
}

#[tokio::test]
async fn a_page_of_a_100_000_record_trail_parses_each_record_once() {
    // Arrange: 100 000 records of 1 000 users in one hour; the first query parses them.
    let fx = Fixture::new();
    for i in 0..100_000u32 {
        let at = fx.clock.now();
        fx.store
            .ledger()
            .append_stored(record(i % 1_000, at))
            .await
            .unwrap();
        fx.clock.advance(Duration::milliseconds(30));
    }
    let query = AuditQuery {
        target: Some("u-7".into()),
        limit: 50,
        ..AuditQuery::default()
    };
    let started = std::time::Instant::now();
    let cold = fx.store.query(&query).await.unwrap();
    let cold_time = started.elapsed();

    // Act
    let started = std::time::Instant::now();
    let warm = fx.store.query(&query).await.unwrap();
    let warm_time = started.elapsed();

    // Assert: user 7's first 50 of 100 records in time order, a cursor to the rest, the
    // same again, and the second page of the trail far cheaper than the first.
    assert_eq!(warm.records, cold.records);
    assert_eq!(warm.records.len(), 50);
    assert!(
        warm.records
            .iter()
            .all(|r| r.record.subject.target_id.as_deref() == Some("u-7"))
    );
    assert!(
        warm.records
            .windows(2)
            .all(|w| w[0].record.time < w[1].record.time)
    );
    assert!(warm.next_cursor.is_some());
    assert!(
        warm_time * 4 < cold_time,
        "warm {warm_time:?}, cold {cold_time:?}"
    );
}
