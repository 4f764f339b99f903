//! `scimgw events dlq list|replay|discard`: the dead-letter queue of the Okta event
//! path (`docs/okta-events.md`). Events land there after the worker failed them the
//! queue's redrive limit of times; an admin looks at why (the state table's ledger keeps
//! each event's attempts and last error), fixes the cause, and replays them onto the
//! events queue, or discards them.
//!
//! Replays and discards are recorded: each dead letter moved gets one audit record
//! (source `admin`, operation `replay` or `discard`, the event's uuid) when the audit
//! table and its key are given, and a discarded event's uuid is marked `discarded` in
//! the ledger, so that a late redelivery is not applied.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use aws_adapters::kms_audit_keys::writer_powers;
use aws_adapters::{DynamoDbAuditLog, DynamoDbEventLedger, SqsDeadLetterQueue};
use aws_config::{BehaviorVersion, Region};
use clap::{Args, Subcommand};
use gateway::Clock;
use gateway::SystemClock;
use gateway::audit::{
    AuditActor, AuditLog, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome,
};
use gateway::events::envelope::{EventKind, kind_of};
use gateway::ports::events::{DeadLetter, DeadLetterQueue, EventLedger, EventState};
use gateway::service::ResourceKind;
use indicatif::{ProgressBar, ProgressStyle};

/// How many dead letters `list` shows unless told otherwise.
const DEFAULT_LIST: usize = 100;

/// Options of `scimgw events`.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    place: PlaceArgs,
    #[command(subcommand)]
    command: EventsCommand,
}

/// Where the queues, the ledger and the audit trail are.
#[derive(Debug, Clone, Default, Args)]
pub struct PlaceArgs {
    /// The events queue (the stack's `EventsQueueUrl` output): replays go there.
    #[arg(
        long,
        env = "SCIMGW_EVENTS_QUEUE_URL",
        global = true,
        value_name = "URL"
    )]
    queue_url: Option<String>,
    /// The dead-letter queue (the stack's `EventsDeadLetterQueueUrl` output).
    #[arg(long, env = "SCIMGW_EVENTS_DLQ_URL", global = true, value_name = "URL")]
    dlq_url: Option<String>,
    /// The state table (`StateTableName`): each event's attempts and last error, and
    /// where a discarded event is marked.
    #[arg(long, env = "SCIMGW_STATE_TABLE", global = true, value_name = "NAME")]
    table: Option<String>,
    /// The audit table (`AuditTableName`): replays and discards are recorded in it.
    #[arg(long, env = "SCIMGW_AUDIT_TABLE", global = true, value_name = "NAME")]
    audit_table: Option<String>,
    /// The audit trail's KMS HMAC key (`AuditMacKeyArn`), to MAC those records (needs
    /// kms:GenerateMac on it: the stack's writers and break-glass roles have it).
    #[arg(long, env = "SCIMGW_AUDIT_MAC_KEY", global = true, value_name = "ARN")]
    audit_mac_key: Option<String>,
    /// The AWS endpoint, e.g. a local moto server.
    #[arg(long, global = true, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    region: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
enum EventsCommand {
    /// The dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

#[derive(Debug, Clone, Subcommand)]
enum DlqCommand {
    /// List dead letters (none is moved): message id, event uuid, type, Okta id,
    /// receives, and the last error from the ledger.
    List {
        /// At most this many.
        #[arg(long, default_value_t = DEFAULT_LIST)]
        max: usize,
        /// JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back on the events queue (all, or those named by --id).
    Replay {
        /// A message id from `list` (repeatable); none: all.
        #[arg(long = "id", value_name = "MESSAGE_ID")]
        ids: Vec<String>,
    },
    /// Delete dead letters for good (those named by --id, or all with --all).
    Discard {
        /// A message id from `list` (repeatable).
        #[arg(
            long = "id",
            value_name = "MESSAGE_ID",
            required_unless_present = "all"
        )]
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

/// Runs `scimgw events`; answers the exit code (2 for a usage or access problem).
pub async fn run(args: EventsArgs) -> ExitCode {
    match run_inner(args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("scimgw events: {error:#}");
            ExitCode::from(2)
        }
    }
}

struct Tools {
    dlq: SqsDeadLetterQueue,
    ledger: Option<DynamoDbEventLedger>,
    audit: Option<DynamoDbAuditLog>,
}

async fn open(place: &PlaceArgs, needs_audit: bool) -> anyhow::Result<Tools> {
    let dlq_url = place
        .dlq_url
        .clone()
        .context("say which dead-letter queue: --dlq-url URL (the stack's EventsDeadLetterQueueUrl output) or SCIMGW_EVENTS_DLQ_URL")?;
    let queue_url = place
        .queue_url
        .clone()
        .context("say which events queue replays go to: --queue-url URL (the stack's EventsQueueUrl output) or SCIMGW_EVENTS_QUEUE_URL")?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &place.aws_endpoint {
        reqwest::Url::parse(endpoint)
            .with_context(|| format!("--aws-endpoint {endpoint}: not a URL"))?;
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &place.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let aws = loader.load().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let ledger = place.table.as_ref().map(|t| {
        DynamoDbEventLedger::new(dynamodb.clone(), t.clone(), Arc::new(SystemClock))
            .with_timeout(crate::STORE_TIMEOUT)
    });
    let audit = match (&place.audit_table, &place.audit_mac_key) {
        (Some(table), Some(mac_key)) => Some(audit_writer(&aws, table, mac_key)),
        (None, None) if !needs_audit => None,
        _ => anyhow::bail!(
            "replays and discards are recorded in the audit trail: give --audit-table NAME \
             and --audit-mac-key ARN (the stack's AuditTableName and AuditMacKeyArn \
             outputs), or SCIMGW_AUDIT_TABLE and SCIMGW_AUDIT_MAC_KEY"
        ),
    };
    Ok(Tools {
        dlq: SqsDeadLetterQueue::new(aws_sdk_sqs::Client::new(&aws), dlq_url, queue_url)
            .with_timeout(crate::STORE_TIMEOUT),
        ledger,
        audit,
    })
}

/// The audit table `table` as a writer of admin records, MACed with `mac_key` (also
/// `scimgw entitlements`').
pub(crate) fn audit_writer(
    aws: &aws_config::SdkConfig,
    table: &str,
    mac_key: &str,
) -> DynamoDbAuditLog {
    DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(aws),
        table.to_owned(),
        writer_powers(&aws_sdk_kms::Client::new(aws), mac_key),
        Arc::new(SystemClock),
        time::Duration::days(
            i64::try_from(edge::config::DEFAULT_AUDIT_RETENTION_DAYS).unwrap_or(i64::MAX / 86_400),
        ),
    )
}

async fn run_inner(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let EventsCommand::Dlq(command) = args.command;
    let needs_audit = !matches!(command, DlqCommand::List { .. });
    let tools = open(&args.place, needs_audit).await?;
    match command {
        DlqCommand::List { max, json } => list(&tools, max, json).await,
        DlqCommand::Replay { ids } => replay(&tools, ids).await,
        DlqCommand::Discard { ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            discard(&tools, ids).await
        }
    }
}

async fn list(tools: &Tools, max: usize, json: bool) -> anyhow::Result<ExitCode> {
    let letters = tools
        .dlq
        .list(max)
        .await
        .map_err(|e| anyhow::anyhow!("listing the dead-letter queue: {e}"))?;
    if !json {
        println!(
            "{:<40} {:<38} {:<36} {:<22} {:>8}  last error",
            "message id", "event uuid", "type", "okta id", "receives"
        );
    }
    for letter in &letters {
        let last_error = match (&tools.ledger, &letter.event) {
            (Some(ledger), Some(event)) => ledger
                .entry(&event.uuid)
                .await
                .ok()
                .flatten()
                .and_then(|e| e.last_error),
            _ => None,
        };
        let event = letter.event.as_ref();
        if json {
            let line = serde_json::json!({
                "message_id": letter.message_id,
                "uuid": event.map(|e| &e.uuid),
                "event_type": event.map(|e| &e.event_type),
                "okta_id": event.map(|e| &e.group_key),
                "published": event.map(|e| &e.published),
                "receive_count": letter.receive_count,
                "last_error": last_error,
                "raw": event.is_none().then_some(&letter.raw),
            });
            println!("{line}");
        } else {
            println!(
                "{:<40} {:<38} {:<36} {:<22} {:>8}  {}",
                letter.message_id,
                event.map_or("(not an event)", |e| e.uuid.as_str()),
                event.map_or("-", |e| e.event_type.as_str()),
                event.map_or("-", |e| e.group_key.as_str()),
                letter.receive_count,
                last_error.as_deref().unwrap_or("-"),
            );
        }
    }
    if !json {
        eprintln!("{} dead letter(s)", letters.len());
    }
    Ok(ExitCode::SUCCESS)
}

async fn replay(tools: &Tools, ids: Vec<String>) -> anyhow::Result<ExitCode> {
    let selected: Vec<String> = if ids.is_empty() {
        tools
            .dlq
            .list(usize::MAX)
            .await
            .map_err(|e| anyhow::anyhow!("listing the dead-letter queue: {e}"))?
            .into_iter()
            .map(|l| l.message_id)
            .collect()
    } else {
        ids
    };
    let bar = progress(selected.len(), "replaying");
    let mut moved = 0;
    let mut failed = false;
    for chunk in selected.chunks(10) {
        match tools.dlq.replay(chunk).await {
            Ok(letters) => {
                for letter in &letters {
                    record(tools, letter, AuditOperation::Replay).await?;
                }
                moved += letters.len();
                bar.inc(chunk.len() as u64);
            }
            Err(error) => {
                bar.suspend(|| eprintln!("scimgw events: replay: {error}"));
                failed = true;
            }
        }
    }
    bar.finish_and_clear();
    println!("{moved} dead letter(s) replayed onto the events queue");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn discard(tools: &Tools, ids: Vec<String>) -> anyhow::Result<ExitCode> {
    let letters = tools
        .dlq
        .discard(&ids)
        .await
        .map_err(|e| anyhow::anyhow!("discarding: {e}"))?;
    for letter in &letters {
        if let (Some(ledger), Some(event)) = (&tools.ledger, &letter.event) {
            ledger
                .set_state(&event.uuid, EventState::Discarded)
                .await
                .map_err(|e| anyhow::anyhow!("marking {} discarded: {e}", event.uuid))?;
        }
        record(tools, letter, AuditOperation::Discard).await?;
    }
    println!("{} dead letter(s) discarded", letters.len());
    Ok(ExitCode::SUCCESS)
}

/// One audit record for a dead letter an admin moved.
async fn record(
    tools: &Tools,
    letter: &DeadLetter,
    operation: AuditOperation,
) -> anyhow::Result<()> {
    let Some(audit) = &tools.audit else {
        return Ok(());
    };
    let started = Instant::now();
    let event = letter.event.as_ref();
    let kind = match event.and_then(|e| kind_of(&e.event_type)) {
        Some(EventKind::Group) => ResourceKind::Group,
        _ => ResourceKind::User,
    };
    let record = AuditRecord {
        time: SystemClock.now(),
        source: AuditSource::Admin {
            command: format!("events dlq {}", operation_word(operation)),
            event_uuid: event.map(|e| e.uuid.clone()),
        },
        actor: AuditActor {
            credential: "scimgw-cli".to_owned(),
            user_agent: Some(operator()),
        },
        subject: AuditSubject {
            resource_type: Some(kind),
            external_id: event.map(|e| e.group_key.clone()),
            ..AuditSubject::default()
        },
        operation,
        membership: None,
        changes: Vec::new(),
        query: None,
        rule_set_version: "-".to_owned(),
        outcome: Outcome::Success,
        status: 200,
        target_status: None,
        target_calls: 0,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        correlation_id: letter.message_id.clone(),
        error: None,
        reason: event.map(|e| format!("{} of {}", e.event_type, e.published)),
        source_ip: None,
        request_id: None,
    };
    audit
        .append(record)
        .await
        .map_err(|e| anyhow::anyhow!("recording the {}: {e}", operation_word(operation)))
}

fn operation_word(operation: AuditOperation) -> &'static str {
    match operation {
        AuditOperation::Discard => "discard",
        _ => "replay",
    }
}

/// Who ran the command, as the machine knows them: `user@host` (for the audit records
/// of `scimgw events` and `scimgw sync`).
pub(crate) fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    // HOSTNAME is a shell variable that is seldom exported.
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{user}@{host}")
}

fn progress(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {wide_bar} {pos}/{len}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}
