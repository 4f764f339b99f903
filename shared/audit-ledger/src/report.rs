//! What verification reports: whether a period is intact, every finding that shows
//! tampering ([`VerifyProblem`]: what is wrong, with which item, where), and the
//! findings that do not ([`VerifyNote`]: records gone with their retention, hours not
//! sealed yet). Serializable, for reports handed to people and programs alike.

use serde::{Deserialize, Serialize};

/// The outcome of verifying a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// No problems found: every record of the period is present, unaltered, in order.
    pub intact: bool,
    /// How many stored records were checked.
    pub checked: u64,
    /// How many writer chains were checked.
    pub chains: u64,
    /// Everything that shows tampering, one entry per record or item concerned.
    pub problems: Vec<VerifyProblem>,
    /// Informational findings that are not tampering: records removed by retention,
    /// recent hours not sealed yet.
    pub notes: Vec<VerifyNote>,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record (or a chain head, chain registration or seal) that must exist is gone,
    /// and its retention had not ended.
    Deleted,
    /// An item's content no longer matches its hash or MAC.
    Altered,
    /// An item that the writers never wrote: a forged MAC, a second item for one place
    /// in a chain, a record beyond a chain's sealed end, a chain no seal knows.
    Inserted,
    /// Authentic items in the wrong place: a record whose content belongs at another
    /// position of its chain, links that do not follow each other.
    Reordered,
    /// Signed with a key the verifier does not hold, so it cannot be checked.
    Unverifiable,
}

/// Which kind of item a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSubject {
    /// A record.
    Record,
    /// A chain's head (its last seq and hash).
    ChainHead,
    /// A chain's registration (genesis).
    ChainRegistration,
    /// A chain as a whole.
    Chain,
    /// An hourly seal, or the pointer to the latest.
    Seal,
}

/// One finding that shows tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyProblem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// What it concerns.
    pub subject: ProblemSubject,
    /// The record id (`<chain>:<seq>`) concerned, for record problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The chain concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The position in the chain concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// For [`ProblemKind::Reordered`]: the position the item's content belongs at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub belongs_at: Option<u64>,
    /// The seal concerned (the last hour it covers, `YYYYMMDDTHH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
    /// Where the item is stored, in the store's own terms (e.g. a table key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What was found, for people.
    pub detail: String,
}

/// What an informational finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Records (or their chain's bookkeeping) gone after their retention ended.
    Expired,
    /// Hours not sealed yet: protected by chain heads only until the next write seals
    /// them.
    Unsealed,
}

/// One informational finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyNote {
    /// What it is about.
    pub kind: NoteKind,
    /// The chain concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The first and last positions concerned, if a run of records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seqs: Option<(u64, u64)>,
    /// What was found, for people.
    pub detail: String,
}
