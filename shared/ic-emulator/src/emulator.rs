//! The emulator handle: shared state behind the router, and the Rust API tests use to
//! change knobs, rotate tokens, read counters and inspect the directory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Instant;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde::Serialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::{ConfigError, EmulatorConfig, Knobs, validate_tokens};
use crate::faults::{Counters, Fault, FaultDice, TokenBucket};
use crate::store::{GroupSnapshot, Store, UserSnapshot};

/// Locks a mutex, carrying on after a panic elsewhere: the emulator's state stays usable
/// for the test that is reading it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) base_path: String,
    tokens: RwLock<Vec<String>>,
    knobs: Mutex<Knobs>,
    bucket: Mutex<Option<TokenBucket>>,
    dice: Mutex<FaultDice>,
    pub(crate) store: Mutex<Store>,
    pub(crate) counters: Counters,
    id_prefix: String,
}

impl Shared {
    /// Whether the request carries `Authorization: Bearer <one of the tokens>`, compared
    /// in constant time.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
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

    /// Takes a rate-limit token; `true` when the request may proceed.
    pub(crate) fn admit(&self) -> bool {
        lock(&self.bucket)
            .as_mut()
            .is_none_or(|bucket| bucket.try_take(Instant::now()))
    }

    pub(crate) fn roll(&self, knobs: &Knobs) -> Fault {
        lock(&self.dice).roll(knobs)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// A new resource id in Identity Center's shape: a 10-hex-digit directory prefix, a
    /// dash and a UUID (AWS-DG getuser: `9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734`).
    pub(crate) fn new_id(&self) -> String {
        format!("{}-{}", self.id_prefix, Uuid::new_v4())
    }
}

/// Whether `id` has the shape of an Identity Store id:
/// `([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
/// (Identity Store API `DescribeUser` `UserId`, `DescribeGroup` `GroupId`;
/// `docs/identity-center-dialect.md` §7). Lower-case hex only, as the pattern has it.
pub(crate) fn is_resource_id(id: &str) -> bool {
    let hex = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let parts: Vec<&str> = id.split('-').collect();
    let uuid = match parts.as_slice() {
        [prefix, rest @ ..] if rest.len() == 5 && hex(prefix, 10) => rest,
        all => all,
    };
    uuid.len() == 5
        && uuid
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(part, len)| hex(part, len))
}

/// Counters of SCIM requests (admin requests are not counted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// SCIM requests received, including those throttled, failed, dropped or refused.
    pub requests: u64,
    /// Requests answered 429 ThrottlingException by the rate limit.
    pub throttled: u64,
    /// Requests answered with an injected 500 InternalServerException.
    pub failed: u64,
    /// Requests whose connection was closed without an answer.
    pub dropped: u64,
    /// Requests by route and answer, keyed by method, route pattern below the base path
    /// (with the attribute a list is filtered on) and status, e.g.
    /// `GET /Users?filter=externalId 200`, `PATCH /Groups/{id} 204`, `POST /Users 429`;
    /// `dropped` for a connection closed without an answer, `other` for paths the API
    /// does not have. Tells which requests a client made, not only how many.
    pub by_answer: BTreeMap<String, u64>,
}

impl Stats {
    /// Requests answered on `route` (method and pattern, as in [`Stats::by_answer`]),
    /// whatever the answer.
    pub fn route(&self, route: &str) -> u64 {
        self.by_answer
            .iter()
            .filter(|(key, _)| key.rsplit_once(' ').is_some_and(|(r, _)| r == route))
            .map(|(_, n)| n)
            .sum()
    }
}

/// An Identity Center SCIM emulator: its state and its router. Cheap to clone; clones
/// share the state. [`Emulator::start`] serves it over HTTP; [`Emulator::router`] gives the
/// axum router for in-process tests (where a dropped connection can only show as a 500).
#[derive(Debug, Clone)]
pub struct Emulator {
    pub(crate) shared: Arc<Shared>,
}

impl Emulator {
    /// Builds an emulator with an empty directory.
    pub fn new(config: EmulatorConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut dice = FaultDice::new(config.seed);
        let id_prefix = format!("{:010x}", dice.prefix());
        let bucket = config
            .knobs
            .rate_limit
            .map(|rate| TokenBucket::new(rate, Instant::now()));
        Ok(Self {
            shared: Arc::new(Shared {
                base_path: config.base_path,
                tokens: RwLock::new(config.tokens),
                knobs: Mutex::new(config.knobs),
                bucket: Mutex::new(bucket),
                dice: Mutex::new(dice),
                store: Mutex::new(Store::default()),
                counters: Counters::default(),
                id_prefix,
            }),
        })
    }

    /// The axum router serving the SCIM routes under the base path and the admin routes
    /// under `/_emulator`.
    pub fn router(&self) -> Router {
        crate::routes::router(self.shared.clone())
    }

    /// The SCIM base path, e.g. `/scim/v2`.
    pub fn base_path(&self) -> &str {
        &self.shared.base_path
    }

    /// The knobs in force.
    pub fn knobs(&self) -> Knobs {
        self.shared.knobs()
    }

    /// Replaces the knobs. A new or changed rate limit starts with a full bucket.
    pub fn set_knobs(&self, knobs: Knobs) -> Result<(), ConfigError> {
        knobs.validate()?;
        let mut current = lock(&self.shared.knobs);
        let mut bucket = lock(&self.shared.bucket);
        if current.rate_limit != knobs.rate_limit || bucket.is_none() != knobs.rate_limit.is_none()
        {
            *bucket = knobs
                .rate_limit
                .map(|rate| TokenBucket::new(rate, Instant::now()));
        }
        *current = knobs;
        Ok(())
    }

    /// Re-seeds the random source of fault decisions.
    pub fn reseed(&self, seed: u64) {
        *lock(&self.shared.dice) = FaultDice::new(seed);
    }

    /// Replaces the accepted bearer tokens (one or two), as a token rotation does.
    pub fn set_tokens(&self, tokens: Vec<String>) -> Result<(), ConfigError> {
        validate_tokens(&tokens)?;
        *self
            .shared
            .tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tokens;
        Ok(())
    }

    /// All counters at once.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        Stats {
            requests: Counters::read(&c.requests),
            throttled: Counters::read(&c.throttled),
            failed: Counters::read(&c.failed),
            dropped: Counters::read(&c.dropped),
            by_answer: c.answers(),
        }
    }

    /// SCIM requests received.
    pub fn requests(&self) -> u64 {
        self.stats().requests
    }

    /// Requests answered 429.
    pub fn throttled(&self) -> u64 {
        self.stats().throttled
    }

    /// Requests answered with an injected 500.
    pub fn failed(&self) -> u64 {
        self.stats().failed
    }

    /// Requests whose connection was dropped.
    pub fn dropped(&self) -> u64 {
        self.stats().dropped
    }

    /// Every user, in creation order, with the groups each belongs to.
    pub fn users(&self) -> Vec<UserSnapshot> {
        self.shared.store().user_snapshots()
    }

    /// Every group, in creation order, with its members.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        self.shared.store().group_snapshots()
    }

    /// Empties the directory and zeroes the counters; knobs and tokens stay.
    pub fn reset(&self) {
        *self.shared.store() = Store::default();
        self.shared.counters.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_the_identity_store_shape_and_others_do_not() {
        // Identity Store API DescribeUser UserId:
        // ([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let id = emulator.shared.new_id();
        assert!(is_resource_id(&id), "{id}");
        assert!(is_resource_id(
            "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734"
        ));
        assert!(is_resource_id("ee533c18-538a-4cd3-a572-63fb863ed734"));
        for bad in [
            "",
            "missing",
            "9067729B3D-EE533C18-538A-4CD3-A572-63FB863ED734",
            "9067729b3-ee533c18-538a-4cd3-a572-63fb863ed734",
            "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed73",
            "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734-",
            "9067729b3d9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734",
            "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed7é",
            ".search",
        ] {
            assert!(!is_resource_id(bad), "{bad}");
        }
    }
}
