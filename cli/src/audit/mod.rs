//! `scimgw audit`: the auditors' tool. `query` reads one page of the trail, `export`
//! writes a whole period to a file (resumably), `verify` proves a period untampered, a
//! bounded span at a time (`edge::audit::VERIFY_SPAN`, as the audit API pages it), with a
//! progress bar on stderr when it is a terminal.
//!
//! It reads either the audit table directly (`--table`, IAM credentials from the
//! default chain, `--aws-endpoint` for a local emulator) or the audit API (`--api` with
//! an OIDC access token in `--token` or `SCIMGW_AUDIT_TOKEN`). Both are an
//! [`AuditStore`]: the table through `aws_adapters::DynamoDbAuditLog` ([`table`]), the API
//! through [`clients::audit_api::HttpAuditStore`], so every subcommand runs the same code
//! against either.
//!
//! Every command against the table is itself recorded in the trail before it reads
//! ([`reads`], `--reads-queue`); through the API, the API records each read.
//!
//! This file holds the options, the dispatch and the `query` and `verify` commands;
//! `export` lives in [`export`], what is printed for people in [`output`].
//!
//! Exit codes: 0 done (and, for `verify`, intact); 1 `verify` found tampering; 2 the
//! command could not run.

mod export;
pub(crate) mod output;
pub(crate) mod reads;
pub(crate) mod table;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use clients::audit_api::{AuditApiBuildError, HttpAuditStore, merge_reports, next_start};
use edge::audit::{
    VERIFY_SPAN, csv_writer, parse_time, verify_page_end, write_csv_header, write_csv_record,
};
use gateway::audit::{AuditOperation, Outcome};
use gateway::audit_store::{
    AuditQuery, AuditStore, AuditStoreError, DEFAULT_LIMIT, MAX_LIMIT, VerifyReport,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use output::{write_report, write_table};

/// Options of `scimgw audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(subcommand)]
    command: AuditCommand,
}

/// Where the trail is read: the table or the API.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read the audit table directly (IAM credentials from the default chain).
    #[arg(long, env = "SCIMGW_AUDIT_TABLE", global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// The AWS endpoint (DynamoDB, KMS, S3), e.g. a local moto server.
    #[arg(long, global = true, value_name = "URL")]
    pub aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The KMS HMAC keys whose record MACs `verify` accepts, comma-separated, the
    /// current one first (the stack's AuditMacKeyArn output). Needs kms:VerifyMac.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_MAC_KEY_IDS",
        global = true,
        value_name = "ARN,...",
        value_delimiter = ','
    )]
    pub mac_key_ids: Vec<String>,
    /// The KMS signing keys whose seals `verify` accepts, comma-separated, the current
    /// one first (the stack's AuditSealKeyArn output). Needs kms:GetPublicKey; `seal`
    /// signs with the first, which needs kms:Sign.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_SEAL_KEY_IDS",
        global = true,
        value_name = "ARN,...",
        value_delimiter = ','
    )]
    pub seal_key_ids: Vec<String>,
    /// The bucket holding the seals' write-once anchors (the stack's
    /// AuditAnchorBucketName output), needed by `verify` and `seal` against the table.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_ANCHOR_BUCKET",
        global = true,
        value_name = "NAME"
    )]
    pub anchor_bucket: Option<String>,
    /// The queue that takes a note of each read of the table (the stack's
    /// AuditReadsQueueUrl output): every command against the table is recorded in the
    /// audit trail, and reads nothing when its note cannot be sent. Needs
    /// sqs:SendMessage.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_READS_QUEUE",
        global = true,
        value_name = "URL"
    )]
    pub reads_queue: Option<String>,
    /// Read through the audit API at this base URL (the stage URL, before `/audit`).
    #[arg(long, env = "SCIMGW_AUDIT_API", global = true, value_name = "URL")]
    pub api: Option<String>,
    /// An access token for --api. Prefer SCIMGW_AUDIT_TOKEN, which keeps it out of
    /// the process list and the shell history.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
enum AuditCommand {
    /// Print one page of records matching the filters.
    Query(QueryArgs),
    /// Write every record matching the filters to a file (JSON Lines, or CSV for a
    /// `.csv` name), with a progress bar. An interrupted export resumes where it
    /// stopped when run again with the same arguments.
    Export(ExportArgs),
    /// Check a period for deleted, altered, inserted or re-ordered records. Exits 0
    /// when intact, 1 when not.
    Verify(VerifyArgs),
    /// Seal every finished hour not sealed yet, now (what the stack's sealer does every
    /// 15 minutes). Against the table only; needs the seal key's kms:Sign.
    Seal,
}

/// The filters every subcommand that reads records shares.
#[derive(Debug, Clone, Default, Args)]
struct FilterArgs {
    /// A user or group: Identity Center id, Okta id, userName or displayName.
    #[arg(long)]
    target: Option<String>,
    /// The credential that acted, e.g. `scim-token-1`.
    #[arg(long)]
    actor: Option<String>,
    /// From this time on (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_parser = parse_when)]
    since: Option<OffsetDateTime>,
    /// Before this time (RFC 3339, or a date for its midnight UTC).
    #[arg(long, value_parser = parse_when)]
    until: Option<OffsetDateTime>,
    /// Only this outcome.
    #[arg(long, value_enum)]
    outcome: Option<OutcomeArg>,
    /// Only this operation.
    #[arg(long, value_enum)]
    operation: Option<OperationArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeArg {
    Success,
    Failure,
    Refused,
    Skipped,
    /// The record written before a change to Identity Center; its outcome follows.
    Intent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OperationArg {
    Create,
    Replace,
    Patch,
    Delete,
    List,
    Get,
    Replay,
    Discard,
    Reconcile,
    /// A read of the audit trail itself.
    Read,
    /// An account assignment created (`scimgw entitlements`).
    Assign,
    /// An account assignment deleted.
    Unassign,
}

impl FilterArgs {
    /// The filters given, for the note of the read.
    fn asked(&self) -> reads::Asked {
        fn name(value: Option<impl ValueEnum>) -> Option<String> {
            value
                .and_then(|v| v.to_possible_value())
                .map(|v| v.get_name().to_owned())
        }
        reads::Asked::default()
            .with("target", self.target.as_deref())
            .with("actor", self.actor.as_deref())
            .with_time("since", self.since)
            .with_time("until", self.until)
            .with("outcome", name(self.outcome))
            .with("operation", name(self.operation))
    }

    fn query(&self, limit: u32, cursor: Option<String>) -> AuditQuery {
        AuditQuery {
            target: self.target.clone(),
            actor: self.actor.clone(),
            since: self.since,
            until: self.until,
            outcome: self.outcome.map(|o| match o {
                OutcomeArg::Success => Outcome::Success,
                OutcomeArg::Failure => Outcome::Failure,
                OutcomeArg::Refused => Outcome::Refused,
                OutcomeArg::Skipped => Outcome::Skipped,
                OutcomeArg::Intent => Outcome::Intent,
            }),
            operation: self.operation.map(|o| match o {
                OperationArg::Create => AuditOperation::Create,
                OperationArg::Replace => AuditOperation::Replace,
                OperationArg::Patch => AuditOperation::Patch,
                OperationArg::Delete => AuditOperation::Delete,
                OperationArg::List => AuditOperation::List,
                OperationArg::Get => AuditOperation::Get,
                OperationArg::Replay => AuditOperation::Replay,
                OperationArg::Discard => AuditOperation::Discard,
                OperationArg::Reconcile => AuditOperation::Reconcile,
                OperationArg::Read => AuditOperation::Read,
                OperationArg::Assign => AuditOperation::Assign,
                OperationArg::Unassign => AuditOperation::Unassign,
            }),
            limit,
            cursor,
        }
    }
}

/// RFC 3339, or `YYYY-MM-DD` for that day's midnight UTC.
pub(crate) fn parse_when(text: &str) -> Result<OffsetDateTime, String> {
    if let Ok(date) = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        return Ok(date.midnight().assume_utc());
    }
    parse_time("time", text).map_err(|_| {
        format!("{text:?}: expected RFC 3339 (2024-04-05T06:32:12Z) or a date (2024-04-05)")
    })
}

/// How `query` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum QueryFormat {
    /// Aligned columns for people.
    Table,
    /// `{"records": [...], "next_cursor": ...}` as the API answers.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

#[derive(Debug, Clone, Args)]
struct QueryArgs {
    #[command(flatten)]
    filters: FilterArgs,
    /// The most records to print (1 to 1000).
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT)))]
    limit: u32,
    /// Continue after a previous page (its `next_cursor`).
    #[arg(long)]
    cursor: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: QueryFormat,
}

#[derive(Debug, Clone, Args)]
struct ExportArgs {
    #[command(flatten)]
    filters: FilterArgs,
    /// The file to write: `.jsonl`/`.ndjson` for JSON Lines, `.csv` for CSV.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Records fetched per request (1 to 1000).
    #[arg(long, default_value_t = MAX_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT)))]
    page_size: u32,
    /// Discard an unfinished export of the same file and start over.
    #[arg(long)]
    restart: bool,
    /// Stop after this many pages, as an interruption would (for tests of resuming).
    #[arg(long, hide = true)]
    stop_after_pages: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VerifyFormat {
    /// A summary and one line per problem.
    Text,
    /// The report as JSON.
    Json,
}

#[derive(Debug, Clone, Args)]
struct VerifyArgs {
    /// Start of the period (default: the beginning of the trail).
    #[arg(long, value_parser = parse_when)]
    since: Option<OffsetDateTime>,
    /// End of the period, exclusive (default: now).
    #[arg(long, value_parser = parse_when)]
    until: Option<OffsetDateTime>,
    /// Prove an access report (`scimgw access … --format json`, or the
    /// `FILE.evidence.json` beside a report) was computed from this trail, intact: the
    /// same records are read again and must give the same count, head and digest, and
    /// the period they span must verify.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["since", "until"])]
    evidence: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: VerifyFormat,
}

/// Runs `scimgw audit`, printing errors itself so that they exit with 2, apart from
/// `verify`'s 1.
pub async fn run(args: AuditArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match execute(args, &mut stdout).await {
        Ok(code) => code,
        Err(error) => {
            let _ = stdout.flush();
            eprintln!("scimgw audit: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn execute(args: AuditArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if matches!(args.command, AuditCommand::Verify(_))
        && args.source.table.is_some()
        && (args.source.mac_key_ids.is_empty()
            || args.source.seal_key_ids.is_empty()
            || args.source.anchor_bucket.is_none())
    {
        bail!(
            "verify against the table needs --mac-key-ids, --seal-key-ids and --anchor-bucket \
             (the stack's AuditMacKeyArn, AuditSealKeyArn and AuditAnchorBucketName outputs)"
        );
    }
    if args.source.table.is_some() && args.source.api.is_none() {
        let (command, asked) = match &args.command {
            AuditCommand::Query(q) => (
                "query",
                q.filters
                    .asked()
                    .with("limit", Some(q.limit))
                    .with("cursor", q.cursor.as_deref()),
            ),
            AuditCommand::Export(e) => ("export", e.filters.asked()),
            AuditCommand::Verify(v) => (
                "verify",
                reads::Asked::default()
                    .with_time("since", v.since)
                    .with_time("until", v.until)
                    .with(
                        "evidence",
                        v.evidence.as_ref().map(|p| p.display().to_string()),
                    ),
            ),
            AuditCommand::Seal => ("seal", reads::Asked::default()),
        };
        reads::note_table_read(&args.source, format!("scimgw audit {command}"), asked).await?;
    }
    match args.command {
        AuditCommand::Query(query) => {
            let opened = open_store(&args.source).await?;
            run_query(opened.store(), &query, out).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export(export) => {
            let opened = open_store(&args.source).await?;
            export::run_export(opened.store(), &export).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify(verify) => {
            let opened = open_store(&args.source).await?;
            let verifier = match &opened {
                Opened::Table(store) => Verifier::Table(store.as_ref()),
                Opened::Api(api) => Verifier::Api(api),
            };
            let intact = run_verify(&verifier, &verify, out).await?;
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        AuditCommand::Seal => run_seal(&args.source, out).await,
    }
}

/// `scimgw audit seal`: one sealing run against the table, printed as JSON.
async fn run_seal(source: &SourceArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let Some(table) = &source.table else {
        bail!(
            "seal works against the table: give --table NAME (the stack's AuditTableName output)"
        );
    };
    if source.anchor_bucket.is_none() {
        bail!("seal needs --anchor-bucket (the stack's AuditAnchorBucketName output)");
    }
    let store = table::open_sealer(table, source).await?;
    let run = store.seal_run().await.context("sealing failed")?;
    let summary = serde_json::json!({
        "sealed_through": run.sealed.as_ref().map(|s| s.through.clone()),
        "chains": run.sealed.as_ref().map_or(0, |s| s.chains),
        "signature": run.sealed.as_ref().map(|s| s.mac.clone()),
        "repairs": run.repairs,
    });
    writeln!(out, "{summary:#}")?;
    Ok(ExitCode::SUCCESS)
}

/// The trail, as the flags name it.
pub(crate) enum Opened {
    /// The audit table.
    Table(Box<dyn AuditStore>),
    /// The audit API.
    Api(HttpAuditStore),
}

impl Opened {
    pub(crate) fn store(&self) -> &dyn AuditStore {
        match self {
            Opened::Table(store) => store.as_ref(),
            Opened::Api(api) => api,
        }
    }
}

pub(crate) async fn open_store(source: &SourceArgs) -> anyhow::Result<Opened> {
    match (&source.table, &source.api) {
        (Some(_), Some(_)) => bail!("give either --table or --api, not both"),
        (None, None) => bail!(
            "say where the trail is: --table NAME (direct, IAM credentials) or --api URL (audit API)"
        ),
        (Some(table), None) => Ok(Opened::Table(Box::new(table::open(table, source).await?))),
        (None, Some(api)) => {
            let token = source
                .token
                .clone()
                .filter(|t| !t.is_empty())
                .context("--api needs an access token: set SCIMGW_AUDIT_TOKEN (or --token)")?;
            Ok(Opened::Api(
                HttpAuditStore::new(api, token).map_err(api_error)?,
            ))
        }
    }
}

/// Says what is wrong with `--api` in the flag's terms.
fn api_error(error: AuditApiBuildError) -> anyhow::Error {
    match error {
        AuditApiBuildError::NotAUrl { base, source } => {
            anyhow::Error::from_boxed(source).context(format!("--api {base}: not a URL"))
        }
        AuditApiBuildError::Insecure { base } => anyhow::anyhow!(
            "--api {base}: must be https (plain http only to a loopback address): the token would travel in clear"
        ),
        AuditApiBuildError::Http(e) => anyhow::Error::new(e).context("building the HTTP client"),
    }
}

pub(crate) fn store_error(error: AuditStoreError) -> anyhow::Error {
    match error {
        AuditStoreError::InvalidCursor => {
            anyhow::anyhow!("the cursor is not one this query handed out")
        }
        AuditStoreError::InvalidQuery(message) => anyhow::anyhow!("{message}"),
        other => anyhow::Error::new(other),
    }
}

/// Prints one page of records in the chosen format.
async fn run_query(
    store: &dyn AuditStore,
    args: &QueryArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let query = args.filters.query(args.limit, args.cursor.clone());
    let page = store.query(&query).await.map_err(store_error)?;
    match args.format {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &page).context("writing the page")?;
            writeln!(out)?;
        }
        QueryFormat::Csv => {
            let mut writer = csv_writer(&mut *out);
            write_csv_header(&mut writer)?;
            for record in &page.records {
                write_csv_record(&mut writer, record)?;
            }
            writer.flush()?;
        }
        QueryFormat::Table => {
            write_table(&page.records, out)?;
            if let Some(cursor) = &page.next_cursor {
                eprintln!("more records: add --cursor {cursor}");
            }
        }
    }
    Ok(())
}

/// How `verify` verifies one page: against the table in steps it bounds itself as the
/// audit API does ([`verify_page_end`]), or through the API, which bounds its answers.
pub(crate) enum Verifier<'a> {
    Table(&'a dyn AuditStore),
    Api(&'a HttpAuditStore),
}

impl Verifier<'_> {
    /// The store the verifier reads.
    fn store(&self) -> &dyn AuditStore {
        match self {
            Verifier::Table(store) => *store,
            Verifier::Api(api) => *api,
        }
    }

    /// The report of one page from `since`, the end of the period it covered, and where
    /// the next page starts while `until` is not reached.
    async fn page(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<(VerifyReport, OffsetDateTime, Option<OffsetDateTime>), AuditStoreError> {
        match self {
            Verifier::Table(store) => {
                let end = verify_page_end(*store, since, until).await?;
                let report = store.verify(since, end).await?;
                Ok((report, end, (end < until).then_some(end)))
            }
            Verifier::Api(api) => {
                let page = api.verify_page(Some(since), Some(until)).await?;
                let next = page
                    .next_since
                    .map(|next| next_start(since, next, until))
                    .transpose()?;
                let end = page.until.or(next).unwrap_or(until);
                Ok((page.report, end, next))
            }
        }
    }
}

/// Verifies the period page by page, merging the pages' reports
/// ([`merge_reports`]), and prints the report; answers whether the trail is intact.
async fn run_verify(
    verifier: &Verifier<'_>,
    args: &VerifyArgs,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let mut evidence_problems = Vec::new();
    let (since, until) = match &args.evidence {
        Some(path) => {
            let claimed = read_evidence(path)?;
            evidence_problems = check_evidence(verifier.store(), &claimed).await?;
            let since = claimed
                .first
                .as_ref()
                .map_or(claimed.until - time::Duration::SECOND, |f| f.time);
            (since, claimed.until)
        }
        None => (
            args.since.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            args.until.unwrap_or_else(OffsetDateTime::now_utc),
        ),
    };
    if since >= until {
        bail!("--since must be before --until");
    }
    let progress = VerifyProgress::new(since, until);
    let report = match verify_pages(verifier, since, until, |end, checked| {
        progress.covered(end, checked);
    })
    .await
    {
        Ok(report) => report,
        Err(error) => {
            progress.bar.abandon();
            return Err(store_error(error));
        }
    };
    progress.bar.finish_and_clear();
    match args.format {
        VerifyFormat::Json => {
            let mut value = serde_json::to_value(&report)?;
            if args.evidence.is_some()
                && let Some(map) = value.as_object_mut()
            {
                map.insert(
                    "evidence_problems".into(),
                    serde_json::json!(evidence_problems),
                );
            }
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)?;
        }
        VerifyFormat::Text => {
            if args.evidence.is_some() {
                if evidence_problems.is_empty() {
                    writeln!(
                        out,
                        "evidence: the report's records are in the trail as they were"
                    )?;
                }
                for problem in &evidence_problems {
                    writeln!(out, "evidence: {problem}")?;
                }
            }
            write_report(&report, since, until, out)?;
        }
    }
    Ok(report.intact && evidence_problems.is_empty())
}

/// The evidence in `path`: a report's `evidence`, or the evidence alone.
fn read_evidence(path: &std::path::Path) -> anyhow::Result<access::Evidence> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--evidence {}: cannot read", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "--evidence {}: not JSON (give the report as --format json, or FILE.evidence.json)",
            path.display()
        )
    })?;
    let evidence = value.get("evidence").cloned().unwrap_or(value);
    serde_json::from_value(evidence).with_context(|| {
        format!(
            "--evidence {}: holds no access report evidence",
            path.display()
        )
    })
}

/// Where the trail now disagrees with `claimed`: the records before its `until` read
/// again, and its seal against the trail's newest.
async fn check_evidence(
    store: &dyn AuditStore,
    claimed: &access::Evidence,
) -> anyhow::Result<Vec<String>> {
    let history = access::read_history(store, claimed.until)
        .await
        .map_err(store_error)?;
    let mut problems = access::evidence::compare(claimed, &history.evidence(claimed.until, None));
    if let (Some(seen), Some(now)) = (&claimed.seal, access::latest_seal(store).await)
        && now.through < seen.through
    {
        problems.push(format!(
            "the report saw a seal through {}; the trail's newest is through {}: seals were removed",
            seen.through, now.through
        ));
    }
    Ok(problems)
}

/// Verifies `since..until` page by page, telling `covered` how far it got and how many
/// records it checked after each page, and merges the pages' reports
/// ([`merge_reports`]). `scimgw doctor --stack` verifies its day with it too.
pub(crate) async fn verify_pages(
    verifier: &Verifier<'_>,
    since: OffsetDateTime,
    until: OffsetDateTime,
    mut covered: impl FnMut(OffsetDateTime, u64),
) -> Result<VerifyReport, AuditStoreError> {
    let mut reports = Vec::new();
    let mut from = since;
    loop {
        let (report, end, next) = verifier.page(from, until).await?;
        reports.push(report);
        covered(end, reports.iter().map(|r| r.checked).sum());
        match next {
            Some(next) => from = next,
            None => break,
        }
    }
    Ok(merge_reports(reports))
}

/// `verify`'s progress bar over the period, on stderr (hidden when it is not a
/// terminal). A first page that reached far (a stretch without records before the
/// trail's oldest, from the epoch) moves the bar's start up to its last span, so that
/// the bar measures the part that holds records.
struct VerifyProgress {
    bar: ProgressBar,
    start: std::cell::Cell<Option<OffsetDateTime>>,
    since: OffsetDateTime,
    until: OffsetDateTime,
}

impl VerifyProgress {
    const STEPS: u64 = 1000;

    fn new(since: OffsetDateTime, until: OffsetDateTime) -> Self {
        let bar = ProgressBar::new(Self::STEPS);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar.set_message("verifying");
        Self {
            bar,
            start: std::cell::Cell::new(None),
            since,
            until,
        }
    }

    /// The period is verified up to `end`, `checked` records so far.
    fn covered(&self, end: OffsetDateTime, checked: u64) {
        let start = match self.start.get() {
            Some(start) => start,
            None => {
                let start = (end - VERIFY_SPAN).max(self.since);
                self.start.set(Some(start));
                start
            }
        };
        let total = (self.until - start).as_seconds_f64();
        let share = if total > 0.0 {
            ((end - start).as_seconds_f64() / total).clamp(0.0, 1.0)
        } else {
            1.0
        };
        // A share in [0, 1] times 1000 fits a u64 exactly.
        self.bar.set_position((share * Self::STEPS as f64) as u64);
        let when = end
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        self.bar
            .set_message(format!("verified up to {when}, {checked} records"));
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: AuditArgs,
    }

    fn parse(argv: &[&str]) -> Result<AuditArgs, clap::Error> {
        let mut all = vec!["audit"];
        all.extend_from_slice(argv);
        Wrapper::try_parse_from(all).map(|w| w.args)
    }

    #[test]
    fn the_source_flags_go_before_or_after_the_subcommand_and_filters_parse() {
        let args = parse(&[
            "query",
            "--table",
            "t",
            "--since",
            "2024-04-05",
            "--until",
            "2024-04-06T12:00:00+02:00",
            "--outcome",
            "refused",
            "--operation",
            "patch",
            "--limit",
            "5",
            "--format",
            "csv",
        ])
        .unwrap();
        assert_eq!(args.source.table.as_deref(), Some("t"));
        let AuditCommand::Query(query) = args.command else {
            panic!("not a query")
        };
        let q = query.filters.query(query.limit, None);
        assert_eq!(q.since, Some(time::macros::datetime!(2024-04-05 00:00 UTC)));
        assert_eq!(q.until, Some(time::macros::datetime!(2024-04-06 10:00 UTC)));
        assert_eq!(
            (q.outcome, q.operation, q.limit),
            (Some(Outcome::Refused), Some(AuditOperation::Patch), 5)
        );
        assert_eq!(query.format, QueryFormat::Csv);
    }

    /// `--region` (with `--aws-endpoint` and the key options) reaches every subcommand
    /// that talks to AWS, before or after the subcommand's name.
    #[test]
    fn region_parses_for_every_table_command_before_or_after_the_subcommand() {
        for argv in [
            &["--region", "eu-west-1", "query", "--table", "t"][..],
            &["query", "--table", "t", "--region", "eu-west-1"],
            &[
                "export",
                "--table",
                "t",
                "--out",
                "q.jsonl",
                "--region",
                "eu-west-1",
            ],
            &[
                "verify",
                "--table",
                "t",
                "--mac-key-ids",
                "k1,k2",
                "--region",
                "eu-west-1",
            ],
            &["--region=eu-west-1", "verify", "--table", "t"],
        ] {
            let args = parse(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            assert_eq!(args.source.region.as_deref(), Some("eu-west-1"), "{argv:?}");
            assert_eq!(args.source.table.as_deref(), Some("t"), "{argv:?}");
        }
        let args = parse(&["query", "--table", "t"]).unwrap();
        assert_eq!(args.source.region, None);
        assert!(parse(&["query", "--table", "t", "--region"]).is_err());
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        for argv in [
            &["query", "--limit", "0"][..],
            &["query", "--limit", "1001"],
            &["query", "--since", "yesterday"],
            &["query", "--outcome", "maybe"],
            &["export"],
        ] {
            assert!(parse(argv).is_err(), "{argv:?}");
        }
    }

    /// The audit API client's refusals, told in `--api`'s terms.
    #[tokio::test]
    async fn an_api_that_is_not_a_url_or_not_https_is_refused_naming_the_flag() {
        let refusal = |api: &str| {
            let source = SourceArgs {
                table: None,
                aws_endpoint: None,
                region: None,
                mac_key_ids: Vec::new(),
                seal_key_ids: Vec::new(),
                anchor_bucket: None,
                reads_queue: None,
                api: Some(api.to_owned()),
                token: Some("t".to_owned()),
            };
            async move {
                match open_store(&source).await {
                    Ok(_) => panic!("{:?} was accepted", source.api),
                    Err(error) => format!("{error:#}"),
                }
            }
        };
        assert_eq!(
            refusal("http://example.com/prod/audit/").await,
            "--api http://example.com/prod: must be https (plain http only to a loopback address): the token would travel in clear"
        );
        assert_eq!(
            refusal("example.com/prod").await,
            "--api example.com/prod: not a URL: relative URL without a base"
        );
        assert!(
            open_store(&SourceArgs {
                table: None,
                aws_endpoint: None,
                region: None,
                mac_key_ids: Vec::new(),
                seal_key_ids: Vec::new(),
                anchor_bucket: None,
                reads_queue: None,
                api: Some("http://127.0.0.1:9/".to_owned()),
                token: Some("t".to_owned()),
            })
            .await
            .is_ok()
        );
    }
}
