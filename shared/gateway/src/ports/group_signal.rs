//! The group-created signal port: tells the entitlements function that a group was just
//! created in Identity Center, so that its account assignments are made at once rather
//! than at the next scheduled run (`docs/entitlements.md`, "In the stack").
//!
//! A signal is best effort by design: it is sent after the group exists, and a signal
//! that cannot be sent is logged and counted, never an error of the SCIM request or the
//! event that created the group. The entitlements function's scheduled run plans the
//! whole organization and assigns whatever a lost signal missed. The SQS adapter is
//! `aws_adapters::SqsGroupSignal`.

use async_trait::async_trait;

/// Where group creations are signalled.
#[async_trait]
pub trait GroupSignal: Send + Sync {
    /// The group `group_id` (its Identity Center id) was created. `Err` says why the
    /// signal was not sent (no secret in it).
    async fn group_created(&self, group_id: &str) -> Result<(), String>;
}
