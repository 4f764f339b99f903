//! The client against an unreliable Identity Center: injected 500s and dropped
//! connections, before and after the write is applied, must neither lose a create nor
//! make a duplicate (`docs/okta-client.md` §8, items 1 and 2).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::{emulator, ic_client, user};
use futures::StreamExt;
use gateway::{Deadline, TargetScimClient};
use ic_emulator::{FaultPhase, Knobs};

const CREATES: usize = 1_000;
const CONCURRENCY: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_creates_through_twenty_percent_faults_make_exactly_a_thousand_users() {
    // Arrange: 10% 500s and 10% dropped connections, each before or after the write.
    let knobs = Knobs {
        fail_rate: 0.1,
        drop_rate: 0.1,
        fault_phase: FaultPhase::Either,
        ..Knobs::default()
    };
    let running = emulator(knobs).await;
    let client = ic_client(&running);
    let started = Instant::now();

    // Act
    let results: Vec<_> = futures::stream::iter(0..CREATES)
        .map(|i| {
            let client = &client;
            async move {
                let name = format!("fault{i:04}@example.com");
                let created = client
                    .create_user(
                        &user(&name, Some(&format!("okta-{i}"))),
                        Deadline::after(Duration::from_secs(60)),
                    )
                    .await;
                (name, created)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    // Assert: every create succeeded, with the id the directory holds for that name.
    let failures: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(
        failures.is_empty(),
        "{} failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let snapshot = running.users();
    assert_eq!(snapshot.len(), CREATES, "exactly one user per create");
    let names: HashSet<_> = snapshot
        .iter()
        .map(|u| u.user_name.to_lowercase())
        .collect();
    assert_eq!(names.len(), CREATES, "no duplicate userName");
    for (name, created) in &results {
        let created = created.as_ref().unwrap();
        let stored = snapshot.iter().find(|u| &u.user_name == name).unwrap();
        assert_eq!(created.id.as_deref(), Some(stored.id.as_str()), "{name}");
    }
    let stats = running.stats();
    assert!(
        stats.failed > 100 && stats.dropped > 100,
        "faults were injected: {stats:?}"
    );
    eprintln!("{CREATES} creates through faults in {elapsed:?}; emulator stats {stats:?}");
}
