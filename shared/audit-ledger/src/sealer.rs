//! Sealing: the sealer's half of the ledger. On a schedule (a scheduled function or a
//! timer; a writer that also holds the seal power seals after its appends), it closes
//! every finished hour to new chains, closes each chain of those hours, writes one
//! signed seal listing where each chain ends, linked to the previous seal, and anchors a
//! copy outside the backend, write-once.
//!
//! Nothing that steers it is taken on trust from the backend: the seal chain continues
//! from the latest seal whose signature verifies (or the latest anchor, if the backend
//! lost seals), not from the pointer, so a deleted or rolled-back pointer can neither
//! restart nor fork the seal chain; a closing marker the sealer did not sign, or one
//! past what it could have set, is replaced. Each repair is logged and returned.

use std::sync::atomic::Ordering;

use crate::chain::{self, SealClaim, SealLine, ZERO_HASH};
use crate::keys::{self, SealPublicKeys};
use crate::ledger::{
    BOOKKEEPING_MARGIN, ChainedAuditLog, ClosingEntry, LedgerBackend, LedgerError, RawSeal,
    RawSealHead, SealEntry, SealHeadEntry, SealRun, SealSummary,
};
use crate::{Error, LOG_TARGET};

/// Whether a stored seal's signature verifies under the seal keys.
pub(super) fn seal_is_authentic(keys: &SealPublicKeys, seal: &RawSeal) -> bool {
    let (Some(from), Some(prev_mac), Some(prev_exp), Some(text), Some(key_id), Some(sig)) = (
        seal.from.as_deref(),
        seal.prev_mac.as_deref(),
        seal.prev_expires_at,
        seal.chains.as_deref(),
        seal.key_id.as_deref(),
        seal.mac.as_deref(),
    ) else {
        return false;
    };
    let claim = SealClaim {
        from,
        through: &seal.through,
        prev_mac,
        prev_expires_at: prev_exp,
        chains: text,
    };
    keys.verify(key_id, &keys::digest(&claim.message()), sig) == Some(true)
}

/// Whether a closing marker's signature verifies.
pub(super) fn closing_is_authentic(keys: &SealPublicKeys, closing: &ClosingEntry) -> bool {
    keys.verify(
        &closing.key_id,
        &keys::digest(&chain::closing_message(&closing.hour)),
        &closing.sig,
    ) == Some(true)
}

/// How many times a sealing run starts, when another sealer (the schedule and `scimgw
/// audit seal`, say) moves the seal pointer or the closing marker under it: the next
/// start reads what the other one wrote and goes on from there.
const SEAL_ATTEMPTS: usize = 3;

/// Runs `run` until it ends other than by a lost condition ([`LedgerError::Conflict`]),
/// at most `attempts` times.
async fn start_over_on_conflict<T, F, Fut>(attempts: usize, mut run: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut result = run().await;
    for _ in 1..attempts {
        let lost = matches!(&result, Err(Error::Unavailable(e))
            if matches!(e.downcast_ref::<LedgerError>(), Some(LedgerError::Conflict)));
        if !lost {
            break;
        }
        result = run().await;
    }
    result
}

impl<B: LedgerBackend> ChainedAuditLog<B> {
    /// Seals every finished hour not sealed yet, unless this ledger is sealing already.
    /// Returns what was sealed, if anything. Safe to run from several processes at once
    /// (the seal pointer's condition lets one win).
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, Error> {
        Ok(self.seal_run().await?.sealed)
    }

    /// As [`Self::seal_due`], with the repairs the run made.
    pub async fn seal_run(&self) -> Result<SealRun, Error> {
        if self.sealing.swap(true, Ordering::AcqRel) {
            return Ok(SealRun::default());
        }
        let result = start_over_on_conflict(SEAL_ATTEMPTS, || self.seal_inner()).await;
        self.sealing.store(false, Ordering::Release);
        result
    }

    async fn seal_inner(&self) -> Result<SealRun, Error> {
        let signer = self.powers.seal_signer()?.clone();
        let public = self.powers.seal_keys().await?;
        let anchors = self.anchors()?.clone();
        let mut run = SealRun::default();
        let now = self.clock.now();
        let Some(target) = Self::seal_target(now) else {
            return Ok(run);
        };
        let mut pointer = self.backend.seal_head().await?.unwrap_or_default();
        // A closing marker the sealer did not set blocks or steers writers: replace it
        // first, whether or not there is anything to seal.
        if pointer.closing.is_some()
            && pointer
                .closing_entry()
                .is_none_or(|c| !closing_is_authentic(&public, &c) || c.hour > target)
        {
            self.close_hours(&pointer, &target, &public, &mut run)
                .await?;
            pointer = self.backend.seal_head().await?.unwrap_or_default();
        }

        // Where the seal chain stands: its latest authentic seal in the table, or the
        // latest anchor if the table lost newer seals.
        let latest = self
            .backend
            .latest_seal_before(None)
            .await?
            .filter(|s| seal_is_authentic(&public, s));
        let anchored = anchors
            .latest()
            .await?
            .filter(|s| seal_is_authentic(&public, s));
        // Seals the table holds that were never anchored (an anchoring failed): anchor
        // them now, oldest first.
        if let Some(latest) = &latest {
            let from = anchored
                .as_ref()
                .and_then(|a| chain::next_hour(&a.through))
                .unwrap_or_default();
            if from.as_str() <= latest.through.as_str() {
                for seal in self.backend.seals(&from, &latest.through).await? {
                    if let Some(entry) =
                        seal_entry(&seal).filter(|_| seal_is_authentic(&public, &seal))
                    {
                        anchors.put(&entry).await?;
                        run.repairs
                            .push(format!("anchored the seal through {}", seal.through));
                    }
                }
            }
        }
        let last = match (latest, anchored) {
            (Some(t), Some(a)) if a.through > t.through => {
                run.repairs.push(format!(
                    "the table's newest seal is through {}, its anchor through {}: sealing on from the anchor",
                    t.through, a.through
                ));
                Some(a)
            }
            (Some(t), _) => Some(t),
            (None, a) => a,
        };
        let last_through = last.as_ref().map(|s| s.through.clone());
        if pointer.through != last_through {
            run.repairs.push(format!(
                "the seal pointer was at {}, the newest seal is through {}",
                pointer.through.as_deref().unwrap_or("(none)"),
                last_through.as_deref().unwrap_or("(none)")
            ));
        }
        if last_through
            .as_deref()
            .is_some_and(|t| t >= target.as_str())
        {
            self.note_sealed_through(last_through);
            log_repairs(&run);
            return Ok(run);
        }
        let from = match &last_through {
            Some(through) => chain::next_hour(through),
            None => self
                .backend
                .earliest_chain()
                .await?
                .as_deref()
                .and_then(chain::chain_hour)
                .map(str::to_owned),
        };
        let Some(from) = from.filter(|f| f.as_str() <= target.as_str()) else {
            // Nothing was ever written, or nothing before the current hour.
            self.note_sealed_through(Some(target));
            log_repairs(&run);
            return Ok(run);
        };

        // Order matters: first refuse new chains for the hours, then list the chains,
        // then close them. A chain either registered before the refusal (and is listed
        // and closed) or could not register at all.
        self.close_hours(&pointer, &target, &public, &mut run)
            .await?;
        let chains: Vec<String> = self
            .backend
            .registrations(&from, &target)
            .await?
            .into_iter()
            .map(|c| c.chain)
            .collect();
        let closed = self.backend.close_chains(&chains).await?;
        let lines: Vec<SealLine> = closed
            .into_iter()
            .filter_map(|(chain, head)| {
                Some(SealLine {
                    chain,
                    seq: head.seq?,
                    hash: head.hash?,
                    last_expires_at: head.last_expires_at?,
                })
            })
            .collect();
        if lines.len() < chains.len() {
            tracing::warn!(
                target: LOG_TARGET,
                registered = chains.len(),
                with_head = lines.len(),
                "audit: sealing chains whose head is missing; verify will report them"
            );
        }
        let chains_text = chain::format_seal_lines(&lines);
        let prev_mac = last
            .as_ref()
            .and_then(|s| s.mac.clone())
            .unwrap_or_else(|| ZERO_HASH.to_owned());
        let prev_expires_at = last.as_ref().and_then(|s| s.expires_at).unwrap_or(0);
        let claim = SealClaim {
            from: &from,
            through: &target,
            prev_mac: &prev_mac,
            prev_expires_at,
            chains: &chains_text,
        };
        let expires_at = chain::hour_end(&target).map_or(0, |end| {
            chain::expiry(end, self.retention) + BOOKKEEPING_MARGIN.whole_seconds()
        });
        let tag = signer.sign(&keys::digest(&claim.message())).await?;
        let seal = SealEntry {
            from: from.clone(),
            through: target.clone(),
            prev_mac,
            prev_expires_at,
            chains: chains_text,
            key_id: tag.key_id.clone(),
            mac: tag.value,
            expires_at,
        };
        let pointer_tag = signer
            .sign(&keys::digest(&chain::seal_head_message(
                &target, &seal.mac, expires_at,
            )))
            .await?;
        let new_pointer = SealHeadEntry {
            through: target.clone(),
            last_mac: seal.mac.clone(),
            last_expires_at: expires_at,
            key_id: pointer_tag.key_id,
            mac: pointer_tag.value,
        };
        match self
            .backend
            .put_seal(&seal, &new_pointer, pointer.through.as_deref())
            .await
        {
            Ok(()) => {}
            // Another sealer sealed first; its seal covers the same chains.
            Err(LedgerError::Conflict) => {
                log_repairs(&run);
                return Ok(run);
            }
            Err(e) => return Err(e.into()),
        }
        // The seal is in the table; if anchoring fails, the next run anchors it.
        anchors.put(&seal).await?;
        tracing::info!(
            target: LOG_TARGET,
            seal_from = %from,
            seal_through = %target,
            chains = lines.len(),
            seal_signature = %seal.mac,
            "audit: hours sealed"
        );
        self.note_sealed_through(Some(target.clone()));
        log_repairs(&run);
        run.sealed = Some(SealSummary {
            from,
            through: target,
            chains: lines.len(),
            mac: seal.mac,
        });
        Ok(run)
    }

    /// Moves the closing marker to `target`, unless an authentic marker is already
    /// there. A marker the sealer did not sign, or one past `target` (which the sealer
    /// never sets), is replaced and reported.
    async fn close_hours(
        &self,
        pointer: &RawSealHead,
        target: &str,
        public: &SealPublicKeys,
        run: &mut SealRun,
    ) -> Result<(), Error> {
        let stored = pointer.closing.clone();
        let authentic = pointer
            .closing_entry()
            .filter(|c| closing_is_authentic(public, c) && c.hour.as_str() <= target);
        if authentic.as_ref().is_some_and(|c| c.hour == target) {
            return Ok(());
        }
        if let Some(stored) = &stored
            && authentic.is_none()
        {
            run.repairs.push(format!(
                "the closing marker at {stored} was not set by the sealer"
            ));
        }
        let signer = self.powers.seal_signer()?;
        let tag = signer
            .sign(&keys::digest(&chain::closing_message(target)))
            .await?;
        let closing = ClosingEntry {
            hour: target.to_owned(),
            key_id: tag.key_id,
            sig: tag.value,
        };
        self.backend
            .set_closing(&closing, stored.as_deref())
            .await
            .map_err(Into::into)
    }
}

fn log_repairs(run: &SealRun) {
    for repair in &run.repairs {
        tracing::error!(target: LOG_TARGET, repair = %repair, "audit: the sealer repaired tampered steering");
    }
}

/// A stored seal as an entry to anchor, if complete.
fn seal_entry(seal: &RawSeal) -> Option<SealEntry> {
    Some(SealEntry {
        from: seal.from.clone()?,
        through: seal.through.clone(),
        prev_mac: seal.prev_mac.clone()?,
        prev_expires_at: seal.prev_expires_at?,
        chains: seal.chains.clone()?,
        key_id: seal.key_id.clone()?,
        mac: seal.mac.clone()?,
        expires_at: seal.expires_at?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn lost() -> Error {
        LedgerError::Conflict.into()
    }

    #[tokio::test]
    async fn a_run_that_loses_a_condition_to_another_sealer_starts_over() {
        let runs = AtomicUsize::new(0);
        let result = start_over_on_conflict(SEAL_ATTEMPTS, || async {
            match runs.fetch_add(1, Ordering::SeqCst) {
                0 => Err(lost()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn it_gives_up_after_its_attempts_and_never_retries_other_failures() {
        let runs = AtomicUsize::new(0);
        let always_lost = start_over_on_conflict(SEAL_ATTEMPTS, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(lost())
        })
        .await;
        assert!(always_lost.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), SEAL_ATTEMPTS);

        let runs = AtomicUsize::new(0);
        let unreachable = start_over_on_conflict(SEAL_ATTEMPTS, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(Error::Unavailable("the store is down".into()))
        })
        .await;
        assert!(unreachable.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
