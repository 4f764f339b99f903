//! The clock port: wall-clock time for `meta.lastModified`, audit timestamps and token
//! expiry, injected so that tests can fix it. It is the audit ledger's clock port
//! ([`audit_ledger::clock`]), so that one clock serves the use cases and the audit trail.

pub use audit_ledger::clock::{Clock, SystemClock};

#[cfg(any(test, feature = "test-util"))]
pub use audit_ledger::clock::FixedClock;
