//! `scimgw audit --table` records itself: before a command reads the table it sends a
//! note of the read to the reads queue (`--reads-queue`), which the stack's
//! `event-worker` appends to the trail (`gateway::audit_reads`), and it reads nothing
//! when the note cannot be sent. The record names the IAM principal that sent the note,
//! as SQS reports it, not anything the CLI says. Through `--api` the audit API notes
//! each read itself. `scimgw doctor --stack` sends its note the same way.

use anyhow::Context as _;
use aws_adapters::SqsReadNotes;
use gateway::audit::ReadVia;
use gateway::audit_reads::{ReadNote, ReadNotes};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SourceArgs;

/// What the CLI says it is, in the note's user agent.
const USER_AGENT: &str = concat!("scimgw/", env!("CARGO_PKG_VERSION"));

/// What a command asked for, as query-string pairs.
#[derive(Debug, Default)]
pub(crate) struct Asked(Vec<(&'static str, String)>);

impl Asked {
    /// Adds `name=value` when there is a value.
    pub(crate) fn with(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.0.push((name, value.to_string()));
        }
        self
    }

    /// Adds `name=<time>` (RFC 3339) when there is a time.
    pub(crate) fn with_time(self, name: &'static str, time: Option<OffsetDateTime>) -> Self {
        self.with(name, time.and_then(|t| t.format(&Rfc3339).ok()))
    }

    fn query(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(self.0.iter().map(|(n, v)| (*n, v.as_str())))
                .finish()
        })
    }
}

/// Sends the note of `command` (e.g. `scimgw audit export`) against the table, or says
/// why the command will not read.
pub(crate) async fn note_table_read(
    source: &SourceArgs,
    command: String,
    asked: Asked,
) -> anyhow::Result<()> {
    let Some(queue) = source
        .reads_queue
        .as_deref()
        .filter(|q| !q.trim().is_empty())
    else {
        anyhow::bail!(
            "reads of the audit table are recorded in the trail: give --reads-queue URL (the \
             stack's AuditReadsQueueUrl output; needs sqs:SendMessage)"
        );
    };
    let aws =
        super::table::aws_config(source.aws_endpoint.as_deref(), source.region.as_deref()).await?;
    send_note(&aws, queue, command, asked)
        .await
        .with_context(|| {
            format!("--reads-queue {queue}: the read could not be recorded, so nothing was read")
        })
}

/// Sends the note of a read of the table by `path` (`scimgw audit export`, `scimgw
/// doctor`) to the reads queue at `queue`.
pub(crate) async fn send_note(
    aws: &aws_config::SdkConfig,
    queue: &str,
    path: String,
    asked: Asked,
) -> anyhow::Result<()> {
    let note = ReadNote {
        time: OffsetDateTime::now_utc(),
        via: ReadVia::Cli,
        method: None,
        path,
        query: asked.query(),
        records: None,
        reader: None,
        user_agent: Some(USER_AGENT.to_owned()),
        status: None,
        latency_ms: 0,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        source_ip: None,
        request_id: None,
    };
    SqsReadNotes::new(aws_sdk_sqs::Client::new(aws), queue)
        .send(&note)
        .await
        .map_err(anyhow::Error::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn what_was_asked_is_a_query_string_of_the_given_values_only() {
        let asked = Asked::default()
            .with("target", Some("ada lovelace&co"))
            .with("actor", None::<String>)
            .with_time("since", Some(time::macros::datetime!(2026-11-01 00:00 UTC)))
            .with_time("until", None);
        assert_eq!(
            asked.query().as_deref(),
            Some("target=ada+lovelace%26co&since=2026-11-01T00%3A00%3A00Z")
        );
        assert_eq!(Asked::default().query(), None);
    }
}
