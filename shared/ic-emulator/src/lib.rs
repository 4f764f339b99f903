//! An emulator of the AWS IAM Identity Center SCIM endpoint, for local runs and tests.
//!
//! It follows Identity Center's documented dialect of SCIM 2.0
//! (`docs/identity-center-dialect.md`): the documented routes and methods only, `eq`-only
//! filters, cursor paging, group members stored but never returned, the PatchUser and
//! PatchGroup limits, the Identity Store's value limits, uniqueness, reserved names and id
//! shape, AWS-shaped error bodies, bearer tokens (at most two). Knobs add a rate limit
//! (429), latency, injected 500s and dropped connections, before or after a write takes
//! effect, decided by a seeded random source; two more choose behaviours AWS does not
//! document (case of `userName`, a read-after-create lag).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ic_emulator::EmulatorError> {
//! use ic_emulator::{Emulator, EmulatorConfig, Knobs};
//! let running = Emulator::start(EmulatorConfig::new("token"), "127.0.0.1:0").await?;
//! running.set_knobs(Knobs { rate_limit: Some(20), ..Knobs::default() })?;
//! println!("{}", running.base_url());
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Admin routes, outside the SCIM base path and behind the same bearer token:
//! `GET`/`PUT`/`PATCH /_emulator/knobs` (read, replace, merge [`Knobs`] as JSON),
//! `PUT /_emulator/seed` (`{"seed": N}`), `GET /_emulator/stats` ([`Stats`]),
//! `GET /_emulator/state` (users and groups with memberships), `POST /_emulator/reset`.
//!
//! `docs/identity-center-rules.md` lists each documented rule and the test covering it.

mod config;
mod discovery;
mod emulator;
mod error;
mod faults;
mod group;
mod patch;
mod query;
mod routes;
mod server;
mod store;
mod user;

pub use config::{ConfigError, DEFAULT_BASE_PATH, EmulatorConfig, FaultPhase, Knobs, MAX_TOKENS};
pub use emulator::{Emulator, Stats};
pub use routes::ADMIN_PREFIX;
pub use server::{EmulatorError, RunningEmulator};
pub use store::{GroupSnapshot, UserSnapshot};
