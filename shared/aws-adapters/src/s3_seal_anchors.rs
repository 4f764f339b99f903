//! Seal anchors in S3 ([`SealAnchors`]): a copy of every seal, written with Object Lock
//! in compliance mode until the seal's retention ends, so that nobody (not the table's
//! writers, not the account's administrators, not root) can delete or overwrite it
//! before then (Amazon S3 user guide, "Locking objects with Object Lock", retention
//! modes). The bucket may live in another account (Control Tower's Log Archive), whose
//! policy lets the sealer put and verifiers get.
//!
//! One object per seal, `<prefix><last hour>.json`, holding the seal's fields as JSON.
//! Keys sort like hours, so a listing returns them in order.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockMode,
    ObjectLockRetentionMode, ObjectLockRule,
};
use futures::StreamExt as _;
use gateway::audit_store::chain;
use gateway::audit_store::ledger::{LedgerError, RawSeal, SealAnchors, SealEntry};
use serde::{Deserialize, Serialize};

/// The key prefix of the anchors.
pub const DEFAULT_PREFIX: &str = "seals/";

/// How far back the newest anchor is looked for before listing the whole bucket: the
/// sealer anchors every hour, so it is normally in the last few hours.
const RECENT_HOURS: i64 = 48;

/// How many anchors are read at once.
const READS: usize = 8;

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> LedgerError {
    LedgerError::Unavailable(Box::new(e))
}

/// An anchor's content: the seal's fields.
#[derive(Debug, Serialize, Deserialize)]
struct Anchor {
    from: String,
    through: String,
    prev_mac: String,
    prev_expires_at: i64,
    chains: String,
    key_id: String,
    mac: String,
    expires_at: i64,
}

/// Seal anchors in an S3 bucket with Object Lock.
#[derive(Clone)]
pub struct S3SealAnchors {
    client: Client,
    bucket: String,
    prefix: String,
}

impl fmt::Debug for S3SealAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3SealAnchors(s3://{}/{})", self.bucket, self.prefix)
    }
}

impl S3SealAnchors {
    /// Anchors under [`DEFAULT_PREFIX`] in `bucket`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }

    /// The object key of the seal through `hour`.
    pub fn key(&self, hour: &str) -> String {
        format!("{}{hour}.json", self.prefix)
    }

    fn hour_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        let hour = key.strip_prefix(&self.prefix)?.strip_suffix(".json")?;
        chain::hour_start(hour).map(|_| hour)
    }

    /// The hours anchored after `start_after` (an hour key, or empty for all), up to
    /// and including `through` if given, in order.
    async fn hours(
        &self,
        start_after: &str,
        through: Option<&str>,
    ) -> Result<Vec<String>, LedgerError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .start_after(format!("{}{start_after}", self.prefix))
            .into_paginator()
            .send();
        let mut hours = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            for object in page.contents() {
                let Some(hour) = object.key().and_then(|k| self.hour_of(k)) else {
                    continue;
                };
                if through.is_some_and(|t| hour > t) {
                    return Ok(hours);
                }
                hours.push(hour.to_owned());
            }
        }
        Ok(hours)
    }

    async fn read(&self, hour: &str) -> Result<Option<RawSeal>, LedgerError> {
        let key = self.key(hour);
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let bytes = out.body.collect().await.map_err(unavailable)?.into_bytes();
        let location = format!("s3://{}/{key}", self.bucket);
        // An object that does not read as this hour's anchor is kept as one with no
        // fields, so that verification reports it rather than failing.
        let empty = RawSeal {
            location: location.clone(),
            through: hour.to_owned(),
            ..RawSeal::default()
        };
        Ok(Some(match serde_json::from_slice::<Anchor>(&bytes) {
            Ok(a) if a.through == hour => RawSeal {
                location,
                through: a.through,
                from: Some(a.from),
                prev_mac: Some(a.prev_mac),
                prev_expires_at: Some(a.prev_expires_at),
                chains: Some(a.chains),
                key_id: Some(a.key_id),
                mac: Some(a.mac),
                expires_at: Some(a.expires_at),
            },
            _ => empty,
        }))
    }

    async fn read_all(&self, hours: Vec<String>) -> Result<Vec<RawSeal>, LedgerError> {
        let read: Vec<Result<Option<RawSeal>, LedgerError>> = futures::stream::iter(hours)
            .map(|h| async move { self.read(&h).await })
            .buffered(READS)
            .collect()
            .await;
        let mut out = Vec::new();
        for r in read {
            out.extend(r?);
        }
        Ok(out)
    }
}

#[async_trait]
impl SealAnchors for S3SealAnchors {
    async fn put(&self, seal: &SealEntry) -> Result<(), LedgerError> {
        let body = serde_json::to_vec(&Anchor {
            from: seal.from.clone(),
            through: seal.through.clone(),
            prev_mac: seal.prev_mac.clone(),
            prev_expires_at: seal.prev_expires_at,
            chains: seal.chains.clone(),
            key_id: seal.key_id.clone(),
            mac: seal.mac.clone(),
            expires_at: seal.expires_at,
        })
        .map_err(unavailable)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(&seal.through))
            .content_type("application/json")
            .body(ByteStream::from(body))
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from_secs(seal.expires_at))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError> {
        if from > through {
            return Ok(Vec::new());
        }
        // `start_after` is exclusive: start after the hour before `from`.
        let after = chain::prev_hour(from).unwrap_or_default();
        let hours = self.hours(&after, Some(through)).await?;
        self.read_all(hours).await
    }

    async fn latest(&self) -> Result<Option<RawSeal>, LedgerError> {
        let recent =
            chain::hour_key(time::OffsetDateTime::now_utc() - time::Duration::hours(RECENT_HOURS));
        let mut hours = self.hours(&recent, None).await?;
        if hours.is_empty() {
            hours = self.hours("", None).await?;
        }
        match hours.pop() {
            Some(hour) => self.read(&hour).await,
            None => Ok(None),
        }
    }
}

/// Creates a bucket for anchors with Object Lock on (versioning comes with it) and a
/// default compliance-mode retention of `retention_days`. For tests and `scimgw dev
/// --aws-endpoint`; in AWS the template creates it.
pub async fn create_bucket(
    client: &Client,
    bucket: &str,
    retention_days: i32,
) -> Result<(), LedgerError> {
    let created = client
        .create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
            }) => {}
        Err(e) => return Err(unavailable(e)),
    }
    client
        .put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Compliance)
                                .days(retention_days)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(unavailable)?;
    Ok(())
}
