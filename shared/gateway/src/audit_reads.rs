//! Reads of the audit trail, recorded in the trail itself (`docs/audit-table.md`, "Reads
//! are recorded").
//!
//! Readers hold no power to write a record that verifies (the audit API and auditors
//! only verify), so a reader sends a [`ReadNote`] through the [`ReadNotes`] port, a queue
//! in AWS, and a writer appends it: [`ReadNoteWriter`] is the queue's consumer, run by the
//! `event-worker` function. A reader that cannot send its note hands out nothing: the
//! audit API answers 503, `scimgw audit` refuses to read.
//!
//! A note says what its sender claims; the queue says who sent it (SQS's `SenderId`,
//! which the sender cannot choose). The record names the sender as the actor, except
//! for a note from the audit API itself ([`SenderTrust`]), which names the auditor whose
//! token it checked.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{
    AuditActor, AuditLog, AuditOperation, AuditRecord, AuditSource, AuditSubject, ListSummary,
    Outcome, ReadVia,
};
use crate::ports::events::{EventBatchHandler, ReceivedMessage};

pub use crate::ports::audit_reads::{ReadNoteError, ReadNotes};

/// A note body longer than this is not read (a note is a few hundred bytes).
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The longest query a note's record keeps (the audit API refuses longer query strings).
pub const MAX_NOTE_QUERY_CHARS: usize = 4096;

/// The longest any other text of a note's record keeps.
pub const MAX_NOTE_TEXT_CHARS: usize = 512;

/// What a record of a read carries as its rule-set version: reads apply no rules.
const NO_RULES: &str = "-";

/// One read of the audit trail, as its reader reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadNote {
    /// When the read was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Through what.
    pub via: ReadVia,
    /// The HTTP method of an audit API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The audit API's path, or the `scimgw audit` command.
    pub path: String,
    /// What was asked, as a query string (`target=…&since=…`); never a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// How many records were handed out, when the reader knows it when it notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// The auditor the audit API authenticated (the token's `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// The client's `User-Agent`, or the CLI's name and version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The HTTP status answered, for an audit API call (the CLI notes before it reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time from arrival to answer, for an audit API call.
    #[serde(default)]
    pub latency_ms: u64,
    /// The read's correlation id (in the reader's logs too).
    pub correlation_id: String,
    /// The caller's address, for an audit API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// API Gateway's request id, for an audit API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Which senders of notes the writer takes at their word about the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderTrust {
    /// Senders whose `SenderId` starts with this: the audit API's role's unique id
    /// (`AROA…`; an assumed role's `SenderId` is `<role id>:<session>`).
    AuditApi(String),
    /// Every sender (one process holding every part, as `scimgw dev`).
    Everyone,
}

impl SenderTrust {
    fn trusts(&self, sender: Option<&str>) -> bool {
        match (self, sender) {
            (SenderTrust::Everyone, _) | (_, None) => true,
            (SenderTrust::AuditApi(role), Some(sender)) => {
                !role.is_empty()
                    && sender
                        .strip_prefix(role.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
            }
        }
    }
}

fn cut(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The record of a read. `sender` is the queue's `SenderId` of the note (`None`: it did
/// not come through a queue). Its actor is the reader the audit API authenticated when
/// `trust` vouches for the sender, else the sender (`aws:<SenderId>`). Texts are cut to
/// bounded lengths, since any principal allowed to send to the queue can write a note.
pub fn read_record(note: &ReadNote, sender: Option<&str>, trust: &SenderTrust) -> AuditRecord {
    let text = |t: &Option<String>| t.as_deref().map(|t| cut(t, MAX_NOTE_TEXT_CHARS));
    let vouched = note.via == ReadVia::AuditApi && trust.trusts(sender);
    let credential = match (vouched, &note.reader, sender) {
        (true, Some(reader), _) => cut(reader, MAX_NOTE_TEXT_CHARS),
        (_, _, Some(sender)) => format!("aws:{}", cut(sender, MAX_NOTE_TEXT_CHARS)),
        (_, Some(reader), None) => cut(reader, MAX_NOTE_TEXT_CHARS),
        (_, None, None) => "unknown".to_owned(),
    };
    let outcome = match note.status {
        None => Outcome::Success,
        Some(s) if s < 400 => Outcome::Success,
        Some(s) if s < 500 => Outcome::Refused,
        Some(_) => Outcome::Failure,
    };
    AuditRecord {
        time: note.time,
        source: AuditSource::Read {
            via: note.via,
            method: text(&note.method),
            path: cut(&note.path, MAX_NOTE_TEXT_CHARS),
            sender: sender.map(|s| cut(s, MAX_NOTE_TEXT_CHARS)),
        },
        actor: AuditActor {
            credential,
            user_agent: text(&note.user_agent),
        },
        subject: AuditSubject::default(),
        operation: AuditOperation::Read,
        membership: None,
        changes: Vec::new(),
        query: Some(ListSummary {
            filter: note
                .query
                .as_deref()
                .map(|q| cut(q, MAX_NOTE_QUERY_CHARS))
                .filter(|q| !q.is_empty()),
            total_results: note.records,
        }),
        rule_set_version: NO_RULES.to_owned(),
        outcome,
        status: note.status.unwrap_or(0),
        target_status: None,
        target_calls: 0,
        latency_ms: note.latency_ms,
        correlation_id: cut(&note.correlation_id, MAX_NOTE_TEXT_CHARS),
        error: None,
        reason: None,
        source_ip: text(&note.source_ip),
        request_id: text(&note.request_id),
    }
}

/// The record of a message on the reads queue that is not a note: kept as evidence that
/// its sender wrote to the queue, refused, with its size and nothing of its content.
fn unreadable_record(message: &ReceivedMessage, now: OffsetDateTime) -> AuditRecord {
    let note = ReadNote {
        time: now,
        via: ReadVia::Cli,
        method: None,
        path: "unreadable read note".to_owned(),
        query: None,
        records: None,
        reader: None,
        user_agent: None,
        status: None,
        latency_ms: 0,
        correlation_id: cut(&message.message_id, MAX_NOTE_TEXT_CHARS),
        source_ip: None,
        request_id: None,
    };
    let mut record = read_record(&note, message.sender_id.as_deref(), &SenderTrust::Everyone);
    if message.sender_id.is_none() {
        record.actor.credential = "unknown".to_owned();
    }
    record.outcome = Outcome::Refused;
    record.error = Some(format!(
        "the message is not a read note ({} bytes)",
        message.body.len()
    ));
    record
}

/// The reads queue's consumer: appends one record per note. A note whose record could
/// not be appended is named as failed, so the queue hands it out again (and sets it
/// aside in its dead-letter queue after its redrive limit); a message that is not a note
/// is recorded as such, never retried.
pub struct ReadNoteWriter {
    log: Arc<dyn AuditLog>,
    trust: SenderTrust,
    clock: Arc<dyn crate::Clock>,
}

impl std::fmt::Debug for ReadNoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadNoteWriter")
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl ReadNoteWriter {
    /// A writer into `log`, vouching for the readers named by senders `trust` names.
    pub fn new(log: Arc<dyn AuditLog>, trust: SenderTrust, clock: Arc<dyn crate::Clock>) -> Self {
        Self { log, trust, clock }
    }

    /// The record a message becomes.
    pub fn record_of(&self, message: &ReceivedMessage) -> AuditRecord {
        let note = (message.body.len() <= MAX_NOTE_BYTES)
            .then(|| serde_json::from_str::<ReadNote>(&message.body).ok())
            .flatten();
        match note {
            Some(note) => read_record(&note, message.sender_id.as_deref(), &self.trust),
            None => unreadable_record(message, self.clock.now()),
        }
    }
}

#[async_trait]
impl EventBatchHandler for ReadNoteWriter {
    async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<String> {
        let mut failed = Vec::new();
        for message in batch {
            let record = self.record_of(&message);
            if let Err(error) = self.log.append(record).await {
                tracing::error!(
                    target: "scimgw::audit",
                    message_id = %message.message_id,
                    error = %error,
                    "a read of the audit trail could not be recorded; the queue hands it out again"
                );
                failed.push(message.message_id);
            }
        }
        failed
    }
}

/// Notes appended straight to a trail by a process that holds the writers' power as
/// well as the readers' (`scimgw dev` without `--aws-endpoint`).
pub struct AppendingReadNotes {
    log: Arc<dyn AuditLog>,
}

impl std::fmt::Debug for AppendingReadNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendingReadNotes").finish_non_exhaustive()
    }
}

impl AppendingReadNotes {
    /// Notes appended to `log`.
    pub fn new(log: Arc<dyn AuditLog>) -> Self {
        Self { log }
    }
}

#[async_trait]
impl ReadNotes for AppendingReadNotes {
    async fn send(&self, note: &ReadNote) -> Result<(), ReadNoteError> {
        self.log
            .append(read_record(note, None, &SenderTrust::Everyone))
            .await
            .map_err(|e| ReadNoteError(Box::new(e)))
    }
}

/// Notes kept in memory, for tests: every note sent, and a switch that makes sending
/// fail, as an unreachable queue does.
#[derive(Debug, Default)]
pub struct InMemoryReadNotes {
    notes: std::sync::Mutex<Vec<ReadNote>>,
    refusing: std::sync::atomic::AtomicBool,
}

impl InMemoryReadNotes {
    /// No notes yet, taking notes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every note sent so far.
    pub fn notes(&self) -> Vec<ReadNote> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes every send fail (`true`) or succeed again.
    pub fn refuse(&self, refusing: bool) {
        self.refusing
            .store(refusing, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl ReadNotes for InMemoryReadNotes {
    async fn send(&self, note: &ReadNote) -> Result<(), ReadNoteError> {
        if self.refusing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ReadNoteError("the reads queue is unreachable".into()));
        }
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(note.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::FixedClock;
    use crate::audit::{AuditError, InMemoryAuditLog};

    fn api_note() -> ReadNote {
        ReadNote {
            time: time::macros::datetime!(2026-11-30 10:00 UTC),
            via: ReadVia::AuditApi,
            method: Some("GET".into()),
            path: "/audit/records".into(),
            query: Some("target=alice%40example.com".into()),
            records: Some(3),
            reader: Some("00u-auditor".into()),
            user_agent: Some("curl/8".into()),
            status: Some(200),
            latency_ms: 12,
            correlation_id: "c-1".into(),
            source_ip: Some("203.0.113.9".into()),
            request_id: Some("apigw-1".into()),
        }
    }

    fn message(body: &str, sender: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m-1".into(),
            body: body.into(),
            receive_count: 1,
            sender_id: sender.map(str::to_owned),
        }
    }

    fn writer(log: Arc<dyn AuditLog>) -> ReadNoteWriter {
        ReadNoteWriter::new(
            log,
            SenderTrust::AuditApi("AROAAUDITAPI".into()),
            Arc::new(FixedClock::new(
                time::macros::datetime!(2026-11-30 11:00 UTC),
            )),
        )
    }

    #[test]
    fn a_note_from_the_audit_api_names_the_auditor_and_what_was_asked() {
        let note = api_note();
        let body = serde_json::to_string(&note).unwrap();
        let record = writer(Arc::new(InMemoryAuditLog::new()))
            .record_of(&message(&body, Some("AROAAUDITAPI:audit-api-session")));
        assert_eq!(record.actor.credential, "00u-auditor");
        assert_eq!(record.operation, AuditOperation::Read);
        assert_eq!(record.outcome, Outcome::Success);
        assert_eq!(
            record.source,
            AuditSource::Read {
                via: ReadVia::AuditApi,
                method: Some("GET".into()),
                path: "/audit/records".into(),
                sender: Some("AROAAUDITAPI:audit-api-session".into()),
            }
        );
        let query = record.query.unwrap();
        assert_eq!(query.filter.as_deref(), Some("target=alice%40example.com"));
        assert_eq!(query.total_results, Some(3));
        assert_eq!(record.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(record.request_id.as_deref(), Some("apigw-1"));
        assert_eq!(record.time, note.time);
    }

    #[test]
    fn a_note_claiming_the_audit_api_from_another_sender_is_that_senders() {
        let body = serde_json::to_string(&api_note()).unwrap();
        let w = writer(Arc::new(InMemoryAuditLog::new()));
        for sender in ["AIDAUSER", "AROAAUDITAPIX:s", "AROAAUDITAP"] {
            let record = w.record_of(&message(&body, Some(sender)));
            assert_eq!(record.actor.credential, format!("aws:{sender}"), "{sender}");
        }
    }

    #[test]
    fn a_cli_note_is_always_its_senders() {
        let mut note = api_note();
        note.via = ReadVia::Cli;
        note.reader = Some("someone-else".into());
        let body = serde_json::to_string(&note).unwrap();
        let record = writer(Arc::new(InMemoryAuditLog::new()))
            .record_of(&message(&body, Some("AROAAUDITAPI:x")));
        assert_eq!(record.actor.credential, "aws:AROAAUDITAPI:x");
    }

    #[test]
    fn refused_and_failed_reads_say_so() {
        for (status, outcome) in [
            (Some(400), Outcome::Refused),
            (Some(503), Outcome::Failure),
            (Some(200), Outcome::Success),
            (None, Outcome::Success),
        ] {
            let mut note = api_note();
            note.status = status;
            assert_eq!(
                read_record(&note, None, &SenderTrust::Everyone).outcome,
                outcome
            );
        }
    }

    #[test]
    fn hostile_notes_are_cut_to_size_and_stripped_of_control_characters() {
        let mut note = api_note();
        note.path = format!("/audit\n{}", "x".repeat(10_000));
        note.query = Some("q".repeat(100_000));
        note.reader = Some("r".repeat(10_000));
        let record = read_record(&note, None, &SenderTrust::Everyone);
        let AuditSource::Read { path, .. } = &record.source else {
            panic!("not a read")
        };
        assert_eq!(path.chars().count(), MAX_NOTE_TEXT_CHARS);
        assert!(!path.contains('\n'));
        assert_eq!(
            record.query.unwrap().filter.unwrap().len(),
            MAX_NOTE_QUERY_CHARS
        );
        assert_eq!(record.actor.credential.len(), MAX_NOTE_TEXT_CHARS);
    }

    #[tokio::test]
    async fn a_message_that_is_no_note_is_recorded_refused_and_not_retried() {
        let log = Arc::new(InMemoryAuditLog::new());
        let w = writer(log.clone());
        let huge = "{".repeat(MAX_NOTE_BYTES + 1);
        for body in ["not json", "{\"via\":\"cli\"}", huge.as_str()] {
            let failed = w.handle_batch(vec![message(body, Some("AIDAX"))]).await;
            assert!(failed.is_empty());
        }
        let records = log.records();
        assert_eq!(records.len(), 3);
        for record in &records {
            assert_eq!(record.outcome, Outcome::Refused);
            assert_eq!(record.actor.credential, "aws:AIDAX");
            assert!(!record.error.as_deref().unwrap().contains("not json"));
        }
    }

    struct Refusing;

    #[async_trait]
    impl AuditLog for Refusing {
        async fn append(&self, _record: AuditRecord) -> Result<(), AuditError> {
            Err(AuditError::Unavailable("refused".into()))
        }
    }

    #[tokio::test]
    async fn a_note_that_cannot_be_appended_goes_back_to_the_queue() {
        let body = serde_json::to_string(&api_note()).unwrap();
        let failed = writer(Arc::new(Refusing))
            .handle_batch(vec![message(&body, Some("AIDAX"))])
            .await;
        assert_eq!(failed, ["m-1"]);
    }

    #[tokio::test]
    async fn appending_notes_write_the_record_at_once() {
        let log = Arc::new(InMemoryAuditLog::new());
        AppendingReadNotes::new(log.clone())
            .send(&api_note())
            .await
            .unwrap();
        assert_eq!(log.records()[0].actor.credential, "00u-auditor");
    }
}
