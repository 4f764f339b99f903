//! An emulator of the part of Okta's Management API the gateway reads, for tests and
//! `scimgw dev`: users with their lifecycle, groups with their members, and app
//! assignments, in Okta's shapes (Users, Groups and Apps API references), with Okta's
//! cursor paging in `Link` headers, its error bodies, its API-token authentication
//! (`SSWS <token>`, or `Bearer <token>`; two tokens at once for a rotation) and its
//! rate-limit headers. Knobs add a rate limit (429 E0000047), latency and injected 500s
//! decided by a seeded random source, and a page-size cap that makes clients page.
//!
//! ```no_run
//! # async fn demo() -> Result<(), okta_emulator::EmulatorError> {
//! use okta_emulator::{Emulator, EmulatorConfig, Knobs, Seed};
//! let seed = Seed {
//!     users: vec![Seed::user_object("00u1", "ada@example.com")],
//!     groups: vec![Seed::group_object("00g1", "Engineering")],
//!     memberships: [("00g1".to_owned(), vec!["00u1".to_owned()])].into(),
//!     ..Seed::default()
//! };
//! let config = EmulatorConfig::new("api-token").with_seed(seed);
//! let running = Emulator::start(config, "127.0.0.1:0").await?;
//! running.set_knobs(Knobs { rate_limit: Some(5), ..Knobs::default() })?;
//! println!("org URL {}", running.base_url()); // the API is under /api/v1
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Admin routes, outside the API and behind the same token:
//! `GET`/`PUT`/`PATCH /_emulator/knobs` (read, replace, merge [`Knobs`] as JSON),
//! `GET /_emulator/stats` ([`Stats`]), `GET /_emulator/state` (the org as a [`Seed`]),
//! `PUT /_emulator/seed-data` (replace the org with a [`Seed`]),
//! `PUT /_emulator/tokens` (`{"tokens": [..]}`), `POST /_emulator/reset` (empty the org).
//!
//! What the emulator simplifies is said in each API module's header: `users`, `groups`,
//! `apps`.

mod apps;
mod config;
mod emulator;
mod error;
mod groups;
mod limits;
mod paging;
mod routes;
mod seed;
mod server;
mod store;
mod users;

pub use config::{ConfigError, EmulatorConfig, Knobs, MAX_TOKENS, NOMINAL_LIMIT};
pub use emulator::{Emulator, Stats};
pub use routes::ADMIN_PREFIX;
pub use seed::{Seed, SeedError};
pub use server::{EmulatorError, RunningEmulator};
