//! `scimgw access`: the auditors' access reports (`docs/access-reports.md`).
//!
//! - `report`: who could reach which account with which permission set, through which
//!   group, since when; as of now or any instant the trail covers. With `--live`, the
//!   report for now comes from Identity Center itself (users and members through its
//!   SCIM endpoint, assignments through SSO Admin), each row's "since" from the trail,
//!   and every difference between the trail and live state is listed.
//! - `diff`: access gained and lost between two instants, with the record that caused
//!   each change.
//! - `leavers`: for each leaver of a period, the time from Okta's deactivation event to
//!   the deactivation in Identity Center and to the end of each access; those over the
//!   threshold flagged.
//!
//! The trail is read as `scimgw audit` reads it (`--table`, `--api`, or a dev server's
//! audit API with `--dev`); every report carries the evidence of the records it was
//! computed from, which `scimgw audit verify --evidence FILE` checks.
//!
//! Exit codes: 0 done; 1 `report --live` found differences, or `leavers` found one over
//! the threshold; 2 the command could not run.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use access::{AccessReport, DiffReport, Filter, LeaversReport, LiveState};
use anyhow::{Context, anyhow, bail};
use aws_adapters::AwsEntitlements;
use clap::{Args, Subcommand, ValueEnum};
use clients::audit_api::HttpAuditStore;
use clients::{HttpTargetScimClient, TargetClientConfig};
use gateway::audit_store::AuditStore;
use gateway::{Deadline, SecretId, SecretSource, SecretString, TargetDialect};
use serde::Deserialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::audit::{SourceArgs, parse_when};

/// How long the live reads of Identity Center may take.
const LIVE_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);

/// Options of `scimgw access`.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// A running `scimgw dev`'s --info-json file: its audit API for the trail, its
    /// target for `--live`, and with `--aws-endpoint` its AWS endpoint for SSO Admin and
    /// Organizations.
    #[arg(long, global = true, value_name = "INFO_JSON", conflicts_with_all = ["table", "api"])]
    dev: Option<PathBuf>,
    /// Identity Center's SCIM endpoint, for `report --live` (users and members).
    #[arg(long, global = true, value_name = "URL")]
    target: Option<String>,
    /// The Secrets Manager secret holding Identity Center's SCIM token, for `--target`.
    #[arg(long, global = true, value_name = "ARN")]
    target_token_secret: Option<String>,
    /// The Identity Center instance, for `--live` and `--ou` (default: the
    /// organization's one instance).
    #[arg(
        long,
        env = "SCIMGW_IC_INSTANCE_ARN",
        global = true,
        value_name = "ARN"
    )]
    instance_arn: Option<String>,
    #[command(subcommand)]
    command: AccessCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum AccessCommand {
    /// Who could reach which account with which permission set, through which group,
    /// since when: as of now (default) or --as-of.
    Report(ReportArgs),
    /// Access gained and lost between --from and --to, each with its cause.
    Diff(DiffArgs),
    /// Each leaver of the period: from Okta's event to Identity Center's deactivation and
    /// to the end of each access; over --threshold-hours flagged (exit 1).
    Leavers(LeaversArgs),
}

/// Which rows to keep.
#[derive(Debug, Clone, Default, Args)]
struct FilterArgs {
    /// Only these accounts (repeat, or comma-separate).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    account: Vec<String>,
    /// Only the accounts in these OUs, nested OUs included (reads Organizations).
    #[arg(long, value_name = "OU", value_delimiter = ',')]
    ou: Vec<String>,
    /// Only this permission set, by name or ARN.
    #[arg(long, value_name = "NAME")]
    permission_set: Option<String>,
    /// Only this group: Identity Center id, Okta id or display name.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Only this user: Identity Center id, Okta id or userName.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for people.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object a line.
    Jsonl,
    /// The whole report as JSON, evidence included.
    Json,
}

#[derive(Debug, Clone, Args)]
struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write to this file instead of stdout; the evidence goes beside it as
    /// `FILE.evidence.json` (in JSON it is also inside).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
struct ReportArgs {
    /// The instant (RFC 3339, or a date for its midnight UTC); default now.
    #[arg(long, value_parser = parse_when, conflicts_with = "live")]
    as_of: Option<OffsetDateTime>,
    /// Build the report from Identity Center now and list where the trail differs
    /// (exit 1 when it does).
    #[arg(long)]
    live: bool,
    /// With --live: also list assignments made to users directly (one SSO Admin call
    /// per user).
    #[arg(long, requires = "live")]
    direct: bool,
    #[command(flatten)]
    filters: FilterArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
struct DiffArgs {
    /// The earlier instant.
    #[arg(long, value_parser = parse_when)]
    from: OffsetDateTime,
    /// The later instant (default now).
    #[arg(long, value_parser = parse_when)]
    to: Option<OffsetDateTime>,
    #[command(flatten)]
    filters: FilterArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
struct LeaversArgs {
    /// The period's start: leavers whose clock started at or after it.
    #[arg(long, value_parser = parse_when)]
    since: OffsetDateTime,
    /// The period's end, exclusive (default now).
    #[arg(long, value_parser = parse_when)]
    until: Option<OffsetDateTime>,
    /// Flag a leaver whose deactivation or any access removal took longer.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8784))]
    threshold_hours: u32,
    /// Only this leaver: Identity Center id, Okta id or userName.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// The keys of `scimgw dev --info-json` this command reads. No `Debug`: it holds tokens.
#[derive(Deserialize)]
struct DevInfoFile {
    audit_url: String,
    auditor_token: String,
    target_url: String,
    #[serde(default)]
    emulator_token: Option<String>,
    #[serde(default)]
    aws_endpoint: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// Runs `scimgw access`, printing errors itself so that they exit with 2.
pub async fn run(args: AccessArgs) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match execute(args, &mut stdout).await {
        Ok(code) => code,
        Err(error) => {
            let _ = stdout.flush();
            eprintln!("scimgw access: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Where the trail and live state are, resolved.
struct Places {
    store: Box<dyn AuditStore>,
    dev: Option<DevInfoFile>,
    aws_endpoint: Option<String>,
    region: Option<String>,
}

async fn open(
    args: &AccessArgs,
    command: &str,
    asked: crate::audit::reads::Asked,
) -> anyhow::Result<Places> {
    if let Some(path) = &args.dev {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--dev {}: the file could not be read", path.display()))?;
        let info: DevInfoFile = serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "--dev {}: not a `scimgw dev --info-json` file: {e}",
                path.display()
            )
        })?;
        let base = info
            .audit_url
            .trim_end_matches('/')
            .trim_end_matches("/audit")
            .to_owned();
        let store = HttpAuditStore::new(&base, info.auditor_token.clone())
            .map_err(|e| anyhow!("--dev: the dev server's audit API: {e:?}"))?;
        return Ok(Places {
            store: Box::new(store),
            aws_endpoint: info.aws_endpoint.clone(),
            region: info.region.clone(),
            dev: Some(info),
        });
    }
    if args.source.table.is_some() && args.source.api.is_none() {
        // Every read of the table is recorded in the trail before it reads.
        crate::audit::reads::note_table_read(
            &args.source,
            format!("scimgw access {command}"),
            asked,
        )
        .await?;
    }
    let store: Box<dyn AuditStore> = match crate::audit::open_store(&args.source).await? {
        crate::audit::Opened::Table(store) => store,
        crate::audit::Opened::Api(api) => Box::new(api),
    };
    Ok(Places {
        store,
        dev: None,
        aws_endpoint: args.source.aws_endpoint.clone(),
        region: args.source.region.clone(),
    })
}

fn asked(filters: &FilterArgs) -> crate::audit::reads::Asked {
    let list = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    crate::audit::reads::Asked::default()
        .with("account", list(&filters.account))
        .with("ou", list(&filters.ou))
        .with("permission_set", filters.permission_set.as_deref())
        .with("group", filters.group.as_deref())
        .with("user", filters.user.as_deref())
}

async fn execute(args: AccessArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match &args.command {
        AccessCommand::Report(report) => {
            let places = open(
                &args,
                "report",
                asked(&report.filters)
                    .with_time("as_of", report.as_of)
                    .with("live", report.live.then_some("true")),
            )
            .await?;
            run_report(&args, &places, report, out).await
        }
        AccessCommand::Diff(diff) => {
            let places = open(
                &args,
                "diff",
                asked(&diff.filters)
                    .with_time("from", Some(diff.from))
                    .with_time("to", diff.to),
            )
            .await?;
            run_diff(&args, &places, diff, out).await
        }
        AccessCommand::Leavers(leavers) => {
            let places = open(
                &args,
                "leavers",
                crate::audit::reads::Asked::default()
                    .with_time("since", Some(leavers.since))
                    .with_time("until", leavers.until)
                    .with("threshold_hours", Some(leavers.threshold_hours))
                    .with("user", leavers.user.as_deref()),
            )
            .await?;
            run_leavers(&places, leavers, out).await
        }
    }
}

/// The AWS side (Organizations, Identity Store, SSO Admin), when one is reachable: a
/// dev server without `--aws-endpoint` has none.
async fn aws_side(args: &AccessArgs, places: &Places) -> anyhow::Result<Option<AwsEntitlements>> {
    if places.dev.is_some() && places.aws_endpoint.is_none() {
        return Ok(None);
    }
    let aws =
        crate::audit::table::aws_config(places.aws_endpoint.as_deref(), places.region.as_deref())
            .await?;
    let connected = AwsEntitlements::connect(
        aws_sdk_organizations::Client::new(&aws),
        aws_sdk_identitystore::Client::new(&aws),
        aws_sdk_ssoadmin::Client::new(&aws),
        args.instance_arn.as_deref(),
    )
    .await
    .map_err(|e| anyhow!("Identity Center: {e}"))?;
    Ok(Some(connected))
}

/// The filter, with `--ou` resolved to its accounts (nested OUs included).
async fn filter(
    args: &AccessArgs,
    places: &Places,
    filters: &FilterArgs,
) -> anyhow::Result<Filter> {
    let mut accounts: Option<BTreeSet<String>> =
        (!filters.account.is_empty()).then(|| filters.account.iter().cloned().collect());
    if !filters.ou.is_empty() {
        let aws = aws_side(args, places)
            .await?
            .context("--ou reads the OU tree from Organizations: the dev server has no AWS side (start it with --aws-endpoint)")?;
        let organization = aws_adapters::entitlements_aws::read_organization(
            &aws.organizations,
            false,
            &aws.counter,
        )
        .await
        .map_err(|e| anyhow!("Organizations: {e}"))?;
        for ou in &filters.ou {
            if !organization.has_container(ou) {
                bail!("--ou {ou}: no such OU (or root) in the organization");
            }
        }
        let scope = entitlements::Scope {
            ous: filters.ou.clone(),
            ..entitlements::Scope::default()
        };
        let in_ous: BTreeSet<String> = organization
            .resolve(&scope, &entitlements::Scope::default())
            .into_keys()
            .collect();
        accounts = Some(match accounts {
            Some(named) => named.intersection(&in_ous).cloned().collect(),
            None => in_ous,
        });
    }
    Ok(Filter {
        accounts,
        permission_set: filters.permission_set.clone(),
        group: filters.group.clone(),
        user: filters.user.clone(),
    })
}

/// Identity Center now: users and members through SCIM, assignments through SSO Admin.
async fn live_state(args: &AccessArgs, places: &Places, direct: bool) -> anyhow::Result<LiveState> {
    let (url, secrets, secret): (String, Arc<dyn SecretSource>, SecretId) = match (
        &places.dev,
        &args.target,
    ) {
        (Some(info), _) => {
            let token = info.emulator_token.clone().context(
                "--dev --live: the dev server's target is not its emulator, and the info JSON holds no token for it",
            )?;
            let id = SecretId::new("dev/target");
            (
                info.target_url.clone(),
                Arc::new(
                    edge::StaticSecretSource::new().with(id.clone(), SecretString::new(token)),
                ),
                id,
            )
        }
        (None, Some(url)) => {
            let arn = args
                .target_token_secret
                .clone()
                .context("--target needs --target-token-secret ARN (the stack's TargetTokenSecretArn output)")?;
            let aws = crate::audit::table::aws_config(
                places.aws_endpoint.as_deref(),
                places.region.as_deref(),
            )
            .await?;
            (
                url.clone(),
                Arc::new(aws_adapters::SecretsManagerSource::new(
                    aws_sdk_secretsmanager::Client::new(&aws),
                    edge::config::DEFAULT_SECRET_CACHE_TTL,
                )),
                SecretId::new(arn),
            )
        }
        (None, None) => bail!(
            "--live reads Identity Center: give --target URL and --target-token-secret ARN (or --dev)"
        ),
    };
    let target = HttpTargetScimClient::new(
        TargetClientConfig::new(
            url.trim_end_matches('/'),
            secret,
            TargetDialect::IdentityCenter,
        ),
        secrets,
    )
    .with_context(|| format!("{url}: Identity Center's client could not be built"))?;
    let mut live = LiveState::default();
    access::live::read_directory(&target, Deadline::after(LIVE_BUDGET), &mut live).await;
    if let Some(aws) = aws_side(args, places).await? {
        match aws.sso_admin.permission_sets().await {
            Ok(sets) => {
                live.permission_set_names = sets.into_iter().map(|p| (p.arn, p.name)).collect()
            }
            Err(e) => live.problems.push(e),
        }
        let groups: BTreeSet<String> = live.groups.iter().map(|g| g.id.clone()).collect();
        match aws.sso_admin.assignments_of(&groups).await {
            Ok(found) => {
                live.assignments
                    .extend(found.into_iter().map(|a| access::LiveAssignment {
                        principal: access::Principal::Group(a.group_id),
                        account_id: a.account_id,
                        permission_set_arn: a.permission_set_arn,
                    }))
            }
            Err(e) => live.problems.push(e),
        }
        if direct {
            let users: BTreeSet<String> = live.users.iter().map(|u| u.id.clone()).collect();
            match aws.sso_admin.direct_assignments_of(&users).await {
                Ok(found) => live.assignments.extend(found.into_iter().map(
                    |(user, account_id, permission_set_arn)| access::LiveAssignment {
                        principal: access::Principal::User(user),
                        account_id,
                        permission_set_arn,
                    },
                )),
                Err(e) => live.problems.push(e),
            }
        }
    }
    Ok(live)
}

async fn history(
    places: &Places,
    at: OffsetDateTime,
) -> anyhow::Result<(access::History, access::Evidence)> {
    let until = access::read_until(at);
    let history = access::read_history(places.store.as_ref(), until)
        .await
        .map_err(crate::audit::store_error)?;
    let seal = access::latest_seal(places.store.as_ref()).await;
    let evidence = history.evidence(until, seal);
    Ok((history, evidence))
}

async fn run_report(
    args: &AccessArgs,
    places: &Places,
    report: &ReportArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let filter = filter(args, places, &report.filters).await?;
    let now = OffsetDateTime::now_utc();
    let as_of = report.as_of.unwrap_or(now);
    let (history, evidence) = history(places, as_of).await?;
    let mut built = AccessReport {
        as_of,
        source: "trail".into(),
        rows: access::as_of(&history, as_of, &filter),
        differences: None,
        live_problems: Vec::new(),
        gaps: history.gaps.clone(),
        evidence,
    };
    if report.live {
        let live = live_state(args, places, report.direct).await?;
        let rows = access::live::live_rows(&live, &history, as_of, &filter);
        built.differences = Some(access::live::compare(&history, &rows, as_of, &filter));
        built.rows = rows;
        built.source = "live".into();
        built.live_problems = live.problems;
    }
    write(
        &report.output,
        &built,
        &built.evidence,
        built.lines(),
        access::output::ROW_COLUMNS,
        &[
            ("user_name", "/user_name"),
            ("account_id", "/account_id"),
            ("permission_set", "/permission_set_name"),
            ("group", "/group_name"),
            ("since", "/since"),
        ],
        out,
    )?;
    let differences = built.differences.as_ref().map_or(0, Vec::len);
    for problem in &built.live_problems {
        eprintln!("live state not fully read: {problem}");
    }
    for gap in &built.gaps {
        eprintln!(
            "the trail is incomplete at record {}: {}",
            gap.record.id, gap.detail
        );
    }
    if differences > 0 {
        eprintln!(
            "{differences} differences between the trail and Identity Center (see `differences` in --format json)"
        );
        for d in built.differences.iter().flatten() {
            eprintln!(
                "  {:?}: {} {} {} via {}",
                d.mismatch,
                d.row.user_name.as_deref().unwrap_or(&d.row.user_id),
                d.row.account_id,
                d.row
                    .permission_set_name
                    .as_deref()
                    .unwrap_or(&d.row.permission_set_arn),
                d.row.group_name.as_deref().unwrap_or("a direct assignment"),
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_diff(
    args: &AccessArgs,
    places: &Places,
    diff: &DiffArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let filter = filter(args, places, &diff.filters).await?;
    let to = diff.to.unwrap_or_else(OffsetDateTime::now_utc);
    if diff.from >= to {
        bail!("--from must be before --to");
    }
    let (history, evidence) = history(places, to).await?;
    let built = DiffReport {
        from: diff.from,
        to,
        changes: access::diff(&history, diff.from, to, &filter),
        gaps: history.gaps.clone(),
        evidence,
    };
    write(
        &diff.output,
        &built,
        &built.evidence,
        built.lines(),
        &DiffReport::columns(),
        &[
            ("change", "/change"),
            ("user_name", "/user_name"),
            ("account_id", "/account_id"),
            ("permission_set", "/permission_set_name"),
            ("group", "/group_name"),
            ("cause", "/cause/id"),
            ("when", "/cause/time"),
        ],
        out,
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn run_leavers(
    places: &Places,
    leavers: &LeaversArgs,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let until = leavers.until.unwrap_or(now);
    if leavers.since >= until {
        bail!("--since must be before --until");
    }
    // Removals can come after the period: the trail is read to now.
    let (history, evidence) = history(places, now.max(until)).await?;
    let threshold = Duration::hours(i64::from(leavers.threshold_hours));
    let mut found = access::leavers(&history, leavers.since, until, threshold, now);
    if let Some(user) = &leavers.user {
        found.retain(|l| l.is(user));
    }
    let built = LeaversReport {
        since: leavers.since,
        until,
        threshold_seconds: threshold.whole_seconds(),
        leavers: found,
        gaps: history.gaps.clone(),
        evidence,
    };
    write(
        &leavers.output,
        &built,
        &built.evidence,
        built.lines().into_iter(),
        access::output::LEAVER_COLUMNS,
        &[
            ("user_name", "/user_name"),
            ("left", "/started_at"),
            ("deactivated_s", "/deactivation_seconds"),
            ("account_id", "/access/account_id"),
            ("permission_set", "/access/permission_set_name"),
            ("removed_s", "/access/seconds"),
            ("over", "/over_threshold"),
        ],
        out,
    )?;
    let late = built.leavers.iter().filter(|l| l.over_threshold).count();
    if late > 0 {
        eprintln!(
            "{late} of {} leavers kept access (or Identity Center's user) longer than {} hours",
            built.leavers.len(),
            leavers.threshold_hours
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a report in the asked format straight to the file or stdout (lines are made
/// as they are written), and its evidence beside a file.
fn write<T: serde::Serialize>(
    output: &OutputArgs,
    report: &T,
    evidence: &access::Evidence,
    lines: impl Iterator<Item = Value>,
    columns: &[(&str, &str)],
    table: &[(&str, &str)],
    stdout: &mut impl Write,
) -> anyhow::Result<()> {
    let mut sink: Box<dyn Write + '_> = match &output.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot write", path.display()))?,
        )),
        None => Box::new(&mut *stdout),
    };
    match output.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut sink, report)?;
            sink.write_all(b"\n")?;
        }
        Format::Jsonl => access::output::write_json_lines(&mut sink, lines)?,
        Format::Csv => access::output::write_csv(&mut sink, columns, lines)?,
        Format::Table => write_table(&mut sink, table, &lines.collect::<Vec<_>>())?,
    }
    sink.flush()?;
    drop(sink);
    match &output.out {
        Some(path) => {
            let beside = evidence_path(path);
            std::fs::write(&beside, serde_json::to_vec_pretty(evidence)?)
                .with_context(|| format!("{}: cannot write", beside.display()))?;
            eprintln!(
                "wrote {} and its evidence {}",
                path.display(),
                beside.display()
            );
        }
        None if output.format != Format::Json => eprintln!(
            "evidence: {} records before {}, digest {} (--format json or --out keeps it for \
             `scimgw audit verify --evidence`)",
            evidence.records, evidence.until, evidence.digest
        ),
        None => {}
    }
    Ok(())
}

/// `FILE.evidence.json` beside `FILE`.
pub(crate) fn evidence_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".evidence.json");
    PathBuf::from(name)
}

/// Aligned columns: the header, then one line each.
fn write_table(
    out: &mut dyn Write,
    columns: &[(&str, &str)],
    lines: &[Value],
) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|line| {
            columns
                .iter()
                .map(|(_, pointer)| match line.pointer(pointer) {
                    None | Some(Value::Null) => "-".to_owned(),
                    Some(Value::String(s)) => s.chars().filter(|c| !c.is_control()).collect(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(
        out,
        &columns
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect::<Vec<_>>(),
    )?;
    for row in &cells {
        line(out, row)?;
    }
    if lines.is_empty() {
        writeln!(out, "(none)")?;
    }
    Ok(())
}
