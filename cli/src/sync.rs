//! `scimgw sync plan|apply`: reconciliation from the command line. `plan` reads Okta and
//! Identity Center whole and prints the changes that would make Identity Center match
//! Okta under the active rules (`gateway::reconcile`, which also owns the safety rules);
//! `apply` applies a fresh plan or a saved one, change by change, each audited with
//! source `reconcile` and the run's id.
//!
//! Where the sides are: a deployed stack (`--okta`, `--target`, the state table for the
//! rules and the mirror, the audit table for `apply`), or a running `scimgw dev`
//! (`--dev INFO_JSON`). Tokens come from Secrets Manager or the environment and are
//! never printed.
//!
//! Applying is resumable: each change done is appended to `<plan file>.progress`, and a
//! rerun with the same `--plan` skips those. Redoing a change is harmless anyway, since
//! applying re-reads what it changes first; the progress file saves the calls.
//!
//! Exit codes: `plan` 0 nothing to do, 2 changes planned, 1 refused or failed; `apply` 0
//! every change applied or already in step, 1 refused or any change failed. A usage
//! error exits 2, as clap's do everywhere in `scimgw`: scripts that read 2 as "changes"
//! should check the command line first (or read `--format json`).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use aws_adapters::kms_audit_keys::writer_powers;
use aws_adapters::{DynamoDbAuditLog, DynamoDbMirror, DynamoDbRuleStore, SecretsManagerSource};
use aws_config::{BehaviorVersion, Region};
use clap::{Args, Subcommand, ValueEnum};
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::StaticSecretSource;
use gateway::audit::{AuditError, AuditLog, AuditRecord, TracingAuditLog};
use gateway::reconcile::plan::{DEFAULT_THRESHOLD_PERCENT, Plan, Safety};
use gateway::reconcile::{PlanCost, apply_change, make_plan, reconcile_context};
use gateway::rules::{RuleSource, StoredRules};
use gateway::service::converge::EventVerdict;
use gateway::service::{GatewayError, ResourceKind};
use gateway::{
    Clock as _, ScimService, SecretId, SecretSource, SecretString, SystemClock, TargetDialect,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

/// Exit code: nothing to do, or everything applied.
const DONE: u8 = 0;
/// Exit code: refused, or something failed.
const FAILED: u8 = 1;
/// Exit code of `plan`: changes are planned.
const CHANGES: u8 = 2;

/// The time a plan's complete read of Identity Center may take, pages and retries
/// included: far above a large directory's few hundred requests, well below "stuck".
const READ_BUDGET: Duration = Duration::from_secs(600);

/// A saved plan older than this is refused unless `--force-stale`: both sides have had
/// time to move on.
const STALE_AFTER: time::Duration = time::Duration::hours(24);

/// After this many changes failing in a row the run stops: a refused token or an
/// unreachable target would fail every remaining change the same way.
const MAX_FAILURES_IN_A_ROW: usize = 10;

/// The environment variables the tokens may come from (never flags: a flag's value shows
/// in the process list).
const OKTA_TOKEN_ENV: &str = "SCIMGW_OKTA_TOKEN";
const TARGET_TOKEN_ENV: &str = "SCIMGW_TARGET_TOKEN";

/// The ids the tokens given directly are held under.
const OKTA_TOKEN_ID: &str = "cli/okta-token";
const TARGET_TOKEN_ID: &str = "cli/target-token";

/// The credential the audit records name.
const CREDENTIAL: &str = "scimgw-cli";

/// The first line of a progress file: what follows belongs to the plan whose changes
/// hash to this.
const PROGRESS_HEADER: &str = "# scimgw sync progress; plan changes sha256 ";

/// Options of `scimgw sync`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: SyncCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum SyncCommand {
    /// Read Okta and Identity Center and print the changes that would make Identity
    /// Center match Okta; neither is changed. Exits 0 when there is nothing to do, 2 when
    /// changes are planned, 1 when the plan is refused (too much taken away) or the
    /// sides could not be read.
    Plan(PlanArgs),
    /// Apply a fresh plan, or one saved with `plan --out`, change by change, each
    /// audited. Resumable: changes done are listed in `<plan file>.progress` and skipped
    /// by a rerun with the same --plan. Exits 0 when every change applied or was already
    /// in step, 1 when the plan is refused or any change failed.
    Apply(ApplyArgs),
}

/// Where Okta, Identity Center, the rules, the mirror and the audit trail are.
#[derive(Debug, Clone, Default, Args)]
struct SourceArgs {
    /// Everything from a running `scimgw dev`'s --info-json file: its Okta API emulator
    /// and its target. The dev server's rules are not reachable from here: give the
    /// same --rules file as the dev server (else the identity rules apply, and a
    /// mismatch with the server's is refused). Applied changes' audit records are
    /// written to stderr, one JSON object a line: the dev server's audit store is in its
    /// own memory. The dev server's mirror does not see these changes.
    #[arg(
        long,
        value_name = "INFO_JSON",
        conflicts_with_all = ["okta", "target", "okta_token_secret", "target_token_secret", "aws_endpoint", "region"]
    )]
    dev: Option<PathBuf>,
    /// With --dev: the rule set to plan and apply under (YAML, docs/rules.md), the file
    /// the dev server was started with.
    #[arg(long, value_name = "FILE", requires = "dev")]
    rules: Option<PathBuf>,
    /// The Okta org URL, e.g. `https://example.okta.com`. Its API token comes from
    /// --okta-token-secret, else from SCIMGW_OKTA_TOKEN.
    #[arg(long, value_name = "URL")]
    okta: Option<String>,
    /// The Secrets Manager secret holding the Okta API token, the bare token (the
    /// stack's OktaApiTokenSecretArn output).
    #[arg(long, value_name = "ARN")]
    okta_token_secret: Option<String>,
    /// Identity Center's SCIM endpoint (`https://scim.<region>.amazonaws.com/<tenant>/scim/v2`).
    /// Its bearer token comes from --target-token-secret, else from SCIMGW_TARGET_TOKEN.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// The Secrets Manager secret holding Identity Center's SCIM bearer token (the
    /// stack's IdentityCenterTokenSecretArn output).
    #[arg(long, value_name = "ARN")]
    target_token_secret: Option<String>,
    /// The stack's state table (its StateTableName output): the active rule set is read
    /// from it, and the mirror kept in it follows the changes applied. Required without
    /// --dev.
    #[arg(long, env = "SCIMGW_STATE_TABLE", value_name = "NAME")]
    table: Option<String>,
    /// The audit table (AuditTableName): `apply` records each change in it. Required by
    /// `apply` without --dev.
    #[arg(long, env = "SCIMGW_AUDIT_TABLE", value_name = "NAME")]
    audit_table: Option<String>,
    /// The audit trail's KMS HMAC key (AuditMacKeyArn) that MACs those records (needs
    /// kms:GenerateMac on it).
    #[arg(long, env = "SCIMGW_AUDIT_MAC_KEY", value_name = "ARN")]
    audit_mac_key: Option<String>,
    /// The AWS endpoint, e.g. a local moto server.
    #[arg(long, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long)]
    region: Option<String>,
}

/// The admin's say over the deletion threshold.
#[derive(Debug, Clone, Copy, Args)]
struct SafetyArgs {
    /// The share of the managed users and groups a fresh plan may deactivate, delete or
    /// remove from groups (above 5 such changes) before it is refused.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_THRESHOLD_PERCENT,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    threshold_percent: u32,
    /// Plan or apply whatever the threshold says (after checking the plan).
    #[arg(long)]
    allow_mass_changes: bool,
}

impl From<SafetyArgs> for Safety {
    fn from(args: SafetyArgs) -> Self {
        Safety {
            threshold_percent: args.threshold_percent,
            allow_mass_changes: args.allow_mass_changes,
        }
    }
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A table of the changes, then what is left alone, held back and noted, and a
    /// summary line.
    Table,
    /// The plan as JSON, with its cost and the sources it was read from.
    Json,
}

#[derive(Debug, Clone, Args)]
struct PlanArgs {
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    safety: SafetyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Also save the plan as JSON to this file (mode 0600), for `apply --plan`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
struct ApplyArgs {
    #[command(flatten)]
    sources: SourceArgs,
    // --threshold-percent applies to a fresh plan; --allow-mass-changes also lets a
    // saved plan that was refused be applied.
    #[command(flatten)]
    safety: SafetyArgs,
    /// Apply this saved plan (from `plan --out`, or the file a previous apply named)
    /// instead of planning afresh; changes listed in FILE.progress are skipped.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Where to save a fresh plan before applying it (default: a file in the OS temp
    /// directory, named on stdout), so that an interrupted run can be resumed.
    #[arg(long, value_name = "FILE", conflicts_with = "plan")]
    out: Option<PathBuf>,
    /// Apply a saved plan older than 24 hours, or made under another rule set than the
    /// active one.
    #[arg(long, requires = "plan")]
    force_stale: bool,
}

/// Runs `scimgw sync`; answers the exit code.
pub async fn run(args: SyncArgs) -> ExitCode {
    let result = match args.command {
        SyncCommand::Plan(args) => plan_command(args).await,
        SyncCommand::Apply(args) => apply_command(args).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("scimgw sync: {error:#}");
            ExitCode::from(FAILED)
        }
    }
}

/// What `plan` and `apply` work with.
struct Tools {
    service: ScimService,
    okta: OktaClient,
    okta_url: String,
    target_url: String,
    /// Counts the audit records that could not be written.
    audit: Arc<CheckedAudit>,
    /// Where the records go, for the output.
    audit_place: String,
    /// `apply`'s progress bar; hidden until it starts, and what the stderr audit log
    /// writes around.
    bar: ProgressBar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Plan,
    Apply,
}

/// The sources a plan was read from, saved with it: a plan is applied only where it was
/// made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sources {
    okta: String,
    identity_center: String,
}

/// The plan as printed with `--format json` and saved with `--out`.
#[derive(Serialize)]
struct PlanDocument<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    cost: PlanCost,
    sources: &'a Sources,
}

/// A saved plan as read back (the cost is not needed to apply it).
#[derive(Deserialize)]
struct SavedPlan {
    #[serde(flatten)]
    plan: Plan,
    #[serde(default)]
    sources: Option<Sources>,
}

/// The keys of `scimgw dev --info-json` this command reads. No `Debug`: it holds tokens.
#[derive(Deserialize)]
struct DevInfoFile {
    #[serde(default)]
    target_url: Option<String>,
    #[serde(default)]
    emulator_url: Option<String>,
    #[serde(default)]
    emulator_token: Option<String>,
    #[serde(default)]
    okta_url: Option<String>,
    #[serde(default)]
    okta_token: Option<String>,
    #[serde(default)]
    rules_version: Option<String>,
}

async fn open(sources: &SourceArgs, purpose: Purpose) -> anyhow::Result<Tools> {
    let bar = ProgressBar::hidden();
    match &sources.dev {
        Some(info) => open_dev(sources, info, purpose, bar),
        None => open_stack(sources, purpose, bar).await,
    }
}

fn open_dev(
    sources: &SourceArgs,
    info_path: &Path,
    purpose: Purpose,
    bar: ProgressBar,
) -> anyhow::Result<Tools> {
    if sources.table.is_some() || sources.audit_table.is_some() {
        eprintln!(
            "scimgw sync: --dev: the state and audit tables (--table, --audit-table or their \
             environment variables) are not used"
        );
    }
    let text = std::fs::read_to_string(info_path)
        .with_context(|| format!("--dev {}: the file could not be read", info_path.display()))?;
    let info: DevInfoFile = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--dev {}: not a `scimgw dev --info-json` file: {e}",
            info_path.display()
        )
    })?;
    let okta_url = info
        .okta_url
        .context("--dev: the info JSON names no okta_url (written by an older scimgw dev?)")?;
    let okta_token = info
        .okta_token
        .context("--dev: the info JSON holds no okta_token")?;
    let target_url = info
        .target_url
        .or(info.emulator_url)
        .context("--dev: the info JSON names no target_url")?;
    // A dev server in front of another target does not write that target's token.
    let target_token = match info.emulator_token {
        Some(token) => token,
        None => std::env::var(TARGET_TOKEN_ENV).map_err(|_| {
            anyhow!(
                "--dev: the dev server's target is not its emulator, and the info JSON \
                 holds no token for it: set {TARGET_TOKEN_ENV}"
            )
        })?,
    };
    let (rules, version) = crate::dev::rule_source(sources.rules.as_deref())?;
    if let Some(running) = &info.rules_version
        && running != &version
    {
        if running == crate::dev::STORED_RULES_VERSION {
            bail!(
                "--dev: the dev server applies the state table's active rule set \
                 (--stored-rules), which this command does not read: plan against a dev \
                 server started with --rules FILE (or none) instead"
            );
        }
        bail!(
            "--dev: the dev server runs the rule set {running}, this command would plan \
             under {version}: give the same --rules file as the dev server"
        );
    }
    let secrets: Arc<dyn SecretSource> = Arc::new(
        StaticSecretSource::new()
            .with(SecretId::new(OKTA_TOKEN_ID), SecretString::new(okta_token))
            .with(
                SecretId::new(TARGET_TOKEN_ID),
                SecretString::new(target_token),
            ),
    );
    let (audit_log, audit_place): (Arc<dyn AuditLog>, String) = match purpose {
        Purpose::Plan => (Arc::new(TracingAuditLog), "the logs".to_owned()),
        Purpose::Apply => (
            Arc::new(StderrAuditLog { bar: bar.clone() }),
            "stderr, one JSON object a line".to_owned(),
        ),
    };
    let audit = Arc::new(CheckedAudit::new(audit_log));
    let target = target_client(&target_url, secrets.clone(), SecretId::new(TARGET_TOKEN_ID))?;
    let service = ScimService::new(
        Arc::new(target),
        rules,
        audit.clone(),
        Arc::new(SystemClock),
        edge::config::DEFAULT_REQUEST_BUDGET,
    );
    let okta = okta_client(&okta_url, secrets, SecretId::new(OKTA_TOKEN_ID))?;
    Ok(Tools {
        service,
        okta,
        okta_url: normalized(&okta_url),
        target_url: normalized(&target_url),
        audit,
        audit_place,
        bar,
    })
}

async fn open_stack(
    sources: &SourceArgs,
    purpose: Purpose,
    bar: ProgressBar,
) -> anyhow::Result<Tools> {
    let okta_url = sources.okta.clone().context(
        "say where Okta is: --okta URL (the org URL), or --dev INFO_JSON for a running \
         scimgw dev",
    )?;
    let target_url = sources.target.clone().context(
        "say where Identity Center is: --target URL (its SCIM endpoint), or --dev INFO_JSON",
    )?;
    let table = sources
        .table
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .context(
            "say which state table holds the rules and the mirror: --table NAME (the \
             stack's StateTableName output) or SCIMGW_STATE_TABLE",
        )?
        .to_owned();
    let audit_place = match (purpose, &sources.audit_table, &sources.audit_mac_key) {
        (Purpose::Plan, _, _) => None,
        (Purpose::Apply, Some(table), Some(secret)) => Some((table.clone(), secret.clone())),
        (Purpose::Apply, _, _) => bail!(
            "apply records every change in the audit trail: give --audit-table NAME and \
             --audit-mac-key ARN (the stack's AuditTableName and AuditMacKeyArn outputs), \
             or SCIMGW_AUDIT_TABLE and SCIMGW_AUDIT_MAC_KEY"
        ),
    };
    // Decided before AWS is asked anything: a missing token is a usage error.
    let okta_token = Token::of(
        sources.okta_token_secret.as_deref(),
        OKTA_TOKEN_ENV,
        OKTA_TOKEN_ID,
        "the Okta API token is: --okta-token-secret ARN",
    )?;
    let target_token = Token::of(
        sources.target_token_secret.as_deref(),
        TARGET_TOKEN_ENV,
        TARGET_TOKEN_ID,
        "Identity Center's SCIM token is: --target-token-secret ARN",
    )?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &sources.aws_endpoint {
        reqwest::Url::parse(endpoint)
            .with_context(|| format!("--aws-endpoint {endpoint}: not a URL"))?;
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &sources.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let aws = loader.load().await;
    let secrets_manager: Arc<dyn SecretSource> = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        edge::config::DEFAULT_SECRET_CACHE_TTL,
    ));
    let (okta_secrets, okta_secret) = okta_token.source(&secrets_manager);
    let (target_secrets, target_secret) = target_token.source(&secrets_manager);
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let rules = StoredRules::new(Arc::new(
        DynamoDbRuleStore::new(dynamodb.clone(), table.clone(), Arc::new(SystemClock))
            .with_timeout(crate::STORE_TIMEOUT),
    ));
    let mirror = DynamoDbMirror::new(dynamodb.clone(), table, Arc::new(SystemClock))
        .with_retention(days(edge::config::DEFAULT_MIRROR_RETENTION_DAYS));
    let (audit_log, audit_place): (Arc<dyn AuditLog>, String) = match audit_place {
        None => (Arc::new(TracingAuditLog), "the logs".to_owned()),
        Some((audit_table, mac_key)) => (
            Arc::new(DynamoDbAuditLog::new(
                dynamodb,
                audit_table.clone(),
                writer_powers(&aws_sdk_kms::Client::new(&aws), &mac_key),
                Arc::new(SystemClock),
                days(edge::config::DEFAULT_AUDIT_RETENTION_DAYS),
            )),
            format!("the audit table {audit_table}"),
        ),
    };
    let audit = Arc::new(CheckedAudit::new(audit_log));
    let target = target_client(&target_url, target_secrets, target_secret)?;
    let service = ScimService::new(
        Arc::new(target),
        Arc::new(rules) as Arc<dyn RuleSource>,
        audit.clone(),
        Arc::new(SystemClock),
        edge::config::DEFAULT_REQUEST_BUDGET,
    )
    .with_mirror(Arc::new(mirror));
    let okta = okta_client(&okta_url, okta_secrets, okta_secret)?;
    Ok(Tools {
        service,
        okta,
        okta_url: normalized(&okta_url),
        target_url: normalized(&target_url),
        audit,
        audit_place,
        bar,
    })
}

/// Where a token comes from: the secret named by its flag, else its environment
/// variable (then held in memory under an id of its own). No `Debug`: it may hold one.
enum Token {
    Secret(SecretId),
    Given(SecretId, SecretString),
}

impl Token {
    fn of(secret: Option<&str>, env: &str, id: &str, what: &str) -> anyhow::Result<Self> {
        if let Some(arn) = secret.map(str::trim).filter(|s| !s.is_empty()) {
            return Ok(Self::Secret(SecretId::new(arn)));
        }
        match std::env::var(env) {
            Ok(token) if !token.trim().is_empty() => {
                Ok(Self::Given(SecretId::new(id), SecretString::new(token)))
            }
            _ => bail!("say where {what}, or set {env}"),
        }
    }

    fn source(self, secrets_manager: &Arc<dyn SecretSource>) -> (Arc<dyn SecretSource>, SecretId) {
        match self {
            Self::Secret(id) => (secrets_manager.clone(), id),
            Self::Given(id, token) => (
                Arc::new(StaticSecretSource::new().with(id.clone(), token)),
                id,
            ),
        }
    }
}

fn target_client(
    url: &str,
    secrets: Arc<dyn SecretSource>,
    secret: SecretId,
) -> anyhow::Result<HttpTargetScimClient> {
    HttpTargetScimClient::new(
        TargetClientConfig::new(normalized(url), secret, TargetDialect::IdentityCenter),
        secrets,
    )
    .with_context(|| format!("{url}: Identity Center's client could not be built"))
}

fn okta_client(
    url: &str,
    secrets: Arc<dyn SecretSource>,
    secret: SecretId,
) -> anyhow::Result<OktaClient> {
    OktaClient::new(OktaClientConfig::new(normalized(url), secret), secrets)
        .with_context(|| format!("{url}: the Okta client could not be built"))
}

fn normalized(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn days(days: u64) -> time::Duration {
    time::Duration::days(i64::try_from(days).unwrap_or(i64::MAX / 86_400))
}

/// Counts the audit records that could not be written: the service goes on after a
/// failed write (the target has changed already), but a run goes no further without
/// its audit trail.
struct CheckedAudit {
    inner: Arc<dyn AuditLog>,
    failed: AtomicUsize,
}

impl CheckedAudit {
    fn new(inner: Arc<dyn AuditLog>) -> Self {
        Self {
            inner,
            failed: AtomicUsize::new(0),
        }
    }

    fn failures(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl AuditLog for CheckedAudit {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        let result = self.inner.append(record).await;
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

/// `--dev`'s audit trail: each record as one JSON line on stderr, around the progress
/// bar.
struct StderrAuditLog {
    bar: ProgressBar,
}

#[async_trait]
impl AuditLog for StderrAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        let line =
            serde_json::to_string(&record).map_err(|e| AuditError::Unavailable(Box::new(e)))?;
        self.bar.suspend(|| eprintln!("{line}"));
        Ok(())
    }
}

/// A gateway error as an admin should read it: the cause chain of an unexpected one,
/// which the SCIM path hides from its clients.
fn describe(error: &GatewayError) -> String {
    match error {
        GatewayError::Unexpected(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}

async fn fresh_plan(tools: &Tools, safety: Safety) -> anyhow::Result<(Plan, PlanCost)> {
    make_plan(
        &tools.service,
        &tools.okta,
        safety,
        READ_BUDGET,
        SystemClock.now(),
    )
    .await
    .map_err(|e| anyhow!("planning: {}", describe(&e)))
}

fn sources_of(tools: &Tools) -> Sources {
    Sources {
        okta: tools.okta_url.clone(),
        identity_center: tools.target_url.clone(),
    }
}

async fn plan_command(args: PlanArgs) -> anyhow::Result<u8> {
    let tools = open(&args.sources, Purpose::Plan).await?;
    let (plan, cost) = fresh_plan(&tools, args.safety.into()).await?;
    let sources = sources_of(&tools);
    let document = PlanDocument {
        plan: &plan,
        cost,
        sources: &sources,
    };
    if let Some(out) = &args.out {
        save_plan(out, &document)?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Table => print_plan(&mut stdout, &plan, Some(cost))?,
        Format::Json => {
            let json = serde_json::to_string_pretty(&document).context("serializing the plan")?;
            writeln!(stdout, "{json}")?;
        }
    }
    stdout.flush()?;
    drop(stdout);
    if let Some(out) = &args.out {
        eprintln!("scimgw sync: plan saved to {}", out.display());
    }
    explain_withheld(&plan);
    explain_refusal(
        &plan,
        args.safety.threshold_percent,
        "plan or apply with --allow-mass-changes",
    );
    Ok(plan_exit(&plan))
}

/// 0 nothing to do, 2 changes, 1 refused; a plan without changes that held some back
/// is not "nothing to do": a side could not be read.
fn plan_exit(plan: &Plan) -> u8 {
    if plan.refused.is_some() {
        FAILED
    } else if !plan.changes.is_empty() {
        CHANGES
    } else if !plan.withheld.is_empty() {
        FAILED
    } else {
        DONE
    }
}

/// Says on stderr what a plan held back, and why.
fn explain_withheld(plan: &Plan) {
    if plan.withheld.is_empty() {
        return;
    }
    eprintln!("scimgw sync: deactivations, deletions and member removals were held back, because:");
    for why in &plan.withheld {
        eprintln!("  - {}", clean(why));
    }
}

/// Says on stderr why a fresh plan is refused, and how to go on.
fn explain_refusal(plan: &Plan, threshold_percent: u32, then: &str) {
    if let Some(refusal) = &plan.refused {
        eprintln!(
            "scimgw sync: refused: the plan deactivates, deletes or removes from groups {} of \
             {} managed users and groups, more than the {} allowed (--threshold-percent \
             {threshold_percent}); check it, then {then}",
            refusal.destructive, refusal.managed, refusal.allowed
        );
    }
}

async fn apply_command(args: ApplyArgs) -> anyhow::Result<u8> {
    let tools = open(&args.sources, Purpose::Apply).await?;
    let run = uuid::Uuid::new_v4().to_string();
    println!("scimgw sync apply: run {run}");
    let (plan, path) = match &args.plan {
        Some(path) => {
            let saved = load_plan(path)?;
            if let Some(refusal) = refuse_saved(&saved, &tools, &args).await {
                eprintln!("scimgw sync: {refusal}");
                return Ok(FAILED);
            }
            (saved.plan, path.clone())
        }
        None => {
            let (plan, cost) = fresh_plan(&tools, args.safety.into()).await?;
            println!("{}", summary(&plan, Some(cost)));
            if plan.is_empty() {
                explain_withheld(&plan);
                return Ok(plan_exit(&plan));
            }
            let path = args
                .out
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join(format!("scimgw-plan-{run}.json")));
            let sources = sources_of(&tools);
            save_plan(
                &path,
                &PlanDocument {
                    plan: &plan,
                    cost,
                    sources: &sources,
                },
            )?;
            if plan.refused.is_some() {
                println!("plan saved to {}", path.display());
                explain_refusal(
                    &plan,
                    args.safety.threshold_percent,
                    &format!(
                        "apply it with the same options and --plan {} --allow-mass-changes",
                        path.display()
                    ),
                );
                return Ok(FAILED);
            }
            println!(
                "plan saved to {}; an interrupted run resumes with the same options and \
                 --plan {}",
                path.display(),
                path.display()
            );
            (plan, path)
        }
    };
    explain_withheld(&plan);
    let mut progress = Progress::open(&path, &plan)?;
    let mut ctx = reconcile_context(&run, CREDENTIAL);
    ctx.user_agent = Some(crate::events::operator());

    let bar = &tools.bar;
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_length(plan.changes.len() as u64);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    let mut applied = 0;
    let mut in_step = 0;
    let mut done_before = 0;
    let mut failures: Vec<(usize, String)> = Vec::new();
    let mut in_a_row = 0;
    let mut stopped = None;
    for (index, change) in plan.changes.iter().enumerate() {
        if progress.done.contains(&index) {
            done_before += 1;
            bar.inc(1);
            continue;
        }
        bar.set_message(format!(
            "{} {}",
            change.action.as_str(),
            clean(&change.name)
        ));
        let audit_failures = tools.audit.failures();
        match apply_change(&tools.service, change, &ctx).await {
            Ok(verdict) => {
                in_a_row = 0;
                match verdict {
                    EventVerdict::Applied => applied += 1,
                    EventVerdict::Skipped(_) => in_step += 1,
                }
                if let Err(error) = progress.record(index) {
                    // The change is done; a rerun only redoes it (harmlessly).
                    bar.suspend(|| {
                        eprintln!(
                            "scimgw sync: {}: change {index} not recorded: {error}",
                            progress.path.display()
                        );
                    });
                }
            }
            Err(error) => {
                in_a_row += 1;
                failures.push((index, describe(&error)));
                if in_a_row >= MAX_FAILURES_IN_A_ROW {
                    stopped = Some(format!(
                        "{MAX_FAILURES_IN_A_ROW} changes failed in a row: the rest was not tried"
                    ));
                }
            }
        }
        bar.inc(1);
        if tools.audit.failures() > audit_failures {
            stopped = Some(format!(
                "the audit record of change {index} could not be written to {}: the rest \
                 was not tried",
                tools.audit_place
            ));
        }
        if stopped.is_some() {
            break;
        }
    }
    bar.finish_and_clear();

    println!(
        "{applied} applied, {in_step} already in step, {} failed, {done_before} skipped as \
         done before (per {}), of {} changes",
        failures.len(),
        progress.path.display(),
        plan.changes.len(),
    );
    println!("audit records: {}", tools.audit_place);
    for (index, error) in &failures {
        if let Some(change) = plan.changes.get(*index) {
            eprintln!(
                "scimgw sync: change {index} failed: {} {} {}{}: {}",
                change.action.as_str(),
                kind_name(change.resource_type),
                clean(&change.name),
                change
                    .member
                    .as_ref()
                    .map(|m| format!(" (member {})", clean(&m.name)))
                    .unwrap_or_default(),
                clean(error)
            );
        }
    }
    if let Some(why) = &stopped {
        eprintln!("scimgw sync: stopped: {why}");
    }
    if failures.is_empty() && stopped.is_none() {
        Ok(DONE)
    } else {
        eprintln!(
            "scimgw sync: to retry, run apply again with the same options and --plan {}; \
             what is done is skipped",
            path.display()
        );
        Ok(FAILED)
    }
}

/// Why a saved plan is not applied here and now, if it is not.
async fn refuse_saved(saved: &SavedPlan, tools: &Tools, args: &ApplyArgs) -> Option<String> {
    let plan = &saved.plan;
    let here = sources_of(tools);
    match &saved.sources {
        Some(sources) if sources != &here => {
            return Some(format!(
                "the plan was made for Okta {} and Identity Center {}, not for Okta {} and \
                 Identity Center {}",
                sources.okta, sources.identity_center, here.okta, here.identity_center
            ));
        }
        Some(_) => {}
        None => eprintln!(
            "scimgw sync: the plan does not say which Okta and Identity Center it was made \
             for; applying it to these"
        ),
    }
    if let Some(refusal) = &plan.refused
        && !args.safety.allow_mass_changes
    {
        return Some(format!(
            "the plan was refused: it deactivates, deletes or removes from groups {} of {} \
             managed users and groups, more than the {} allowed; check it, then apply it \
             with --allow-mass-changes",
            refusal.destructive, refusal.managed, refusal.allowed
        ));
    }
    if args.force_stale {
        return None;
    }
    let age = SystemClock.now() - plan.planned_at;
    if age > STALE_AFTER {
        return Some(format!(
            "the plan is {} hours old: plan again, or apply it anyway with --force-stale",
            age.whole_hours()
        ));
    }
    match tools.service.active_rules().await {
        Some(active) if active.version != plan.rule_set_version => Some(format!(
            "the plan was made under the rule set {}, and {} is active now: plan again, or \
             apply it anyway with --force-stale",
            plan.rule_set_version, active.version
        )),
        Some(_) => None,
        None => Some("the active rule set could not be read".to_owned()),
    }
}

/// Writes a plan document readable by the owner only (it names people), and forgets
/// the progress of whatever plan the file held before.
fn save_plan(path: &Path, document: &PlanDocument<'_>) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(document).context("serializing the plan")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    let progress = progress_path(path);
    match std::fs::remove_file(&progress) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(anyhow!(
            "{}: the progress of the plan this file held before could not be removed: {error}",
            progress.display()
        )),
    }
}

fn load_plan(path: &Path) -> anyhow::Result<SavedPlan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--plan {}: the file could not be read", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--plan {}: not a plan saved by `scimgw sync plan --out`: {e}",
            path.display()
        )
    })
}

fn progress_path(plan: &Path) -> PathBuf {
    let mut path = plan.as_os_str().to_owned();
    path.push(".progress");
    PathBuf::from(path)
}

/// Which changes of a plan are done: `<plan file>.progress`, a header line naming the
/// plan's changes by their SHA-256, then one change index a line, appended as each
/// change is done.
struct Progress {
    path: PathBuf,
    file: File,
    done: BTreeSet<usize>,
}

impl Progress {
    fn open(plan_path: &Path, plan: &Plan) -> anyhow::Result<Self> {
        let path = progress_path(plan_path);
        let digest = changes_digest(plan)?;
        let mut done = BTreeSet::new();
        let mut has_header = false;
        match File::open(&path) {
            Ok(file) => {
                for (n, line) in BufReader::new(file).lines().enumerate() {
                    let line = line.with_context(|| format!("reading {}", path.display()))?;
                    let line = line.trim();
                    if let Some(theirs) = line.strip_prefix(PROGRESS_HEADER) {
                        if theirs.trim() != digest {
                            bail!(
                                "{}: the progress of another plan (the plan's changes \
                                 differ); delete it to apply this plan from the start",
                                path.display()
                            );
                        }
                        has_header = true;
                        continue;
                    }
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let index: usize = line
                        .parse()
                        .ok()
                        .filter(|i| *i < plan.changes.len())
                        .with_context(|| {
                            format!(
                                "{}:{}: expected the index of one of the plan's {} changes",
                                path.display(),
                                n + 1,
                                plan.changes.len()
                            )
                        })?;
                    done.insert(index);
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => bail!("{}: {error}", path.display()),
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if !has_header {
            writeln!(file, "{PROGRESS_HEADER}{digest}")
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(Self { path, file, done })
    }

    /// Appends `index`; unbuffered, so that a run killed right after keeps it.
    fn record(&mut self, index: usize) -> std::io::Result<()> {
        writeln!(self.file, "{index}")?;
        self.done.insert(index);
        Ok(())
    }
}

/// The SHA-256 of the plan's changes as JSON: the same for a plan and the file it was
/// saved to, however that file was reformatted.
fn changes_digest(plan: &Plan) -> anyhow::Result<String> {
    let json = serde_json::to_string(&plan.changes).context("serializing the plan's changes")?;
    Ok(gateway::rule_store::document_sha256(&json))
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

/// Text from either directory, safe for a terminal: control characters (an escape
/// sequence in a display name) are shown escaped, never interpreted.
fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The longest attribute value shown in the table; the JSON has it whole.
const MAX_VALUE_CHARS: usize = 60;

fn show_value(value: Option<&serde_json::Value>) -> String {
    let Some(value) = value else {
        return "(none)".to_owned();
    };
    let text = clean(&value.to_string());
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    format!("{cut}…")
}

fn print_plan(out: &mut dyn Write, plan: &Plan, cost: Option<PlanCost>) -> std::io::Result<()> {
    if !plan.changes.is_empty() {
        let header = [
            "#",
            "ACTION",
            "TYPE",
            "NAME",
            "OKTA ID",
            "IDENTITY CENTER ID",
            "MEMBER",
            "REASON",
        ];
        let rows: Vec<[String; 8]> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(index, c)| {
                [
                    index.to_string(),
                    c.action.as_str().to_owned(),
                    kind_name(c.resource_type).to_owned(),
                    clean(&c.name),
                    c.okta_id.as_deref().map_or_else(|| "-".to_owned(), clean),
                    c.ic_id.as_deref().map_or_else(|| "-".to_owned(), clean),
                    c.member
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |m| clean(&m.name)),
                    clean(&c.reason),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[&str]| -> String {
            let mut text = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let pad = width.saturating_sub(cell.chars().count());
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            text
        };
        writeln!(out, "{}", line(&header))?;
        for (row, change) in rows.iter().zip(&plan.changes) {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            writeln!(out, "{}", line(&cells))?;
            for attribute in &change.attributes {
                writeln!(
                    out,
                    "{:indent$}{}: {} → {}",
                    "",
                    clean(&attribute.attribute),
                    show_value(attribute.before.as_ref()),
                    show_value(attribute.after.as_ref()),
                    indent = widths[0] + 2 + 4,
                )?;
            }
        }
        writeln!(out)?;
    }
    if !plan.left_alone.is_empty() {
        writeln!(out, "Left alone ({}):", plan.left_alone.len())?;
        for left in &plan.left_alone {
            writeln!(
                out,
                "  {} {} ({}): {}",
                kind_name(left.resource_type),
                clean(&left.name),
                clean(&left.ic_id),
                clean(&left.why)
            )?;
        }
        writeln!(out)?;
    }
    if !plan.withheld.is_empty() {
        writeln!(
            out,
            "Held back (no deactivation, deletion or member removal is planned):"
        )?;
        for why in &plan.withheld {
            writeln!(out, "  - {}", clean(why))?;
        }
        writeln!(out)?;
    }
    if !plan.notes.is_empty() {
        writeln!(out, "Notes:")?;
        for note in &plan.notes {
            writeln!(out, "  - {}", clean(note))?;
        }
        writeln!(out)?;
    }
    if let Some(refusal) = &plan.refused {
        writeln!(
            out,
            "Refused: {} deactivations, deletions and member removals, of {} managed users \
             and groups; at most {} are allowed without --allow-mass-changes.",
            refusal.destructive, refusal.managed, refusal.allowed
        )?;
    }
    writeln!(out, "{}", summary(plan, cost))
}

/// One line: the counts by action, and what the plan cost.
fn summary(plan: &Plan, cost: Option<PlanCost>) -> String {
    let mut text = if plan.changes.is_empty() {
        "Plan: no changes, Identity Center matches Okta".to_owned()
    } else {
        let counts: Vec<String> = plan
            .counts
            .iter()
            .map(|(action, n)| format!("{n} {action}"))
            .collect();
        format!(
            "Plan: {} changes ({})",
            plan.changes.len(),
            counts.join(", ")
        )
    };
    text.push_str(&format!(
        "; {} left alone; rules {}",
        plan.left_alone.len(),
        clean(&plan.rule_set_version)
    ));
    if !plan.withheld.is_empty() {
        text.push_str("; removals held back");
    }
    if let Some(cost) = cost {
        text.push_str(&format!(
            "; cost: {} Identity Center calls ({} resources read), {} resources read from Okta",
            cost.target_calls, cost.target_resources, cost.okta_resources
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;

    use gateway::audit::AttributeChange;
    use gateway::reconcile::plan::{Action, Change, Refusal};
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn change(action: Action, name: &str) -> Change {
        Change {
            action,
            resource_type: ResourceKind::User,
            okta_id: Some("00u1ada1ada1ada1ada1".into()),
            ic_id: None,
            name: name.into(),
            attributes: vec![AttributeChange {
                attribute: "title".into(),
                before: Some(json!("Engineer")),
                after: Some(json!("x".repeat(100))),
            }],
            member: None,
            reason: "in Okta's scope, not in Identity Center".into(),
            desired: None,
            desired_member: None,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        let mut counts = BTreeMap::new();
        for c in &changes {
            *counts.entry(c.action.as_str().to_owned()).or_insert(0) += 1;
        }
        Plan {
            planned_at: OffsetDateTime::UNIX_EPOCH,
            rule_set_version: "identity".into(),
            changes,
            left_alone: Vec::new(),
            withheld: Vec::new(),
            notes: Vec::new(),
            refused: None,
            counts,
        }
    }

    #[test]
    fn the_exit_code_says_nothing_to_do_changes_or_refused() {
        let empty = plan(Vec::new());
        let some = plan(vec![change(Action::Create, "ada")]);
        let mut withheld_only = plan(Vec::new());
        withheld_only
            .withheld
            .push("Okta: listing users: unavailable".into());
        let mut withheld_with_changes = some.clone();
        withheld_with_changes.withheld.push("Okta: x".into());
        let mut refused = some.clone();
        refused.refused = Some(Refusal {
            destructive: 6,
            managed: 6,
            allowed: 5,
        });

        assert_eq!(plan_exit(&empty), DONE);
        assert_eq!(plan_exit(&some), CHANGES);
        assert_eq!(plan_exit(&withheld_only), FAILED);
        assert_eq!(plan_exit(&withheld_with_changes), CHANGES);
        assert_eq!(plan_exit(&refused), FAILED);
    }

    #[test]
    fn the_table_escapes_control_characters_and_shortens_long_values() {
        // Arrange: a name carrying a terminal escape sequence.
        let plan = plan(vec![change(Action::Create, "evil\u{1b}[2Jname")]);
        let mut out = Vec::new();

        // Act
        print_plan(&mut out, &plan, None).unwrap();

        // Assert
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("evil\\u{1b}[2Jname"), "{text}");
        assert!(text.contains("title: \"Engineer\" → \"xxx"), "{text}");
        assert!(text.contains('…'), "{text}");
        assert!(text.contains("Plan: 1 changes (1 create)"), "{text}");
    }

    #[test]
    fn a_saved_plan_reads_back_with_the_same_changes_digest() {
        // Arrange
        let original = plan(vec![
            change(Action::Create, "ada"),
            change(Action::Deactivate, "bob"),
        ]);
        let sources = Sources {
            okta: "http://okta".into(),
            identity_center: "http://ic".into(),
        };
        let dir = std::env::temp_dir().join(format!("scimgw-sync-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.json");

        // Act
        save_plan(
            &path,
            &PlanDocument {
                plan: &original,
                cost: PlanCost::default(),
                sources: &sources,
            },
        )
        .unwrap();
        let saved = load_plan(&path).unwrap();

        // Assert
        assert_eq!(saved.plan, original);
        assert_eq!(saved.sources, Some(sources));
        assert_eq!(
            changes_digest(&saved.plan).unwrap(),
            changes_digest(&original).unwrap()
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn progress_is_kept_per_plan_and_a_foreign_one_is_refused() {
        // Arrange
        let dir = std::env::temp_dir().join(format!("scimgw-sync-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.json");
        let first = plan(vec![
            change(Action::Create, "ada"),
            change(Action::Create, "bob"),
        ]);
        let other = plan(vec![change(Action::Create, "carol")]);

        // Act
        let mut progress = Progress::open(&path, &first).unwrap();
        progress.record(1).unwrap();
        drop(progress);
        let reopened = Progress::open(&path, &first).unwrap();
        let foreign = Progress::open(&path, &other).err().unwrap();

        // Assert
        assert_eq!(reopened.done, BTreeSet::from([1]));
        assert!(foreign.to_string().contains("another plan"), "{foreign}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
