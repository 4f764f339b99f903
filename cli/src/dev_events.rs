//! `scimgw dev`'s Okta event path: the hook router the `okta-hook` function serves, an
//! in-process FIFO queue with a dead-letter queue and an in-memory ledger in place of
//! SQS and the state table (or, with `--aws-endpoint`, the real ones there), the worker
//! the `event-worker` function runs, and an embedded Okta API emulator as the worker's
//! Okta (`docs/okta-events.md`, "Locally").

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use clients::{OktaClient, OktaClientConfig};
use edge::metrics::{LogSink, RequestMetrics};
use edge::{BearerAuthenticator, HookApp, StaticSecretSource, hook_router, inbound_tokens_secret};
use gateway::events::{
    EventIntake, EventWorker, InMemoryEventLedger, LocalEventQueue, retry_delay,
};
use gateway::ports::events::{EventLedger, EventQueue};
use gateway::{ScimService, SecretId, SecretSource, SecretString, SystemClock};

use crate::dev_aws::DevAws;
use okta_emulator::{Emulator, EmulatorConfig, RunningEmulator, Seed};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const HOOK_SECRET: &str = "dev/hook-secret";
const OKTA_TOKEN_SECRET: &str = "dev/okta-token";

/// The redrive limit, as the stack's default.
pub const MAX_RECEIVES: u32 = 5;

/// How many batches the local worker runs at once (the stack's concurrency cap).
const WORKER_CONCURRENCY: usize = 5;

/// The event path of a running `scimgw dev`.
pub struct DevEvents {
    /// The hook's router (`/hooks/okta`).
    pub hook: Router,
    /// The embedded Okta API emulator.
    pub okta: RunningEmulator,
    /// Its API token (`SSWS <token>`).
    pub okta_token: String,
    stop: watch::Sender<bool>,
    worker: JoinHandle<()>,
}

/// Reads `--okta-seed`: a JSON object in the Okta API's own shapes.
pub fn read_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--okta-seed {}: the file could not be read", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "--okta-seed {}: expected {{\"users\": [...], \"groups\": [...], \"memberships\": \
             {{\"<group id>\": [\"<user id>\", ...]}}}}",
            path.display()
        )
    })
}

impl DevEvents {
    /// Starts the Okta emulator (seeded) and the worker; `service` is the SCIM use cases
    /// the worker converges Identity Center through. With `aws`, the secrets, the
    /// ledger and the queues are the ones there.
    pub async fn start(
        seed: Option<Seed>,
        hook_secret: &str,
        okta_token: String,
        service: Arc<ScimService>,
        aws: Option<&DevAws>,
    ) -> anyhow::Result<Self> {
        let mut config = EmulatorConfig::new(okta_token.clone());
        if let Some(seed) = seed {
            config = config.with_seed(seed);
        }
        let okta = Emulator::start(config, "127.0.0.1:0")
            .await
            .context("starting the embedded Okta API emulator (is --okta-seed consistent?)")?;
        let hook_hashes = inbound_tokens_secret(&[hook_secret]);
        let secrets: Arc<dyn SecretSource> = match aws {
            Some(aws) => Arc::new(
                aws.secrets(&[
                    (HOOK_SECRET, &hook_hashes),
                    (OKTA_TOKEN_SECRET, &okta_token),
                ])
                .await?,
            ),
            None => Arc::new(
                StaticSecretSource::new()
                    .with(SecretId::new(HOOK_SECRET), SecretString::new(hook_hashes))
                    .with(
                        SecretId::new(OKTA_TOKEN_SECRET),
                        SecretString::new(okta_token.clone()),
                    ),
            ),
        };
        let local_queue = Arc::new(LocalEventQueue::new(MAX_RECEIVES, retry_delay));
        let (ledger, queue): (Arc<dyn EventLedger>, Arc<dyn EventQueue>) = match aws {
            Some(aws) => (Arc::new(aws.event_ledger()), Arc::new(aws.event_queue())),
            None => (Arc::new(InMemoryEventLedger::new()), local_queue.clone()),
        };
        let intake = EventIntake::new(ledger.clone(), queue, Arc::new(SystemClock));
        let app = HookApp::new(
            intake,
            BearerAuthenticator::hook_secret(secrets.clone(), SecretId::new(HOOK_SECRET)),
        )
        .with_metrics(RequestMetrics::new("okta-hook").with_sink(Arc::new(LogSink)));
        let okta_client = OktaClient::new(
            OktaClientConfig::new(okta.base_url(), SecretId::new(OKTA_TOKEN_SECRET)),
            secrets,
        )
        .context("the Okta client could not be built")?;
        let worker = Arc::new(EventWorker::new(
            service,
            Arc::new(okta_client),
            ledger,
            MAX_RECEIVES,
        ));
        let (stop, stopped) = watch::channel(false);
        let worker = match aws.map(DevAws::poller) {
            // As Lambda's SQS trigger would: receive, run the worker, delete what it did.
            Some(poller) => tokio::spawn(async move {
                poller.run(&*worker, stopped).await;
            }),
            None => tokio::spawn(local_queue.run(worker, WORKER_CONCURRENCY, stopped)),
        };
        Ok(Self {
            hook: hook_router(Arc::new(app)),
            okta,
            okta_token,
            stop,
            worker,
        })
    }

    /// Stops the worker (after its batches in flight) and the Okta emulator.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.worker.await;
        self.okta.shutdown().await;
    }
}
