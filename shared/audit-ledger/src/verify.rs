//! Verification: a pure judgement of the items a backend read back, so every store
//! reports tampering the same way. The rules are in `docs/audit-table.md`
//! ("How verify decides").

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use time::{Duration, OffsetDateTime};

use crate::LedgerRecord;
use crate::chain::{self, ChainLink, HeadClaim, RecordLink, SealClaim, SealLine, ZERO_HASH};
use crate::keys::{self, MacVerifier, SealPublicKeys};
use crate::ledger::{
    BOOKKEEPING_MARGIN, ChainItems, RECORD_SLACK, RawChain, RawRecord, RawSeal, RawSealHead,
    SEAL_GRACE,
};
use crate::report::{
    NoteKind, ProblemKind, ProblemSubject, VerifyNote, VerifyProblem, VerifyReport,
};
use crate::sealer::{closing_is_authentic, seal_is_authentic};

/// What the ledger gathered for one verification.
#[derive(Debug, Default)]
pub(crate) struct Evidence {
    /// Records whose time is in the period, found through the backend's time index.
    pub discovered: Vec<RawRecord>,
    /// Registrations of chains of the hours `span_from..=span_through`.
    pub registry: Vec<RawChain>,
    /// The items of every chain to check.
    pub chains: BTreeMap<String, ChainItems>,
    /// Seals whose last hour is in `prev(span_from)..=span_through`, and the next one.
    pub seals: Vec<RawSeal>,
    /// The seal pointer.
    pub seal_head: Option<RawSealHead>,
    /// The newest seal in the table, found by key.
    pub latest_seal: Option<RawSeal>,
    /// For each seal in view that starts a seal chain: the last hour of a seal before
    /// it, if there is one.
    pub earlier_seal: BTreeMap<String, Option<String>>,
    /// The anchors whose last hour is in the seals' range.
    pub anchored: Vec<RawSeal>,
    /// The newest anchor.
    pub latest_anchor: Option<RawSeal>,
    /// Registrations of the chains after the span (within a day), read only for where
    /// they say their writers' previous chains ended.
    pub successor_registry: Vec<RawChain>,
    /// The shortest retention a record may carry.
    pub retention_floor: Duration,
    /// The first chain hour checked.
    pub span_from: String,
    /// The last chain hour checked.
    pub span_through: String,
}

/// A seal whose MAC is right.
#[derive(Debug)]
struct GoodSeal {
    from: String,
    through: String,
    prev_mac: String,
    prev_expires_at: i64,
    lines: HashMap<String, SealLine>,
    mac: String,
}

/// A chain's end as a seal or a head asserts it.
#[derive(Debug, Clone)]
struct End {
    seq: u64,
    hash: String,
    last_expires_at: i64,
}

/// How one record item fared.
#[derive(Debug)]
struct Judged<'a> {
    raw: &'a RawRecord,
    /// Hash and MAC right (or signed by a key the verifier lacks: see `unverifiable`).
    authentic: bool,
    unverifiable: bool,
    why: String,
}

#[derive(Default)]
struct Findings {
    problems: Vec<VerifyProblem>,
    notes: Vec<VerifyNote>,
    checked: u64,
    chains: u64,
}

impl Findings {
    fn problem(
        &mut self,
        kind: ProblemKind,
        subject: ProblemSubject,
        detail: impl Into<String>,
    ) -> &mut VerifyProblem {
        self.problems.push(VerifyProblem {
            kind,
            subject,
            record_id: None,
            chain: None,
            seq: None,
            belongs_at: None,
            seal: None,
            location: None,
            detail: detail.into(),
        });
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    fn record_problem(
        &mut self,
        kind: ProblemKind,
        chain: &str,
        seq: Option<u64>,
        raw: Option<&RawRecord>,
        detail: impl Into<String>,
    ) -> &mut VerifyProblem {
        let p = self.problem(kind, ProblemSubject::Record, detail);
        p.chain = Some(chain.to_owned());
        p.seq = seq;
        p.record_id = seq.map(|s| chain::record_id(chain, s));
        p.location = raw.map(|r| r.location.clone());
        p
    }

    fn note(
        &mut self,
        kind: NoteKind,
        chain: Option<&str>,
        seqs: Option<(u64, u64)>,
        detail: impl Into<String>,
    ) {
        self.notes.push(VerifyNote {
            kind,
            chain: chain.map(str::to_owned),
            seqs,
            detail: detail.into(),
        });
    }
}

/// A MAC check the judgement needs: resolved by the key service between rounds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MacQuestion {
    pub key_id: String,
    pub message: Vec<u8>,
    pub mac: String,
}

/// What the judgement may ask about MACs and signatures. Seal signatures are checked
/// with the public keys at once; MAC checks are answered from what earlier rounds
/// resolved, and the rest are noted for the next round (and fail meanwhile).
pub(crate) struct Checks<'a> {
    known: &'a HashMap<MacQuestion, bool>,
    macs: &'a dyn MacVerifier,
    seals: &'a SealPublicKeys,
    asked: RefCell<HashSet<MacQuestion>>,
}

impl<'a> Checks<'a> {
    pub(crate) fn new(
        known: &'a HashMap<MacQuestion, bool>,
        macs: &'a dyn MacVerifier,
        seals: &'a SealPublicKeys,
    ) -> Self {
        Self {
            known,
            macs,
            seals,
            asked: RefCell::new(HashSet::new()),
        }
    }

    pub(crate) fn into_asked(self) -> HashSet<MacQuestion> {
        self.asked.into_inner()
    }

    fn accepts_mac(&self, key_id: Option<&str>) -> bool {
        key_id.is_some_and(|id| self.macs.accepts(id))
    }

    fn mac(&self, key_id: Option<&str>, message: Vec<u8>, mac: &str) -> bool {
        let Some(key_id) = key_id.filter(|id| self.macs.accepts(id)) else {
            return false;
        };
        let q = MacQuestion {
            key_id: key_id.to_owned(),
            message,
            mac: mac.to_owned(),
        };
        match self.known.get(&q) {
            Some(ok) => *ok,
            None => {
                self.asked.borrow_mut().insert(q);
                false
            }
        }
    }

    fn accepts_seal(&self, key_id: Option<&str>) -> bool {
        key_id.is_some_and(|id| self.seals.accepts(id))
    }

    fn seal(&self, key_id: Option<&str>, message: &[u8], sig: &str) -> bool {
        key_id.is_some_and(|id| self.seals.verify(id, &keys::digest(message), sig) == Some(true))
    }
}

/// Judges the evidence at `now` with `keys`, reading records as `R`.
pub(crate) fn verify<R: LedgerRecord>(
    keys: &Checks<'_>,
    now: OffsetDateTime,
    ev: &Evidence,
) -> VerifyReport {
    let mut f = Findings::default();
    let seals = check_seals(keys, now, ev, &mut f);
    check_seal_steering(keys, now, ev, &seals, &mut f);
    let coverage = coverage(&seals, &ev.span_from, &ev.span_through);

    let mut ids: BTreeSet<&str> = ev.chains.keys().map(String::as_str).collect();
    ids.extend(ev.registry.iter().map(|c| c.chain.as_str()));
    let registry: HashMap<&str, &RawChain> =
        ev.registry.iter().map(|c| (c.chain.as_str(), c)).collect();
    // What each writer's next chain says its previous chain reached.
    let successors: HashMap<String, ChainLink> = ev
        .registry
        .iter()
        .chain(&ev.successor_registry)
        .filter(|r| registration_ok(keys, &r.chain, r))
        .filter_map(|r| r.prev_link().flatten())
        .map(|l| (l.chain.clone(), l))
        .collect();
    let empty = ChainItems::default();
    let mut seen: HashSet<&str> = HashSet::new();
    for id in ids {
        let items = ev.chains.get(id).unwrap_or(&empty);
        seen.extend(items.records.iter().map(|r| r.location.as_str()));
        let sealed = chain::chain_hour(id)
            .and_then(|h| coverage.get(h))
            .map(|&i| &seals[i]);
        check_chain::<R>(
            keys,
            now,
            ev.retention_floor,
            id,
            items,
            registry.get(id).copied(),
            sealed,
            successors.get(id),
            &mut f,
        );
    }
    // Records of the period that no chain's partition holds: not written by a writer.
    for raw in &ev.discovered {
        if !seen.contains(raw.location.as_str()) {
            f.checked += 1;
            let chain = raw.chain.as_deref().unwrap_or("");
            f.record_problem(
                ProblemKind::Inserted,
                chain,
                raw.seq,
                Some(raw),
                "a record outside any writer's chain",
            );
        }
    }
    report_unsealed(now, ev, &seals, &coverage, &mut f);
    VerifyReport {
        intact: f.problems.is_empty(),
        checked: f.checked,
        chains: f.chains,
        problems: f.problems,
        notes: f.notes,
    }
}

/// Whether a registration's MAC is right (over its chain, time and predecessor).
fn registration_ok(keys: &Checks<'_>, id: &str, r: &RawChain) -> bool {
    match (r.created_at.as_deref(), r.mac.as_deref(), r.prev_link()) {
        (Some(created), Some(mac), Some(prev)) => keys.mac(
            r.key_id.as_deref(),
            chain::chain_message(id, created, prev.as_ref()),
            mac,
        ),
        _ => false,
    }
}

/// What is wrong with an authentic record's times: written outside its chain's hour,
/// dated far from when it was written, or kept for less than the retention floor.
fn time_problems<R: LedgerRecord>(
    chain_id: &str,
    raw: &RawRecord,
    retention_floor: Duration,
) -> Vec<(ProblemKind, String)> {
    let mut out = Vec::new();
    let (Some(written_at), Some(expires_at)) = (raw.written_at.as_deref(), raw.expires_at) else {
        return out;
    };
    let Some(written) = chain::parse_time(written_at) else {
        out.push((
            ProblemKind::Altered,
            format!("written at {written_at}, which is not a time"),
        ));
        return out;
    };
    // A writer whose clock is a little behind the sealer's moves to the next hour's
    // chain when its hour closes, hence the grace before the hour.
    let hour = chain::chain_hour(chain_id).unwrap_or_default();
    let inside = chain::hour_start(hour)
        .zip(chain::hour_end(hour))
        .is_some_and(|(start, end)| written >= start - SEAL_GRACE && written < end);
    if !inside {
        out.push((
            ProblemKind::Reordered,
            format!("written at {written_at}, outside its chain's hour {hour}"),
        ));
    }
    let time = raw
        .record_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<R>(j).ok())
        .map(|r| r.time());
    if let Some(time) = time
        && (time > written + SEAL_GRACE || time + RECORD_SLACK < written)
    {
        out.push((
            ProblemKind::Reordered,
            format!(
                "dated {}, but written at {written_at}: a writer appends within {} minutes",
                chain::fmt_time(time),
                RECORD_SLACK.whole_minutes()
            ),
        ));
    }
    if expires_at < written.unix_timestamp() + retention_floor.whole_seconds() {
        out.push((
            ProblemKind::Altered,
            format!(
                "kept until {expires_at} (epoch seconds), less than the {}-day retention floor",
                retention_floor.whole_days()
            ),
        ));
    }
    out
}

/// Checks what steers sealing against the seals and their anchors: the seal pointer
/// against the newest seal, the anchors against the table's seals, that only one seal
/// starts the seal chain, and that the closing marker is the sealer's.
fn check_seal_steering(
    keys: &Checks<'_>,
    now: OffsetDateTime,
    ev: &Evidence,
    seals: &[GoodSeal],
    f: &mut Findings,
) {
    let seal_problem = |f: &mut Findings, kind, through: &str, detail: String| {
        let p = f.problem(kind, ProblemSubject::Seal, detail);
        p.seal = Some(through.to_owned());
    };
    for seal in seals.iter().filter(|s| s.prev_mac == ZERO_HASH) {
        if let Some(Some(earlier)) = ev.earlier_seal.get(&seal.through) {
            seal_problem(
                f,
                ProblemKind::Inserted,
                &seal.through,
                format!(
                    "a second start of the seal chain: the seal through {earlier} comes before it"
                ),
            );
        }
    }

    let latest = ev
        .latest_seal
        .as_ref()
        .filter(|s| seal_is_authentic(keys.seals, s));
    let pointer = ev.seal_head.as_ref().and_then(|h| h.through.as_deref());
    match (pointer, latest) {
        (None, Some(l)) => seal_problem(
            f,
            ProblemKind::Deleted,
            &l.through,
            format!(
                "the seal pointer is missing, but seals exist (the newest through {})",
                l.through
            ),
        ),
        (Some(p), Some(l)) if p < l.through.as_str() => seal_problem(
            f,
            ProblemKind::Altered,
            p,
            format!(
                "the seal pointer was rolled back: it is at {p}, the newest seal is through {}",
                l.through
            ),
        ),
        _ => {}
    }

    // The anchors: write-once copies the table's writers cannot touch.
    let now_s = now.unix_timestamp();
    let in_table: HashMap<&str, &RawSeal> =
        ev.seals.iter().map(|s| (s.through.as_str(), s)).collect();
    let mut anchored: HashSet<&str> = HashSet::new();
    for anchor in &ev.anchored {
        if !anchored.insert(anchor.through.as_str()) {
            continue;
        }
        if !seal_is_authentic(keys.seals, anchor) {
            seal_problem(
                f,
                ProblemKind::Inserted,
                &anchor.through,
                format!(
                    "an anchor for {} that the sealer did not sign",
                    anchor.through
                ),
            );
            continue;
        }
        match in_table.get(anchor.through.as_str()) {
            None if anchor.expires_at.is_some_and(|e| e <= now_s) => {}
            None => seal_problem(
                f,
                ProblemKind::Deleted,
                &anchor.through,
                format!(
                    "the seal through {} is gone from the table; its anchor holds it",
                    anchor.through
                ),
            ),
            Some(t)
                if t.mac != anchor.mac
                    || t.from != anchor.from
                    || t.prev_mac != anchor.prev_mac
                    || t.chains != anchor.chains =>
            {
                seal_problem(
                    f,
                    ProblemKind::Altered,
                    &anchor.through,
                    format!(
                        "the seal through {} does not match its anchor",
                        anchor.through
                    ),
                );
            }
            Some(_) => {}
        }
    }
    for seal in seals
        .iter()
        .filter(|s| s.through.as_str() <= ev.span_through.as_str())
    {
        if !anchored.contains(seal.through.as_str()) {
            seal_problem(
                f,
                ProblemKind::Deleted,
                &seal.through,
                format!("the seal through {} has no anchor", seal.through),
            );
        }
    }
    if let Some(anchor) = &ev.latest_anchor
        && seal_is_authentic(keys.seals, anchor)
        && latest.is_none_or(|l| l.through < anchor.through)
        && !in_table.contains_key(anchor.through.as_str())
        && anchor.expires_at.is_some_and(|e| e > now_s)
        && !ev.anchored.iter().any(|a| a.through == anchor.through)
    {
        seal_problem(
            f,
            ProblemKind::Deleted,
            &anchor.through,
            format!(
                "the newest seals were deleted: the newest anchor is through {}, the table's newest seal through {}",
                anchor.through,
                latest.map_or("(none)", |l| l.through.as_str())
            ),
        );
    }

    // The closing marker: only the sealer moves it, and never past the last finished
    // hour or behind the newest seal.
    if let Some(head) = &ev.seal_head
        && let Some(closing) = head.closing.as_deref()
    {
        let bound = chain::prev_hour(&chain::hour_key(now - SEAL_GRACE));
        let signed = head
            .closing_entry()
            .is_some_and(|c| closing_is_authentic(keys.seals, &c));
        let detail = if !signed {
            Some(format!(
                "the closing marker (at {closing}) was not set by the sealer"
            ))
        } else if bound.as_deref().is_some_and(|b| closing > b) {
            Some(format!(
                "the closing marker (at {closing}) is past the last finished hour"
            ))
        } else if pointer.is_some_and(|p| closing < p) {
            Some(format!(
                "the closing marker (at {closing}) was rolled back behind the newest seal"
            ))
        } else {
            None
        };
        if let Some(detail) = detail {
            seal_problem(f, ProblemKind::Altered, closing, detail);
        }
    }
}

/// Checks each seal's signature and the links between seals; returns the good ones,
/// oldest first.
fn check_seals(
    keys: &Checks<'_>,
    now: OffsetDateTime,
    ev: &Evidence,
    f: &mut Findings,
) -> Vec<GoodSeal> {
    let mut good: Vec<GoodSeal> = Vec::new();
    let mut raw_throughs: HashSet<&str> = HashSet::new();
    for raw in &ev.seals {
        if !raw_throughs.insert(raw.through.as_str()) {
            continue;
        }
        let problem = |f: &mut Findings, kind, detail: &str| {
            let p = f.problem(kind, ProblemSubject::Seal, detail);
            p.seal = Some(raw.through.clone());
            p.location = Some(raw.location.clone());
        };
        if !keys.accepts_seal(raw.key_id.as_deref()) {
            problem(
                f,
                ProblemKind::Unverifiable,
                "seal signed with a key the verifier does not hold",
            );
            continue;
        };
        let (Some(from), Some(prev_mac), Some(prev_exp), Some(text), Some(mac)) = (
            raw.from.as_deref(),
            raw.prev_mac.as_deref(),
            raw.prev_expires_at,
            raw.chains.as_deref(),
            raw.mac.as_deref(),
        ) else {
            problem(f, ProblemKind::Altered, "seal has lost some of its fields");
            continue;
        };
        let claim = SealClaim {
            from,
            through: &raw.through,
            prev_mac,
            prev_expires_at: prev_exp,
            chains: text,
        };
        let lines = chain::parse_seal_lines(text);
        match lines {
            Some(lines)
                if keys.seal(raw.key_id.as_deref(), &claim.message(), mac)
                    && from <= raw.through.as_str() =>
            {
                good.push(GoodSeal {
                    from: from.to_owned(),
                    through: raw.through.clone(),
                    prev_mac: prev_mac.to_owned(),
                    prev_expires_at: prev_exp,
                    lines: lines.into_iter().map(|l| (l.chain.clone(), l)).collect(),
                    mac: mac.to_owned(),
                })
            }
            _ => problem(f, ProblemKind::Altered, "seal does not match its MAC"),
        }
    }
    good.sort_by(|a, b| a.through.cmp(&b.through));

    // The seal chain: each seal names its predecessor's MAC (CloudTrail's
    // previousDigestSignature), so a deleted or replaced seal shows.
    let loaded_from = chain::prev_hour(&ev.span_from).unwrap_or_default();
    let by_through: HashMap<&str, &GoodSeal> =
        good.iter().map(|s| (s.through.as_str(), s)).collect();
    for seal in &good {
        if seal.prev_mac == ZERO_HASH {
            continue;
        }
        let Some(pred) = chain::prev_hour(&seal.from) else {
            continue;
        };
        match by_through.get(pred.as_str()) {
            Some(p) if p.mac == seal.prev_mac => {}
            Some(_) => {
                let p = f.problem(
                    ProblemKind::Altered,
                    ProblemSubject::Seal,
                    format!(
                        "seal through {} does not follow the seal through {pred}",
                        seal.through
                    ),
                );
                p.seal = Some(seal.through.clone());
            }
            None if raw_throughs.contains(pred.as_str()) => {} // reported as altered above
            // Outside the period: not this verification's business.
            None if pred.as_str() < loaded_from.as_str()
                || pred.as_str() > ev.span_through.as_str() => {}
            None if seal.prev_expires_at <= now.unix_timestamp() => f.note(
                NoteKind::Expired,
                None,
                None,
                format!("the seal through {pred} has expired"),
            ),
            None => {
                let p = f.problem(
                    ProblemKind::Deleted,
                    ProblemSubject::Seal,
                    format!(
                        "the seal through {pred} is missing (the seal through {} names it)",
                        seal.through
                    ),
                );
                p.seal = Some(pred);
            }
        }
    }

    // The pointer to the latest seal: a deleted newest seal shows against it.
    if let Some(head) = &ev.seal_head
        && let (Some(through), Some(last_mac), Some(last_exp), Some(mac)) = (
            head.through.as_deref(),
            head.last_mac.as_deref(),
            head.last_expires_at,
            head.mac.as_deref(),
        )
    {
        let signed = keys.seal(
            head.key_id.as_deref(),
            &chain::seal_head_message(through, last_mac, last_exp),
            mac,
        );
        match keys.accepts_seal(head.key_id.as_deref()).then_some(signed) {
            Some(true) => {
                let alive = last_exp > now.unix_timestamp();
                if through >= loaded_from.as_str() && through <= ev.span_through.as_str() {
                    match by_through.get(through) {
                        Some(s) if s.mac == last_mac => {}
                        Some(_) => {
                            let p = f.problem(
                                ProblemKind::Altered,
                                ProblemSubject::Seal,
                                "the latest seal does not match the seal pointer",
                            );
                            p.seal = Some(through.to_owned());
                        }
                        None if raw_throughs.contains(through) || !alive => {}
                        None => {
                            let p = f.problem(
                                ProblemKind::Deleted,
                                ProblemSubject::Seal,
                                format!("the latest seal (through {through}) is missing"),
                            );
                            p.seal = Some(through.to_owned());
                        }
                    }
                } else if through > ev.span_through.as_str()
                    && alive
                    && !raw_throughs.iter().any(|t| *t > ev.span_through.as_str())
                {
                    // The pointer is past the period, yet no seal after the period exists.
                    let p = f.problem(
                        ProblemKind::Deleted,
                        ProblemSubject::Seal,
                        format!(
                            "no seal after {} although the seal pointer is at {through}",
                            ev.span_through
                        ),
                    );
                    p.seal = Some(through.to_owned());
                }
            }
            Some(false) => {
                f.problem(
                    ProblemKind::Altered,
                    ProblemSubject::Seal,
                    "the seal pointer does not match its signature",
                );
            }
            None => {
                f.problem(
                    ProblemKind::Unverifiable,
                    ProblemSubject::Seal,
                    "the seal pointer is signed with a key the verifier does not hold",
                );
            }
        }
    }
    good
}

/// Which good seal covers each hour of the span.
fn coverage(seals: &[GoodSeal], span_from: &str, span_through: &str) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for (i, seal) in seals.iter().enumerate() {
        let mut hour = seal.from.clone().max(span_from.to_owned());
        while hour.as_str() <= seal.through.as_str() && hour.as_str() <= span_through {
            map.insert(hour.clone(), i);
            match chain::next_hour(&hour) {
                Some(next) => hour = next,
                None => break,
            }
        }
    }
    map
}

/// Reports finished hours of the span that hold chains but no seal covers.
fn report_unsealed(
    now: OffsetDateTime,
    ev: &Evidence,
    seals: &[GoodSeal],
    coverage: &BTreeMap<String, usize>,
    f: &mut Findings,
) {
    let mut hours_with_chains: BTreeSet<&str> = ev
        .registry
        .iter()
        .filter_map(|c| chain::chain_hour(&c.chain))
        .collect();
    hours_with_chains.extend(ev.chains.keys().filter_map(|c| chain::chain_hour(c)));
    let uncovered: Vec<&str> = hours_with_chains
        .into_iter()
        .filter(|h| *h >= ev.span_from.as_str() && *h <= ev.span_through.as_str())
        .filter(|h| !coverage.contains_key(*h))
        .filter(|h| chain::hour_end(h).is_some_and(|end| end + SEAL_GRACE <= now))
        .collect();
    let Some(first) = uncovered.first() else {
        return;
    };
    let last = uncovered.last().copied().unwrap_or(first);
    let later_seal = seals.iter().any(|s| s.through.as_str() > *first);
    if later_seal {
        // Seals tile the hours without gaps, so a later seal must have covered these.
        for hour in &uncovered {
            if seals.iter().any(|s| s.through.as_str() > *hour) {
                let p = f.problem(
                    ProblemKind::Deleted,
                    ProblemSubject::Seal,
                    format!("hour {hour} holds chains but no seal covers it, although later hours are sealed"),
                );
                p.seal = Some((*hour).to_owned());
            }
        }
    } else {
        f.note(
            NoteKind::Unsealed,
            None,
            None,
            format!("hours {first} to {last} are not sealed yet: their chains are protected by their heads until the next write seals them"),
        );
    }
}

/// Judges one record item's own integrity (hash, MAC, fields).
fn judge<'a>(keys: &Checks<'_>, chain_id: &str, raw: &'a RawRecord) -> Judged<'a> {
    let fail = |why: &str| Judged {
        raw,
        authentic: false,
        unverifiable: false,
        why: why.to_owned(),
    };
    let (Some(seq), Some(prev), Some(hash), Some(mac), Some(written), Some(expires), Some(json)) = (
        raw.seq,
        raw.prev_hash.as_deref(),
        raw.hash.as_deref(),
        raw.mac.as_deref(),
        raw.written_at.as_deref(),
        raw.expires_at,
        raw.record_json.as_deref(),
    ) else {
        return fail("the item lacks some of its integrity fields");
    };
    if raw.chain.as_deref() != Some(chain_id) {
        return fail("the item claims another chain");
    }
    let link = RecordLink {
        chain: chain_id,
        seq,
        prev_hash: prev,
        written_at: written,
        expires_at: expires,
        record_json: json,
    };
    if chain::record_hash(&link) != hash {
        return fail("the content does not match its hash");
    }
    if !keys.accepts_mac(raw.key_id.as_deref()) {
        return Judged {
            raw,
            authentic: true,
            unverifiable: true,
            why: "made with a key the verifier does not accept".into(),
        };
    }
    if keys.mac(raw.key_id.as_deref(), chain::record_mac_message(hash), mac) {
        Judged {
            raw,
            authentic: true,
            unverifiable: false,
            why: String::new(),
        }
    } else {
        fail("the hash does not match its MAC (forged or re-hashed)")
    }
}

/// The position whose integrity fields authenticate this item's content, if another
/// than where it claims to be: the item's own fields at another seq (its seq was
/// changed), or the fields another item now carries (contents or links were swapped).
fn belongs_at(
    keys: &Checks<'_>,
    chain_id: &str,
    x: &RawRecord,
    by_seq: &BTreeMap<u64, Vec<&RawRecord>>,
) -> Option<u64> {
    let json = x.record_json.as_deref()?;
    let authentic = |seq: u64, y: &RawRecord| -> bool {
        let (Some(prev), Some(hash), Some(mac), Some(written), Some(expires)) = (
            y.prev_hash.as_deref(),
            y.hash.as_deref(),
            y.mac.as_deref(),
            y.written_at.as_deref(),
            y.expires_at,
        ) else {
            return false;
        };
        let link = RecordLink {
            chain: chain_id,
            seq,
            prev_hash: prev,
            written_at: written,
            expires_at: expires,
            record_json: json,
        };
        chain::record_hash(&link) == hash
            && keys.mac(y.key_id.as_deref(), chain::record_mac_message(hash), mac)
    };
    let max = by_seq
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0)
        .max(x.seq.unwrap_or(0));
    for q in 1..=max {
        if Some(q) != x.seq && authentic(q, x) {
            return Some(q);
        }
        if let Some(ys) = by_seq.get(&q)
            && ys.iter().any(|y| !std::ptr::eq(*y, x) && authentic(q, y))
        {
            return Some(q);
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn check_chain<R: LedgerRecord>(
    keys: &Checks<'_>,
    now: OffsetDateTime,
    retention_floor: Duration,
    id: &str,
    items: &ChainItems,
    registration: Option<&RawChain>,
    sealed: Option<&GoodSeal>,
    successor: Option<&ChainLink>,
    f: &mut Findings,
) {
    f.chains += 1;
    let now_s = now.unix_timestamp();
    if chain::chain_hour(id).is_none() {
        for raw in &items.records {
            f.checked += 1;
            f.record_problem(
                ProblemKind::Inserted,
                id,
                raw.seq,
                Some(raw),
                "a record of a chain no writer makes (malformed chain id)",
            );
        }
        return;
    }
    let judged: Vec<Judged<'_>> = items.records.iter().map(|r| judge(keys, id, r)).collect();
    let line = sealed.and_then(|s| s.lines.get(id));

    // The head.
    let head = items.head.as_ref();
    let head_end = head.and_then(|h| {
        let (seq, hash, written, exp, mac) = (
            h.seq?,
            h.hash.as_deref()?,
            h.last_written_at.as_deref()?,
            h.last_expires_at?,
            h.mac.as_deref()?,
        );
        let claim = HeadClaim {
            chain: id,
            seq,
            hash,
            last_written_at: written,
            last_expires_at: exp,
        };
        keys.mac(h.key_id.as_deref(), claim.message(), mac)
            .then(|| End {
                seq,
                hash: hash.to_owned(),
                last_expires_at: exp,
            })
    });
    let reg_ok = registration.is_some_and(|r| registration_ok(keys, id, r));
    let any_authentic =
        line.is_some() || head_end.is_some() || reg_ok || judged.iter().any(|j| j.authentic);
    if !any_authentic {
        // Nothing a writer signed: every item of this "chain" was made by someone else.
        for j in &judged {
            f.checked += 1;
            f.record_problem(
                ProblemKind::Inserted,
                id,
                j.raw.seq,
                Some(j.raw),
                format!("a record of a chain no writer made ({})", j.why),
            );
        }
        if let Some(r) = registration {
            let p = f.problem(
                ProblemKind::Inserted,
                ProblemSubject::ChainRegistration,
                "a registration no writer made",
            );
            p.chain = Some(id.to_owned());
            p.location = Some(r.location.clone());
        }
        if let Some(h) = head {
            let p = f.problem(
                ProblemKind::Inserted,
                ProblemSubject::ChainHead,
                "a chain head no writer made",
            );
            p.chain = Some(id.to_owned());
            p.location = Some(h.location.clone());
        }
        return;
    }

    // The chain's end: the seal is authoritative, else the head.
    let end: Option<End> = match (line, &head_end) {
        (Some(l), _) => Some(End {
            seq: l.seq,
            hash: l.hash.clone(),
            last_expires_at: l.last_expires_at,
        }),
        (None, Some(h)) => Some(h.clone()),
        (None, None) => None,
    };
    // The writer's next chain names where this one ended when the writer left it, so a
    // head rolled back (and sealed so) cannot hide records deleted from the end.
    let end = match (end, successor) {
        (Some(e), Some(s)) if s.seq > e.seq => {
            let by = if line.is_some() { "seal" } else { "head" };
            let p = f.problem(
                ProblemKind::Altered,
                ProblemSubject::ChainHead,
                format!(
                    "the chain ends at seq {} by its {by}, but its writer's next chain says it reached seq {}: the head was rolled back",
                    e.seq, s.seq
                ),
            );
            p.chain = Some(id.to_owned());
            Some(End {
                seq: s.seq,
                hash: s.hash.clone(),
                last_expires_at: e.last_expires_at,
            })
        }
        (e, _) => e,
    };
    let last_expiry = end
        .as_ref()
        .map(|e| e.last_expires_at)
        .into_iter()
        .chain(
            judged
                .iter()
                .filter(|j| j.authentic)
                .filter_map(|j| j.raw.expires_at),
        )
        .max();
    let bookkeeping_gone_legitimately =
        last_expiry.is_some_and(|e| e + BOOKKEEPING_MARGIN.whole_seconds() <= now_s);
    let whole_chain_gone = items.records.is_empty() && head.is_none() && registration.is_none();

    if whole_chain_gone {
        if !bookkeeping_gone_legitimately {
            let p = f.problem(ProblemKind::Deleted, ProblemSubject::Chain, "the whole chain is gone: its seal lists it, but its registration, head and records are missing");
            p.chain = Some(id.to_owned());
        }
    } else {
        match registration {
            None if bookkeeping_gone_legitimately => {}
            None => {
                let p = f.problem(
                    ProblemKind::Deleted,
                    ProblemSubject::ChainRegistration,
                    "the chain's registration is missing",
                );
                p.chain = Some(id.to_owned());
            }
            Some(r) if !reg_ok => {
                let p = if !keys.accepts_mac(r.key_id.as_deref()) {
                    f.problem(
                        ProblemKind::Unverifiable,
                        ProblemSubject::ChainRegistration,
                        "the chain's registration is signed with a key the verifier does not hold",
                    )
                } else {
                    f.problem(
                        ProblemKind::Altered,
                        ProblemSubject::ChainRegistration,
                        "the chain's registration does not match its MAC",
                    )
                };
                p.chain = Some(id.to_owned());
                p.location = Some(r.location.clone());
            }
            Some(_) => {}
        }
        match head {
            None if bookkeeping_gone_legitimately => {}
            None => {
                let detail = if line.is_some() {
                    "the chain's head is missing"
                } else {
                    "the chain's head is missing, so records deleted from its end cannot be counted"
                };
                let p = f.problem(ProblemKind::Deleted, ProblemSubject::ChainHead, detail);
                p.chain = Some(id.to_owned());
            }
            Some(h) if head_end.is_none() => {
                let p = if !keys.accepts_mac(h.key_id.as_deref()) {
                    f.problem(
                        ProblemKind::Unverifiable,
                        ProblemSubject::ChainHead,
                        "the chain's head is signed with a key the verifier does not hold",
                    )
                } else {
                    f.problem(
                        ProblemKind::Altered,
                        ProblemSubject::ChainHead,
                        "the chain's head does not match its MAC",
                    )
                };
                p.chain = Some(id.to_owned());
                p.location = Some(h.location.clone());
            }
            Some(h) => {
                if let (Some(l), Some(he)) = (line, &head_end)
                    && (l.seq != he.seq || l.hash != he.hash)
                {
                    let p = f.problem(
                        ProblemKind::Altered,
                        ProblemSubject::ChainHead,
                        format!("the head ends at seq {} but the seal at seq {}: the head was rolled back or replaced", he.seq, l.seq),
                    );
                    p.chain = Some(id.to_owned());
                    p.location = Some(h.location.clone());
                }
            }
        }
    }
    if let Some(seal) = sealed
        && line.is_none()
    {
        let p = f.problem(
            ProblemKind::Inserted,
            ProblemSubject::Chain,
            format!(
                "a chain of a sealed hour that its seal (through {}) does not list",
                seal.through
            ),
        );
        p.chain = Some(id.to_owned());
        p.seal = Some(seal.through.clone());
    }

    // The records, position by position.
    let mut by_seq: BTreeMap<u64, Vec<&RawRecord>> = BTreeMap::new();
    for raw in &items.records {
        match raw.seq {
            Some(seq) if seq > 0 => by_seq.entry(seq).or_default().push(raw),
            _ => {
                f.checked += 1;
                f.record_problem(
                    ProblemKind::Inserted,
                    id,
                    None,
                    Some(raw),
                    "a record with no position in its chain",
                );
            }
        }
    }
    let judged_of = |raw: &RawRecord| judged.iter().find(|j| std::ptr::eq(j.raw, raw));
    let authentic_at = |seq: u64| -> Option<&Judged<'_>> {
        by_seq
            .get(&seq)
            .and_then(|v| v.iter().filter_map(|r| judged_of(r)).find(|j| j.authentic))
    };
    let max_claimed = by_seq.keys().next_back().copied().unwrap_or(0);
    let last = end.as_ref().map_or(max_claimed, |e| e.seq.max(max_claimed));
    let mut expired: Option<(u64, u64)> = None;
    let flush = |f: &mut Findings, run: &mut Option<(u64, u64)>| {
        if let Some((a, b)) = run.take() {
            f.note(
                NoteKind::Expired,
                Some(id),
                Some((a, b)),
                format!("records {a} to {b} of the chain have expired (retention ended)"),
            );
        }
    };
    for seq in 1..=last {
        let claims = by_seq.get(&seq).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(good) = authentic_at(seq) {
            flush(f, &mut expired);
            let raw = good.raw;
            f.checked += 1;
            if good.unverifiable {
                f.record_problem(
                    ProblemKind::Unverifiable,
                    id,
                    Some(seq),
                    Some(raw),
                    good.why.clone(),
                );
            }
            for (kind, detail) in time_problems::<R>(id, raw, retention_floor) {
                f.record_problem(kind, id, Some(seq), Some(raw), detail);
            }
            let prev = raw.prev_hash.as_deref().unwrap_or("");
            if seq == 1 && prev != ZERO_HASH {
                f.record_problem(
                    ProblemKind::Reordered,
                    id,
                    Some(seq),
                    Some(raw),
                    "the first record does not start the chain",
                );
            } else if let Some(before) = authentic_at(seq - 1).filter(|_| seq > 1) {
                if before.raw.hash.as_deref() != Some(prev) {
                    f.record_problem(
                        ProblemKind::Reordered,
                        id,
                        Some(seq),
                        Some(raw),
                        format!("the record does not follow record {}", seq - 1),
                    );
                } else if raw.written_at < before.raw.written_at {
                    // Fixed-width times compare as text; a writer never goes back.
                    f.record_problem(
                        ProblemKind::Reordered,
                        id,
                        Some(seq),
                        Some(raw),
                        format!("written before record {}, which it follows", seq - 1),
                    );
                }
            }
            if let Some(e) = &end {
                if seq > e.seq {
                    f.record_problem(
                        ProblemKind::Inserted,
                        id,
                        Some(seq),
                        Some(raw),
                        format!("a record beyond the chain's end (seq {})", e.seq),
                    );
                } else if seq == e.seq && raw.hash.as_deref() != Some(e.hash.as_str()) {
                    f.record_problem(
                        ProblemKind::Altered,
                        id,
                        Some(seq),
                        Some(raw),
                        "the chain's last record is not the one its head or seal names",
                    );
                }
            }
            for anomaly in &raw.anomalies {
                f.record_problem(
                    anomaly.kind,
                    id,
                    Some(seq),
                    Some(raw),
                    anomaly.detail.clone(),
                );
            }
            for other in claims.iter().filter(|r| !std::ptr::eq(**r, raw)) {
                f.checked += 1;
                f.record_problem(
                    ProblemKind::Inserted,
                    id,
                    Some(seq),
                    Some(other),
                    format!("a second item for seq {seq}"),
                );
            }
        } else if !claims.is_empty() {
            flush(f, &mut expired);
            for raw in claims {
                f.checked += 1;
                let why = judged_of(raw).map(|j| j.why.clone()).unwrap_or_default();
                let copy_of =
                    |q: u64| authentic_at(q).is_some_and(|j| j.raw.record_json == raw.record_json);
                if let Some(q) = belongs_at(keys, id, raw, &by_seq) {
                    if copy_of(q) {
                        // Record q is still in its place: this is a replayed copy.
                        f.record_problem(
                            ProblemKind::Inserted,
                            id,
                            Some(seq),
                            Some(raw),
                            format!("a copy of record {q} put in as record {seq}"),
                        );
                    } else {
                        f.record_problem(
                            ProblemKind::Reordered,
                            id,
                            Some(seq),
                            Some(raw),
                            format!("stored as record {seq}, but its content is record {q}'s"),
                        )
                        .belongs_at = Some(q);
                    }
                } else if end.as_ref().is_none_or(|e| seq <= e.seq) {
                    f.record_problem(ProblemKind::Altered, id, Some(seq), Some(raw), why);
                } else {
                    f.record_problem(
                        ProblemKind::Inserted,
                        id,
                        Some(seq),
                        Some(raw),
                        format!("a record beyond the chain's end: {why}"),
                    );
                }
            }
        } else {
            // Missing. Written-at never decreases along a chain, so the next authentic
            // item's expiry bounds this record's.
            let bound = ((seq + 1)..=last)
                .find_map(|s| authentic_at(s).and_then(|j| j.raw.expires_at))
                .or(end.as_ref().map(|e| e.last_expires_at));
            if bound.is_some_and(|b| b <= now_s) {
                expired = Some(expired.map_or((seq, seq), |(a, _)| (a, seq)));
            } else {
                flush(f, &mut expired);
                f.record_problem(
                    ProblemKind::Deleted,
                    id,
                    Some(seq),
                    None,
                    "the record is missing and its retention had not ended",
                );
            }
        }
    }
    flush(f, &mut expired);
    // Items claiming positions past `last` cannot exist (last covers the largest claim).
}
