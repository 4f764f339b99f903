//! The ports: traits the use cases call and the adapters implement (style.md §3). They
//! speak domain types only, so that no SDK or HTTP type leaks into the use cases.

pub mod clock;
pub mod secrets;
pub mod target;
