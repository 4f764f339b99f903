//! `scimgw audit`: the auditors' tool. `query` reads one page of the trail, `export`
//! writes a whole period to a file (resumably), `verify` proves a period untampered.
//!
//! It reads either the audit table directly (`--table`, IAM credentials from the
//! default chain, `--aws-endpoint` for a local emulator) or the audit API (`--api` with
//! an OIDC access token in `--token` or `SCIMGW_AUDIT_TOKEN`). Both are an
//! [`AuditStore`]: the table through `aws_adapters::DynamoDbAuditLog`, the API through
//! [`HttpAuditStore`], so every subcommand runs the same code against either.
//!
//! Exit codes: 0 done (and, for `verify`, intact); 1 `verify` found tampering; 2 the
//! command could not run.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::{Args, Subcommand, ValueEnum};
use edge::audit::{csv_cells, csv_writer, parse_time, write_csv_header, write_csv_record};
use gateway::audit::{AuditOperation, Outcome};
use gateway::audit_store::{
    AuditPage, AuditQuery, AuditStore, AuditStoreError, DEFAULT_LIMIT, MAX_LIMIT,
    StoredAuditRecord, VerifyReport,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit_table;

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
    /// The DynamoDB (and Secrets Manager) endpoint, e.g. a local moto server.
    #[arg(long, global = true, value_name = "URL")]
    pub aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The secret holding the audit key(s), needed by `verify` against the table.
    #[arg(
        long,
        env = "SCIMGW_AUDIT_KEY_SECRET_ID",
        global = true,
        value_name = "ID"
    )]
    pub key_secret_id: Option<String>,
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
}

/// The filters every subcommand that reads records shares.
#[derive(Debug, Clone, Default, Args)]
struct FilterArgs {
    /// A user or group: Identity Center id, Okta id, userName or displayName.
    #[arg(long)]
    target: Option<String>,
    /// The credential that acted, e.g. `scim-token:primary`.
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
}

impl FilterArgs {
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
            }),
            operation: self.operation.map(|o| match o {
                OperationArg::Create => AuditOperation::Create,
                OperationArg::Replace => AuditOperation::Replace,
                OperationArg::Patch => AuditOperation::Patch,
                OperationArg::Delete => AuditOperation::Delete,
                OperationArg::List => AuditOperation::List,
                OperationArg::Get => AuditOperation::Get,
            }),
            limit,
            cursor,
        }
    }
}

/// RFC 3339, or `YYYY-MM-DD` for that day's midnight UTC.
fn parse_when(text: &str) -> Result<OffsetDateTime, String> {
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
        && args.source.key_secret_id.is_none()
    {
        bail!("verify against the table needs --key-secret-id (the secret holding the audit key)");
    }
    let store = open_store(&args.source).await?;
    match args.command {
        AuditCommand::Query(query) => {
            run_query(store.as_ref(), &query, out).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export(export) => {
            run_export(store.as_ref(), &export).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify(verify) => {
            let intact = run_verify(store.as_ref(), &verify, out).await?;
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

async fn open_store(source: &SourceArgs) -> anyhow::Result<Box<dyn AuditStore>> {
    match (&source.table, &source.api) {
        (Some(_), Some(_)) => bail!("give either --table or --api, not both"),
        (None, None) => bail!(
            "say where the trail is: --table NAME (direct, IAM credentials) or --api URL (audit API)"
        ),
        (Some(table), None) => audit_table::open(table, source).await,
        (None, Some(api)) => {
            let token = source
                .token
                .clone()
                .filter(|t| !t.is_empty())
                .context("--api needs an access token: set SCIMGW_AUDIT_TOKEN (or --token)")?;
            Ok(Box::new(HttpAuditStore::new(api, token)?))
        }
    }
}

fn store_error(error: AuditStoreError) -> anyhow::Error {
    match error {
        AuditStoreError::InvalidCursor => {
            anyhow::anyhow!("the cursor is not one this query handed out")
        }
        AuditStoreError::InvalidQuery(message) => anyhow::anyhow!("{message}"),
        other => anyhow::Error::new(other),
    }
}

// ---------------------------------------------------------------------------------------
// query

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

/// A terminal-safe cell: control characters (an ANSI escape in a userName sent by an
/// IdP could rewrite the auditor's screen) are shown as `?`.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn write_table(records: &[StoredAuditRecord], out: &mut impl Write) -> anyhow::Result<()> {
    let header = [
        "TIME",
        "OUTCOME",
        "OPERATION",
        "STATUS",
        "TARGET",
        "ACTOR",
        "CORRELATION ID",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|stored| {
            let r = &stored.record;
            let target = &r.target;
            let kind = target
                .resource_type
                .map(|k| format!("{k:?}"))
                .unwrap_or_default();
            let name = target
                .name
                .as_deref()
                .or(target.target_id.as_deref())
                .or(target.external_id.as_deref())
                .unwrap_or("-");
            [
                r.time.format(&Rfc3339).unwrap_or_default(),
                format!("{:?}", r.outcome).to_lowercase(),
                format!("{:?}", r.operation).to_lowercase(),
                r.status.to_string(),
                shown(
                    &format!("{kind} {name}")
                        .trim()
                        .chars()
                        .take(48)
                        .collect::<String>(),
                ),
                shown(&r.actor.credential),
                shown(&r.correlation_id),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(&header.map(str::to_owned)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    if rows.is_empty() {
        writeln!(out, "(no records)")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// export

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExportFormat {
    JsonLines,
    Csv,
}

impl ExportFormat {
    fn of(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("jsonl" | "ndjson") => Ok(Self::JsonLines),
            Some("csv") => Ok(Self::Csv),
            _ => bail!(
                "--out {}: name the file .jsonl (JSON Lines) or .csv",
                path.display()
            ),
        }
    }
}

/// What an unfinished export remembers, in `<out>.export-state.json`: the filters (so
/// a resume with other filters is refused), where the next page starts, and how many
/// bytes of the output are complete (anything after them is a torn page, cut on resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExportState {
    version: u32,
    format: ExportFormat,
    filters: StateFilters,
    cursor: Option<String>,
    records: u64,
    bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateFilters {
    target: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    outcome: Option<OutcomeArg>,
    operation: Option<OperationArg>,
}

impl StateFilters {
    fn of(filters: &FilterArgs) -> Self {
        let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
        Self {
            target: filters.target.clone(),
            actor: filters.actor.clone(),
            since: time(filters.since),
            until: time(filters.until),
            outcome: filters.outcome,
            operation: filters.operation,
        }
    }
}

/// The state file of an export to `out`.
pub fn state_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".export-state.json");
    out.with_file_name(name)
}

fn read_state(path: &Path) -> anyhow::Result<Option<ExportState>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is not an export state file; remove it or use --restart",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Replaces the state file atomically (write a sibling, then rename over it), so that
/// an interruption leaves the old state or the new one, never half of one.
fn write_state(path: &Path, state: &ExportState) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state).context("serializing the export state")?;
    let mut file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn run_export(store: &dyn AuditStore, args: &ExportArgs) -> anyhow::Result<()> {
    let format = ExportFormat::of(&args.out)?;
    let state_file = state_path(&args.out);
    let filters = StateFilters::of(&args.filters);
    if args.restart {
        let _ = std::fs::remove_file(&state_file);
        let _ = std::fs::remove_file(&args.out);
    }

    let (mut state, file) = match read_state(&state_file)? {
        Some(state) => {
            if state.filters != filters || state.format != format {
                bail!(
                    "{} belongs to an export with other filters; run it with the same filters, or use --restart",
                    state_file.display()
                );
            }
            let file = OpenOptions::new()
                .write(true)
                .open(&args.out)
                .with_context(|| format!("resuming: opening {}", args.out.display()))?;
            let length = file.metadata()?.len();
            if length < state.bytes {
                bail!(
                    "{} is shorter than its state says; use --restart",
                    args.out.display()
                );
            }
            // Cut a page that was written but not recorded as done: it is fetched again.
            file.set_len(state.bytes)?;
            eprintln!(
                "resuming the export to {} after {} records",
                args.out.display(),
                state.records
            );
            (state, file)
        }
        None => {
            if args.out.exists() {
                bail!(
                    "{} exists; choose another file, remove it, or use --restart",
                    args.out.display()
                );
            }
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?;
            let state = ExportState {
                version: 1,
                format,
                filters,
                cursor: None,
                records: 0,
                bytes: 0,
            };
            (state, file)
        }
    };

    let mut out = BufWriter::new(file);
    std::io::Seek::seek(&mut out, std::io::SeekFrom::End(0))?;
    if state.bytes == 0 && format == ExportFormat::Csv {
        let mut writer = csv_writer(Vec::new());
        write_csv_header(&mut writer)?;
        let header = writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the CSV header: {e}"))?;
        out.write_all(&header)?;
        state.bytes = commit(&mut out)?;
    }
    write_state(&state_file, &state)?;

    let progress = Progress::new(args.filters.since, args.filters.until, state.records);
    let mut pages = 0u64;
    loop {
        let query = args.filters.query(args.page_size, state.cursor.clone());
        let page = store.query(&query).await.map_err(store_error)?;
        let mut bytes = Vec::new();
        match format {
            ExportFormat::JsonLines => {
                for record in &page.records {
                    serde_json::to_writer(&mut bytes, record)?;
                    bytes.push(b'\n');
                }
            }
            ExportFormat::Csv => {
                let mut writer = csv_writer(&mut bytes);
                for record in &page.records {
                    writer.write_record(csv_cells(record))?;
                }
                writer.flush()?;
            }
        }
        out.write_all(&bytes)?;
        state.bytes = commit(&mut out)?;
        state.records += page.records.len() as u64;
        state.cursor = page.next_cursor.clone();
        write_state(&state_file, &state)?;
        progress.advance(page.records.last(), state.records);
        pages += 1;
        if state.cursor.is_none() {
            break;
        }
        if args.stop_after_pages.is_some_and(|stop| pages >= stop) {
            progress.abandon();
            eprintln!(
                "stopped after {pages} pages ({} records); run the same command again to resume",
                state.records
            );
            return Ok(());
        }
    }
    progress.finish(state.records);
    std::fs::remove_file(&state_file)
        .with_context(|| format!("removing {}", state_file.display()))?;
    eprintln!(
        "exported {} records to {}",
        state.records,
        args.out.display()
    );
    Ok(())
}

/// Flushes and syncs the output, and answers its length: the bytes now safe on disk.
fn commit(out: &mut BufWriter<File>) -> anyhow::Result<u64> {
    out.flush()?;
    out.get_ref().sync_data()?;
    Ok(out.get_ref().metadata()?.len())
}

/// The export's progress bar: records come oldest first, so the share of the period
/// already covered is the progress (a spinner with a count when the period is open).
struct Progress {
    bar: ProgressBar,
    period: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl Progress {
    const STEPS: u64 = 1000;

    fn new(since: Option<OffsetDateTime>, until: Option<OffsetDateTime>, done: u64) -> Self {
        let until = until.unwrap_or_else(OffsetDateTime::now_utc);
        let period = since.filter(|s| *s < until).map(|s| (s, until));
        let bar = if period.is_some() {
            let bar = ProgressBar::new(Self::STEPS);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
                bar.set_style(style);
            }
            bar
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message(format!("{done} records"));
        Self { bar, period }
    }

    fn advance(&self, last: Option<&StoredAuditRecord>, records: u64) {
        if let (Some((since, until)), Some(last)) = (self.period, last) {
            let total = (until - since).as_seconds_f64();
            let done = (last.record.time - since).as_seconds_f64();
            let share = if total > 0.0 {
                (done / total).clamp(0.0, 1.0)
            } else {
                1.0
            };
            // A share in [0, 1] times 1000 fits a u64 exactly.
            self.bar.set_position((share * Self::STEPS as f64) as u64);
        }
        self.bar.set_message(format!("{records} records"));
    }

    fn finish(&self, records: u64) {
        self.bar.set_position(Self::STEPS);
        self.bar.finish_with_message(format!("{records} records"));
    }

    fn abandon(&self) {
        self.bar.abandon();
    }
}

// ---------------------------------------------------------------------------------------
// verify

async fn run_verify(
    store: &dyn AuditStore,
    args: &VerifyArgs,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let since = args.since.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let until = args.until.unwrap_or_else(OffsetDateTime::now_utc);
    if since >= until {
        bail!("--since must be before --until");
    }
    let report = store.verify(since, until).await.map_err(store_error)?;
    match args.format {
        VerifyFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        VerifyFormat::Text => write_report(&report, since, until, out)?,
    }
    Ok(report.intact)
}

fn write_report(
    report: &VerifyReport,
    since: OffsetDateTime,
    until: OffsetDateTime,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let when = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    writeln!(
        out,
        "{}: {} records in {} chains checked, from {} to {}",
        if report.intact {
            "INTACT"
        } else {
            "NOT INTACT"
        },
        report.checked,
        report.chains,
        when(since),
        when(until)
    )?;
    if !report.problems.is_empty() {
        writeln!(out, "{} problems:", report.problems.len())?;
    }
    for problem in &report.problems {
        let kind = serde_json::to_value(problem.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let subject = serde_json::to_value(problem.subject)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut what = vec![format!("{:<12}", kind.to_uppercase()), subject];
        if let Some(id) = &problem.record_id {
            what.push(id.clone());
        } else if let Some(chain) = &problem.chain {
            what.push(format!(
                "chain {chain}{}",
                problem.seq.map(|s| format!(" seq {s}")).unwrap_or_default()
            ));
        }
        if let Some(seal) = &problem.seal {
            what.push(format!("seal {seal}"));
        }
        if let Some(at) = problem.belongs_at {
            what.push(format!("(belongs at seq {at})"));
        }
        if let Some(location) = &problem.location {
            what.push(format!("at {location}"));
        }
        writeln!(
            out,
            "  {}: {}",
            shown(&what.join(" ")),
            shown(&problem.detail)
        )?;
    }
    for note in &report.notes {
        let kind = serde_json::to_value(note.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(out, "  note ({kind}): {}", shown(&note.detail))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The audit API as an AuditStore

/// The audit API read through HTTP, as an [`AuditStore`].
pub struct HttpAuditStore {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A refusal or failure of the audit API, with its own message.
#[derive(Debug, thiserror::Error)]
#[error("the audit API answered HTTP {status}: {message}")]
pub struct ApiError {
    status: u16,
    message: String,
}

impl HttpAuditStore {
    /// A store reading the API under `base` (the stage URL; a trailing `/audit` is
    /// accepted too) with the bearer `token`.
    pub fn new(base: &str, token: String) -> anyhow::Result<Self> {
        let base = base
            .trim_end_matches('/')
            .trim_end_matches("/audit")
            .to_owned();
        let parsed =
            reqwest::Url::parse(&base).with_context(|| format!("--api {base}: not a URL"))?;
        let loopback = parsed
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            bail!(
                "--api {base}: must be https (plain http only to a loopback address): the token would travel in clear"
            );
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { base, token, http })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T, AuditStoreError> {
        let unavailable =
            |e: Box<dyn std::error::Error + Send + Sync>| AuditStoreError::Unavailable(e);
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(params)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<T>()
                .await
                .map_err(|e| unavailable(Box::new(e)));
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["message"].as_str().unwrap_or("no detail").to_owned();
        if status == reqwest::StatusCode::BAD_REQUEST {
            return Err(AuditStoreError::InvalidQuery(message));
        }
        Err(unavailable(Box::new(ApiError {
            status: status.as_u16(),
            message,
        })))
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

#[async_trait]
impl AuditStore for HttpAuditStore {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        let mut params: Vec<(&str, String)> = vec![("limit", query.limit.to_string())];
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned).unwrap_or_default();
        if let Some(v) = &query.target {
            params.push(("target", v.clone()));
        }
        if let Some(v) = &query.actor {
            params.push(("actor", v.clone()));
        }
        if let Some(v) = query.since {
            params.push(("since", rfc3339(v)));
        }
        if let Some(v) = query.until {
            params.push(("until", rfc3339(v)));
        }
        if let Some(v) = query.outcome {
            params.push((
                "outcome",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = query.operation {
            params.push((
                "operation",
                text(&serde_json::to_value(v).unwrap_or_default()),
            ));
        }
        if let Some(v) = &query.cursor {
            params.push(("cursor", v.clone()));
        }
        self.get("/audit/records", &params).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.get(
            "/audit/verify",
            &[("since", rfc3339(since)), ("until", rfc3339(until))],
        )
        .await
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

    #[test]
    fn the_export_format_follows_the_extension_and_the_state_sits_next_to_the_output() {
        assert_eq!(
            ExportFormat::of(Path::new("a/b.CSV")).unwrap(),
            ExportFormat::Csv
        );
        assert_eq!(
            ExportFormat::of(Path::new("b.jsonl")).unwrap(),
            ExportFormat::JsonLines
        );
        assert!(ExportFormat::of(Path::new("b.txt")).is_err());
        assert_eq!(
            state_path(Path::new("/tmp/x/audit.csv")),
            Path::new("/tmp/x/audit.csv.export-state.json")
        );
    }

    #[test]
    fn terminal_cells_never_carry_control_characters() {
        assert_eq!(shown("ada\u{1b}[31mred\n"), "ada?[31mred?");
    }

    #[test]
    fn the_api_must_be_https_except_on_loopback() {
        assert!(HttpAuditStore::new("http://example.com", "t".into()).is_err());
        assert!(
            HttpAuditStore::new("https://example.com/prod/audit/", "t".into())
                .is_ok_and(|s| s.base == "https://example.com/prod")
        );
        assert!(HttpAuditStore::new("http://127.0.0.1:9/", "t".into()).is_ok());
    }
}
