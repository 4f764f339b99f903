//! The emulator handle: the state shared behind the router, and the Rust API tests use to
//! change knobs, rotate tokens, load seeds, read counters and inspect the org.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde::Serialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::config::{ConfigError, EmulatorConfig, Knobs, validate_tokens};
use crate::limits::{Dice, Fault, RateStanding, RateWindow};
use crate::seed::{Seed, SeedError};
use crate::server::EmulatorError;
use crate::store::Store;

/// Locks a mutex, carrying on after a panic elsewhere: the state stays usable for the
/// test that is reading it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters of API requests (admin requests are not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// API requests received, refused ones included.
    pub requests: u64,
    /// Requests answered 429 E0000047 by the rate limit.
    pub throttled: u64,
    /// Requests answered with an injected 500.
    pub failed: u64,
    /// Requests whose connection was closed without an answer (`drop_rate`).
    pub dropped: u64,
    /// Requests answered 401 E0000011.
    pub unauthorized: u64,
    /// Requests per route, keyed by method and route pattern, e.g.
    /// `GET /api/v1/users/{id}`; `other` for paths the API does not have.
    pub by_route: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests received on one route, e.g. `stats.route("GET /api/v1/users")`.
    pub fn route(&self, key: &str) -> u64 {
        self.by_route.get(key).copied().unwrap_or(0)
    }
}

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    tokens: RwLock<Vec<String>>,
    configured_url: Option<String>,
    bound_url: RwLock<Option<String>>,
    knobs: Mutex<Knobs>,
    window: Mutex<RateWindow>,
    dice: Mutex<Dice>,
    store: Mutex<Store>,
    stats: Mutex<Stats>,
    /// The `type` of users created without one: the org's default user type.
    pub(crate) default_type: Value,
}

impl Shared {
    /// Whether the request carries `SSWS <token>` or `Bearer <token>` with one of the
    /// accepted tokens (Okta's API token and OAuth schemes), compared in constant time.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| {
                scheme.eq_ignore_ascii_case("ssws") || scheme.eq_ignore_ascii_case("bearer")
            })
            .map(|(_, token)| token.trim());
        let Some(presented) = presented else {
            return false;
        };
        let tokens = self.tokens.read().unwrap_or_else(PoisonError::into_inner);
        let mut ok = subtle::Choice::from(0);
        for token in tokens.iter() {
            ok |= token.as_bytes().ct_eq(presented.as_bytes());
        }
        ok.into()
    }

    pub(crate) fn knobs(&self) -> Knobs {
        lock(&self.knobs).clone()
    }

    /// Counts a request against the rate limit, when the limit allows it.
    pub(crate) fn admit(&self, rate_limit: Option<u32>) -> RateStanding {
        lock(&self.window).admit(epoch_ms(), rate_limit)
    }

    /// Where the rate limit stands, without counting a request.
    pub(crate) fn standing(&self, rate_limit: Option<u32>) -> RateStanding {
        lock(&self.window).standing(epoch_ms(), rate_limit)
    }

    pub(crate) fn fault(&self, knobs: &Knobs) -> Fault {
        lock(&self.dice).fault(knobs.error_rate, knobs.drop_rate)
    }

    /// A new id with `prefix` that no resource has had.
    pub(crate) fn new_id(&self, prefix: &str, store: &Store) -> String {
        let mut dice = lock(&self.dice);
        loop {
            let id = dice.id(prefix);
            if !store.id_taken(&id) {
                return id;
            }
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub(crate) fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    /// The org URL for links: the configured one, else the one the server listens on,
    /// else `http://<Host>` of the request.
    pub(crate) fn org_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.configured_url {
            return url.clone();
        }
        if let Some(url) = self
            .bound_url
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return url;
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }

    pub(crate) fn set_bound_url(&self, url: String) {
        *self
            .bound_url
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(url);
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// An Okta Management API emulator: its state and its router. Cheap to clone; clones
/// share the state. [`Emulator::start`] serves it over HTTP; [`Emulator::router`] gives the
/// axum router, to mount in another server or to call in process.
#[derive(Debug, Clone)]
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
}

impl Emulator {
    /// Builds an emulator holding the configuration's seed, or an empty org.
    pub fn new(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        config.validate()?;
        let mut dice = Dice::new(config.knobs.seed);
        let default_type = json!({"id": dice.id("oty")});
        let store = match &config.seed {
            Some(seed) => Store::from_seed(seed, &default_type)?,
            None => Store::default(),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                tokens: RwLock::new(config.tokens),
                configured_url: config.base_url,
                bound_url: RwLock::new(None),
                knobs: Mutex::new(config.knobs),
                window: Mutex::new(RateWindow::default()),
                dice: Mutex::new(dice),
                store: Mutex::new(store),
                stats: Mutex::new(Stats::default()),
                default_type,
            }),
        })
    }

    /// The axum router: the API under `/api/v1` and the admin routes under `/_emulator`.
    /// Mounted under a prefix, give the emulator that prefix in
    /// [`EmulatorConfig::base_url`] so that its links point back at it.
    pub fn router(&self) -> Router {
        crate::routes::router(self.shared.clone())
    }

    /// The knobs in force.
    pub fn knobs(&self) -> Knobs {
        self.shared.knobs()
    }

    /// Replaces the knobs. A changed `seed` restarts the random source.
    pub fn set_knobs(&self, knobs: Knobs) -> Result<(), ConfigError> {
        knobs.validate()?;
        let mut current = lock(&self.shared.knobs);
        if current.seed != knobs.seed {
            *lock(&self.shared.dice) = Dice::new(knobs.seed);
        }
        *current = knobs;
        Ok(())
    }

    /// Replaces the accepted API tokens (one or two), as a rotation does.
    pub fn set_tokens(&self, tokens: Vec<String>) -> Result<(), ConfigError> {
        validate_tokens(&tokens)?;
        *self
            .shared
            .tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tokens;
        Ok(())
    }

    /// Replaces the whole org with `seed`; on an error the org stays as it was.
    pub fn load_seed(&self, seed: &Seed) -> Result<(), SeedError> {
        let store = Store::from_seed(seed, &self.shared.default_type)?;
        *self.shared.store() = store;
        Ok(())
    }

    /// The org now, as a seed document (without `_links`): it loads back as it is.
    pub fn state(&self) -> Seed {
        self.shared.store().to_seed()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats().clone()
    }

    /// Empties the org and zeroes the counters; knobs and tokens stay.
    pub fn reset(&self) {
        *self.shared.store() = Store::default();
        *self.shared.stats() = Stats::default();
    }
}
