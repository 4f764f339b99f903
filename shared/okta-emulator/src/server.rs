//! Serving the emulator over TCP, with an accept loop that a shutdown ends together with
//! every open connection: a graceful shutdown would wait on the idle keep-alive
//! connections that HTTP clients' pools hold open. An injected drop closes its
//! connection unanswered: hyper does so when the service returns an error.

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::config::ConfigError;
use crate::emulator::Emulator;
use crate::routes::{ADMIN_PREFIX, DropConnection};
use crate::seed::SeedError;
use crate::{EmulatorConfig, routes};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration's seed cannot be loaded.
    #[error(transparent)]
    Seed(#[from] SeedError),
    /// The listening socket could not be opened.
    #[error("okta-emulator: cannot listen: {0}")]
    Bind(#[source] std::io::Error),
}

/// The error the service returns to make hyper close the connection unanswered.
#[derive(Debug, thiserror::Error)]
#[error("okta-emulator: connection dropped on purpose")]
struct ConnectionDropped;

/// An emulator serving HTTP/1.1 on a local port. Derefs to [`Emulator`] for knobs,
/// counters, seeds and snapshots. Dropping it stops the server, as
/// [`RunningEmulator::shutdown`] does.
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: Emulator,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Builds an emulator and serves it on `addr` (e.g. `"127.0.0.1:0"` for any free port).
    pub async fn start(
        config: EmulatorConfig,
        addr: impl ToSocketAddrs,
    ) -> Result<RunningEmulator, EmulatorError> {
        Emulator::new(config)?.serve(addr).await
    }

    /// Serves this emulator on `addr`; the state stays shared with `self`. Links name
    /// the listening address unless the configuration gave a base URL.
    pub async fn serve(&self, addr: impl ToSocketAddrs) -> Result<RunningEmulator, EmulatorError> {
        let listener = TcpListener::bind(addr).await.map_err(EmulatorError::Bind)?;
        let local = listener.local_addr().map_err(EmulatorError::Bind)?;
        self.shared.set_bound_url(format!("http://{local}"));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(
            listener,
            routes::router(self.shared.clone()),
            stopped,
        ));
        Ok(RunningEmulator {
            emulator: self.clone(),
            addr: local,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

impl RunningEmulator {
    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The org URL, e.g. `http://127.0.0.1:40123` (no trailing slash); the API is under
    /// `/api/v1` of it, as at `https://example.okta.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The admin base URL, e.g. `http://127.0.0.1:40123/_emulator`.
    pub fn admin_url(&self) -> String {
        format!("http://{}{ADMIN_PREFIX}", self.addr)
    }

    /// The emulator behind the server.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops accepting, closes every open connection and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Deref for RunningEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "okta-emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let response = match router.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%error, "okta-emulator: connection ended");
    }
}
