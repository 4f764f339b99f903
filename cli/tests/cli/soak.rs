//! The fault soak, small (`docs/reliability.md`; the full run is `scripts/soak`): 150
//! events and 60 SCIM calls through a real `scimgw dev` over its own restartable moto
//! server, with the full soak's faults and one listener restart, and the same end checks,
//! among them one outcome for every intent, outage or not.

#[path = "../soak/mod.rs"]
mod driver;

use std::path::PathBuf;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_soak_through_faults_and_a_moto_restart_loses_and_duplicates_nothing() {
    // Arrange: the full soak's faults, a shorter outage, a run of its own.
    let dir = std::env::temp_dir().join(test_services::unique_name("scimgw-soak"));
    let mut config = driver::Config::new(150, 60, 17);
    config.scim_lanes = 2;
    config.moto_down = Duration::from_secs(3);
    config.drain_timeout = Duration::from_secs(240);
    config.scimgw = PathBuf::from(env!("CARGO_BIN_EXE_scimgw"));
    config.python = PathBuf::from(test_services::python());
    config.moto_script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/test-services/moto_restartable.py"
    ));
    config.work_dir = dir.clone();

    // Act
    let report = driver::run(config).await.unwrap();

    // Assert: every end condition, and the faults really struck.
    assert!(
        report.failures.is_empty(),
        "{:#?}\n(logs in {})",
        report.failures,
        dir.display()
    );
    assert_eq!(report.accepted_events, 150);
    assert!(report.scim_calls >= 60, "{}", report.scim_calls);
    let struck = |key: &str| report.ic_stats[key].as_u64().unwrap_or(0);
    assert!(
        struck("failed") > 0 && struck("dropped") > 0,
        "{}",
        report.ic_stats
    );
    assert!(report.listener_down_s.is_some_and(|d| d >= 2.5));
    let _ = std::fs::remove_dir_all(dir);
}
