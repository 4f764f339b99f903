//! The client against a throttling Identity Center: 2 000 operations at 20 requests per
//! second, sent with far more concurrency than the limit allows, must all succeed,
//! without duplicates, in close to the 100 seconds the limit itself imposes
//! (`docs/okta-client.md` §8, item 1: throttling killed whole runs of the peers).
//!
//! This is the one long test of the crate (about 100 s), by necessity.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::{TOKEN, emulator, token_id, user};
use clients::{HttpTargetScimClient, TargetClientConfig, TargetDialect};
use futures::StreamExt;
use gateway::{Deadline, InMemorySecretSource, TargetScimClient};
use ic_emulator::Knobs;

const OPERATIONS: usize = 2_000;
const RATE_LIMIT: u32 = 20;
/// Enough callers to ask for several times the limit at every moment.
const CONCURRENCY: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_creates_at_twenty_per_second_all_succeed_once_in_close_to_a_hundred_seconds()
{
    // Arrange: the production defaults (retry schedule, 20 s budget); no Retry-After,
    // as Identity Center documents none.
    let running = emulator(Knobs {
        rate_limit: Some(RATE_LIMIT),
        ..Knobs::default()
    })
    .await;
    let secrets = std::sync::Arc::new(InMemorySecretSource::with(&token_id(), TOKEN));
    let config = TargetClientConfig::new(
        running.base_url(),
        token_id(),
        TargetDialect::IdentityCenter,
    );
    let client = HttpTargetScimClient::new(config, secrets).unwrap();
    let started = Instant::now();

    // Act
    let results: Vec<_> = futures::stream::iter(0..OPERATIONS)
        .map(|i| {
            let client = &client;
            async move {
                let op_started = Instant::now();
                let name = format!("throttled{i:04}@example.com");
                let created = client
                    .create_user(&user(&name, None), Deadline::default())
                    .await;
                (created, op_started.elapsed())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    // Assert
    let failures = results.iter().filter(|(r, _)| r.is_err()).count();
    let snapshot = running.users();
    let distinct: HashSet<_> = snapshot
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();
    let duplicates = snapshot.len() - distinct.len();
    let bound = Duration::from_secs((OPERATIONS as u64) / u64::from(RATE_LIMIT));
    let slowest = results.iter().map(|(_, d)| *d).max().unwrap_or_default();
    let stats = running.stats();
    eprintln!(
        "throttling: {OPERATIONS} creates in {elapsed:.1?} (bound {bound:?}, ratio {:.3}); \
         {failures} failures, {duplicates} duplicates, {} users; slowest op {slowest:.1?}; {stats:?}",
        elapsed.as_secs_f64() / bound.as_secs_f64(),
        snapshot.len(),
    );
    assert_eq!(failures, 0, "zero failures");
    assert_eq!(duplicates, 0, "zero duplicates");
    assert_eq!(snapshot.len(), OPERATIONS);
    assert!(stats.throttled > 0, "the limit was reached");
    let ratio = elapsed.as_secs_f64() / bound.as_secs_f64();
    assert!(
        (0.85..=1.15).contains(&ratio),
        "took {elapsed:?}, {ratio:.3} of the {bound:?} bound"
    );
}
