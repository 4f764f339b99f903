//! The Okta Event Hook path (`docs/okta-events.md`): reading a delivery
//! ([`envelope`]), recording it durably and once ([`intake`], the `okta-hook`
//! function's use case), and applying each event from Okta's current state
//! ([`worker`], the `event-worker` function's), with in-process stand-ins for the
//! ledger and the queue ([`memory`]).

pub mod envelope;
pub mod intake;
pub mod memory;
pub mod profile;
pub mod worker;

pub use envelope::{Delivery, DeliveryError, read_delivery};
pub use intake::{EventIntake, IntakeError, IntakeReport};
pub use memory::{InMemoryEventLedger, LocalEventQueue};
pub use worker::{EVENT_CREDENTIAL, EventWorker, retry_delay};
