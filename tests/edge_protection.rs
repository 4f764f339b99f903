//! The SCIM edge under a flood of junk tokens, served over real TCP the way `scimgw dev`
//! serves it: valid requests are still answered within their budget, every junk request
//! is refused 401 and counted as `AuthRefused`, and the flood cannot make the gateway
//! re-read its inbound-token secret more often than its refresh limit allows.
//!
//! In AWS the flood is stopped earlier, by the WAF in front of the SCIM stage (its rules
//! are checked in `template_policy`); this is the layer behind it, which must hold on
//! its own too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clients::{HttpTargetScimClient, TargetClientConfig, TargetDialect};
use edge::metrics::{AUTH_REFUSED, RecordingSink, RequestMetrics};
use edge::{BearerAuthenticator, ScimApp, StaticSecretSource, inbound_tokens_secret, scim_router};
use gateway::audit::InMemoryAuditLog;
use gateway::rules::IdentityRules;
use gateway::{ScimService, SecretError, SecretId, SecretSource, SecretString, SystemClock};

use crate::scim_support::{INBOUND_TOKEN, RecordingEmulator, TARGET_TOKEN};

/// A secret source that counts the reads that bypass the cache.
struct CountingSecrets {
    inner: StaticSecretSource,
    fresh: AtomicUsize,
}

#[async_trait]
impl SecretSource for CountingSecrets {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.inner.get(id).await
    }

    async fn get_fresh(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.fresh.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
}

#[tokio::test]
async fn a_flood_of_junk_tokens_does_not_keep_okta_from_being_served() {
    // Arrange: the gateway over TCP, in front of the emulator.
    let emulator = RecordingEmulator::start().await;
    let secrets = Arc::new(CountingSecrets {
        inner: StaticSecretSource::new()
            .with(SecretId::new("target"), SecretString::new(TARGET_TOKEN))
            .with(
                SecretId::new("inbound"),
                SecretString::new(inbound_tokens_secret(&[INBOUND_TOKEN])),
            ),
        fresh: AtomicUsize::new(0),
    });
    let target = HttpTargetScimClient::new(
        TargetClientConfig::new(
            &emulator.url,
            SecretId::new("target"),
            TargetDialect::IdentityCenter,
        ),
        secrets.clone(),
    )
    .unwrap();
    let service = ScimService::new(
        Arc::new(target),
        Arc::new(IdentityRules::new()),
        Arc::new(InMemoryAuditLog::new()),
        Arc::new(SystemClock),
        Duration::from_secs(20),
    );
    let sink = RecordingSink::default();
    let app = ScimApp::new(
        service,
        BearerAuthenticator::new(secrets.clone(), SecretId::new("inbound")),
    )
    .with_metrics(RequestMetrics::new("scim-api").with_sink(Arc::new(sink.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/scim/v2", listener.local_addr().unwrap());
    let service = scim_router(Arc::new(app)).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, service).await;
    });
    let http = reqwest::Client::new();

    // Act: 8 clients send 250 junk tokens each while Okta makes 40 lookups.
    let flood: Vec<_> = (0..8)
        .map(|client| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let mut refused = 0;
                for n in 0..250 {
                    let status = http
                        .get(format!("{base}/Users"))
                        .bearer_auth(format!("junk-{client}-{n}"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status == 401 {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for n in 0..40 {
        let started = Instant::now();
        let status = http
            .get(format!(
                "{base}/Users?filter=userName%20eq%20%22okta{n}%40example.com%22"
            ))
            .bearer_auth(INBOUND_TOKEN)
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .send()
            .await
            .unwrap()
            .status();
        latencies.push(started.elapsed());
        assert_eq!(status, 200, "lookup {n}");
    }
    let mut refused = 0;
    for client in flood {
        refused += client.await.unwrap();
    }
    server.abort();

    // Assert: Okta served well inside its budget (Okta gives up after about 30 s; the
    // gateway's own budget is 20 s), every junk request refused and counted, and the
    // secret re-read at most once for the whole flood (a refresh per 30 s at most).
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = latencies[latencies.len() - 1];
    assert!(median < Duration::from_millis(500), "median {median:?}");
    assert!(worst < Duration::from_secs(3), "worst {worst:?}");
    assert_eq!(refused, 2000);
    let counted: f64 = sink
        .documents()
        .iter()
        .filter_map(|d| d[AUTH_REFUSED].as_f64())
        .sum();
    assert_eq!(counted, 2000.0);
    assert!(secrets.fresh.load(Ordering::SeqCst) <= 1);
}
