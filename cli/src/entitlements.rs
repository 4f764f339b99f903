//! `scimgw entitlements`: entitlements as code (`docs/entitlements.md`): which Identity
//! Center group gets which permission set on which AWS accounts.
//!
//! - `validate`, `diff`, `apply FILE`, `list`, `history`, `rollback`: the documents,
//!   versioned in the state table with an active pointer, exactly as `scimgw rules`
//!   keeps rule sets (the same commands, shared with `crate::rules`);
//! - `plan`: reads Organizations and Identity Center and prints the account assignments
//!   to create and delete, each with its reason (text or `--format json`, `--out` saves
//!   it for `apply --plan`), and the AWS calls it took;
//! - `apply --plan PLAN.json [--approve PLAN_ID]`: plans again, refuses when anything
//!   moved since the saved plan, and applies it through the executor (bounded, polled,
//!   retried); every operation is an audit record; exits 3 when any failed;
//! - `import`: writes a document claiming the assignments Okta's groups have now, so a
//!   brownfield organization starts with an empty plan.
//!
//! AWS is reached with the administrator's credentials from the default chain
//! (`--aws-endpoint`/`--region` for a local emulator, or `--dev INFO_JSON` of a
//! `scimgw dev --aws-endpoint`). Exit codes: 0 done; 1 refused (an invalid document, a
//! plan refused by the breaker or stale, a conflicting apply); 2 the command could not
//! run; 3 applied, but some operations failed (listed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use aws_adapters::DynamoDbRuleStore;
use aws_adapters::entitlements_aws::{AwsEntitlements, DynamoDbManagedLedger};
use clap::{Args, Subcommand, ValueEnum};
use entitlements::{Applier, Document, Limits, Observed, OpResult, Plan, Safety};
use gateway::SystemClock;
use gateway::rule_store::{RuleStore, RuleVersion, document_sha256};
use serde::Deserialize;

use crate::rules::{
    ApplyArgs, Checked, FileArgs, Kind, RollbackArgs, ValidateArgs, one_line, plural, shown,
    store_error,
};

/// Exit code: the command could not run.
const COULD_NOT_RUN: u8 = 2;
/// Exit code: refused.
const REFUSED: u8 = 1;
/// Exit code: applied, with failures.
const FAILED: u8 = 3;

/// Entitlement documents.
const ENTITLEMENTS: Kind = Kind {
    command: "entitlements",
    what: "entitlement document",
    none_active: "nothing is planned or applied",
    check,
};

fn check(text: &str) -> Checked {
    match Document::load(text) {
        Ok(document) => Checked {
            valid: true,
            summary: format!("valid ({})", plural(document.grants.len(), "grant")),
            problems: Vec::new(),
            json: serde_json::json!([]),
        },
        Err(invalid) => Checked {
            valid: false,
            summary: format!("invalid: {}", plural(invalid.problems.len(), "problem")),
            problems: invalid.problems.iter().map(ToString::to_string).collect(),
            json: serde_json::to_value(&invalid.problems).unwrap_or_default(),
        },
    }
}

/// Options of `scimgw entitlements`.
#[derive(Debug, Clone, Args)]
pub struct EntitlementsArgs {
    #[command(flatten)]
    place: PlaceArgs,
    #[command(subcommand)]
    command: EntitlementsCommand,
}

/// Where the documents, the ledger, the audit trail and AWS are.
#[derive(Debug, Clone, Default, Args)]
struct PlaceArgs {
    /// The stack's state table (`StateTableName`): the documents and the ledger of the
    /// assignments the gateway manages.
    #[arg(long, env = "SCIMGW_STATE_TABLE", global = true, value_name = "NAME")]
    table: Option<String>,
    /// The audit table (`AuditTableName`): `apply --plan` records every operation in it.
    #[arg(long, env = "SCIMGW_AUDIT_TABLE", global = true, value_name = "NAME")]
    audit_table: Option<String>,
    /// The audit trail's KMS HMAC key (`AuditMacKeyArn`).
    #[arg(long, env = "SCIMGW_AUDIT_MAC_KEY", global = true, value_name = "ARN")]
    audit_mac_key: Option<String>,
    /// The Identity Center instance (default: the organization's one instance).
    #[arg(
        long,
        env = "SCIMGW_IC_INSTANCE_ARN",
        global = true,
        value_name = "ARN"
    )]
    instance_arn: Option<String>,
    /// The AWS endpoint, e.g. a local moto server.
    #[arg(long, global = true, value_name = "URL")]
    aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    region: Option<String>,
    /// A running `scimgw dev --aws-endpoint`'s info JSON: its endpoint, region, tables
    /// and audit key.
    #[arg(long, global = true, value_name = "INFO_JSON")]
    dev: Option<PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
enum EntitlementsCommand {
    /// Check a document and print every problem. Exits 0 when it loads, 1 when not.
    Validate(ValidateArgs),
    /// Show how a document differs from the active one, and what validation says.
    Diff(FileArgs),
    /// `apply FILE`: save a document as a new version and make it active (no AWS
    /// change). `apply --plan PLAN.json`: apply a saved plan to Identity Center.
    Apply(EntApplyArgs),
    /// List the saved versions, newest first, marking the active one.
    List,
    /// Every version saved and every switch of the active document, newest first.
    History,
    /// Make an earlier version active again (recorded in the history).
    Rollback(RollbackArgs),
    /// Show the assignments to create and delete (and why) for the active document.
    Plan(PlanArgs),
    /// Write a document from the assignments Identity Center has now.
    Import(ImportArgs),
}

/// How plans print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// The plan as JSON.
    Json,
}

#[derive(Debug, Clone, Args)]
struct EntApplyArgs {
    /// The document to save and activate.
    #[arg(
        value_name = "FILE",
        required_unless_present = "plan",
        conflicts_with = "plan"
    )]
    file: Option<PathBuf>,
    /// A plan saved by `plan --out`: applied to Identity Center.
    #[arg(long, value_name = "PLAN.json")]
    plan: Option<PathBuf>,
    /// The id of a plan the breaker refuses (it deletes more than the threshold): its
    /// approval.
    #[arg(long, value_name = "PLAN_ID", requires = "plan")]
    approve: Option<String>,
    /// Why, in a line (recorded with the version).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Who applies (recorded in the history; default: your login name).
    #[arg(long, env = "SCIMGW_RULES_AUTHOR", value_name = "NAME")]
    author: Option<String>,
    /// Output format of a plan's apply.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Clone, Args)]
struct PlanArgs {
    /// Plan a document not saved yet (its plan cannot be applied: save it first).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Save the plan (JSON) for `apply --plan`.
    #[arg(long, value_name = "PLAN.json")]
    out: Option<PathBuf>,
    /// The share of managed assignments a plan may delete without an approval.
    #[arg(long, default_value_t = gateway::reconcile::plan::DEFAULT_THRESHOLD_PERCENT)]
    threshold_percent: u32,
}

#[derive(Debug, Clone, Args)]
struct ImportArgs {
    /// Also claim the assignments of groups Okta does not push (Control Tower's, the
    /// console's): the gateway manages, and may then delete, what it imports.
    #[arg(long)]
    all_groups: bool,
    /// Where to write the document (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// What `--dev` reads of `scimgw dev --info-json`.
#[derive(Debug, Deserialize)]
struct DevInfoFile {
    #[serde(default)]
    aws_endpoint: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    state_table: Option<String>,
    #[serde(default)]
    audit_table: Option<String>,
    #[serde(default)]
    audit_mac_key: Option<String>,
}

/// Runs `scimgw entitlements`, printing errors itself as one line on stderr (exit 2).
pub async fn run(args: EntitlementsArgs) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = match execute(args, &mut out, &mut err).await {
        Ok(code) => code,
        Err(error) => {
            let _ = out.flush();
            let _ = writeln!(
                err,
                "scimgw entitlements: {}",
                one_line(&format!("{error:#}"))
            );
            COULD_NOT_RUN
        }
    };
    ExitCode::from(code)
}

/// The places with `--dev`'s filled in.
fn resolve(mut place: PlaceArgs) -> anyhow::Result<PlaceArgs> {
    let Some(path) = &place.dev else {
        return Ok(place);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--dev {}: the file could not be read", path.display()))?;
    let info: DevInfoFile = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "--dev {}: not a `scimgw dev --info-json` file: {e}",
            path.display()
        )
    })?;
    let endpoint = info
        .aws_endpoint
        .context("--dev: the dev server keeps no state in AWS: start it with --aws-endpoint URL")?;
    place.aws_endpoint = Some(endpoint);
    place.region = place.region.or(info.region);
    place.table = place.table.or(info.state_table);
    place.audit_table = place.audit_table.or(info.audit_table);
    place.audit_mac_key = place.audit_mac_key.or(info.audit_mac_key);
    Ok(place)
}

fn table(place: &PlaceArgs) -> anyhow::Result<&str> {
    place
        .table
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .context(
            "say which table holds the entitlement documents: --table NAME (the stack's \
             StateTableName output), SCIMGW_STATE_TABLE or --dev INFO_JSON",
        )
}

async fn execute(
    args: EntitlementsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let kind = &ENTITLEMENTS;
    if let EntitlementsCommand::Validate(v) = &args.command {
        return crate::rules::validate(kind, v, out);
    }
    let place = resolve(args.place)?;
    let aws =
        crate::audit::table::aws_config(place.aws_endpoint.as_deref(), place.region.as_deref())
            .await?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let store =
        || -> anyhow::Result<DynamoDbRuleStore> {
            Ok(DynamoDbRuleStore::entitlements(
                dynamodb.clone(),
                table(&place)?,
                Arc::new(SystemClock),
            )
            .with_timeout(crate::STORE_TIMEOUT))
        };
    match &args.command {
        EntitlementsCommand::Validate(_) => Ok(0),
        EntitlementsCommand::Diff(f) => crate::rules::diff(kind, &f.file, &store()?, out).await,
        EntitlementsCommand::List => crate::rules::list(kind, &store()?, out).await,
        EntitlementsCommand::History => crate::rules::history(kind, &store()?, out).await,
        EntitlementsCommand::Rollback(r) => {
            crate::rules::rollback(kind, r, &store()?, out, err).await
        }
        EntitlementsCommand::Apply(a) => match (&a.file, &a.plan) {
            (Some(file), None) => {
                let args = ApplyArgs {
                    file: FileArgs { file: file.clone() },
                    note: a.note.clone(),
                    author: crate::rules::AuthorArgs {
                        author: a.author.clone(),
                    },
                };
                crate::rules::apply(kind, &args, &store()?, out, err).await
            }
            (None, Some(plan)) => {
                let ledger = DynamoDbManagedLedger::new(dynamodb.clone(), table(&place)?);
                apply_plan(&place, &aws, &store()?, &ledger, plan, a, out, err).await
            }
            _ => bail!("give a document FILE or --plan PLAN.json, not both"),
        },
        EntitlementsCommand::Plan(p) => {
            let ledger = DynamoDbManagedLedger::new(dynamodb.clone(), table(&place)?);
            plan(&place, &aws, &store()?, &ledger, p, out).await
        }
        EntitlementsCommand::Import(i) => {
            let ledger = DynamoDbManagedLedger::new(dynamodb.clone(), table(&place)?);
            import(&place, &aws, &ledger, i, out).await
        }
    }
}

async fn connect(
    place: &PlaceArgs,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<AwsEntitlements> {
    AwsEntitlements::connect(
        aws_sdk_organizations::Client::new(aws),
        aws_sdk_identitystore::Client::new(aws),
        aws_sdk_ssoadmin::Client::new(aws),
        place.instance_arn.as_deref(),
    )
    .await
    .map_err(|e| anyhow!("Identity Center: {e}"))
}

/// The document to plan: `--file`'s (version `file-<digest>`), else the active one.
async fn document(
    file: Option<&Path>,
    store: &dyn RuleStore,
) -> anyhow::Result<(Document, String)> {
    let (text, version) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read", path.display()))?;
            let digest: String = document_sha256(&text).chars().take(12).collect();
            (text, format!("file-{digest}"))
        }
        None => {
            let active = store
                .active()
                .await
                .map_err(store_error(&ENTITLEMENTS))?
                .context(
                    "no entitlement document is active: `scimgw entitlements apply FILE` saves \
                     and activates one (or plan an unsaved one with --file)",
                )?;
            (active.document, active.version.to_string())
        }
    };
    let document = Document::load(&text).map_err(|invalid| {
        let problems: Vec<String> = invalid.problems.iter().map(ToString::to_string).collect();
        anyhow!(
            "the {version} document does not load: {}",
            problems.join("; ")
        )
    })?;
    Ok((document, version))
}

fn problems_of(observed: &Observed) -> anyhow::Result<()> {
    // A plan without the organization or the groups would plan nothing, not "delete
    // nothing": it is an error, not a plan.
    if observed.organization.root_id.is_empty() {
        bail!(
            "the organization could not be read: {}",
            observed.problems.join("; ")
        );
    }
    Ok(())
}

fn print_plan(plan: &Plan, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, plan)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "plan {} of entitlement document {}: {} to create, {} to delete",
        plan.id,
        plan.document_version,
        plan.create.len(),
        plan.delete.len()
    )?;
    for c in &plan.permission_sets {
        let verb = if c.arn.is_none() { "create" } else { "update" };
        writeln!(
            out,
            "~ {verb} permission set {}: {}",
            shown(&c.name, false),
            shown(&c.reason, false)
        )?;
        for step in &c.steps {
            writeln!(out, "    {}", shown(&step.to_string(), false))?;
        }
    }
    for (sign, changes) in [("+", &plan.create), ("-", &plan.delete)] {
        for c in changes {
            let okta = c
                .okta_group_id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            writeln!(
                out,
                "{sign} {} {}{okta} {} on {}: {}",
                if sign == "+" { "create" } else { "delete" },
                shown(&c.group_name, false),
                shown(&c.permission_set_name, false),
                c.assignment.account_id,
                shown(&c.reason, false)
            )?;
        }
    }
    if !plan.adopt.is_empty() {
        writeln!(
            out,
            "{} assignments the document names exist already: recorded as managed on apply",
            plan.adopt.len()
        )?;
    }
    if !plan.forget.is_empty() {
        writeln!(
            out,
            "{} managed assignments are gone from Identity Center: forgotten on apply",
            plan.forget.len()
        )?;
    }
    writeln!(
        out,
        "{} assignments not managed by the gateway (Control Tower's, other tools') are left \
         alone",
        plan.left_alone
    )?;
    for u in &plan.unresolved {
        writeln!(out, "unresolved: {}", shown(u, false))?;
    }
    for w in &plan.withheld {
        writeln!(out, "deletions withheld: {}", shown(w, false))?;
    }
    if let Some(r) = &plan.refused {
        writeln!(
            out,
            "REFUSED without approval: it deletes {} of {} managed assignments ({} allowed); \
             review it, then `scimgw entitlements apply --plan PLAN.json --approve {}`",
            r.destructive, r.managed, r.allowed, plan.id
        )?;
    }
    Ok(())
}

async fn plan(
    place: &PlaceArgs,
    aws: &aws_config::SdkConfig,
    store: &dyn RuleStore,
    ledger: &DynamoDbManagedLedger,
    args: &PlanArgs,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let (document, version) = document(args.file.as_deref(), store).await?;
    let reader = connect(place, aws).await?;
    let started = Instant::now();
    let observed = reader.observe(&document, ledger).await;
    problems_of(&observed)?;
    let safety = Safety {
        threshold_percent: args.threshold_percent,
        approved_plan: None,
    };
    let plan = entitlements::plan(&document, &version, &observed, &safety);
    print_plan(&plan, args.format, out)?;
    let (orgs, sso, ids) = reader.counter.counts();
    if args.format == Format::Text {
        writeln!(
            out,
            "read with {orgs} Organizations, {sso} SSO Admin and {ids} Identity Store calls in \
             {:.1}s",
            started.elapsed().as_secs_f64()
        )?;
    }
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_vec_pretty(&plan)?)
            .with_context(|| format!("{}: cannot write the plan", path.display()))?;
    }
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
async fn apply_plan(
    place: &PlaceArgs,
    aws: &aws_config::SdkConfig,
    store: &dyn RuleStore,
    ledger: &DynamoDbManagedLedger,
    path: &Path,
    args: &EntApplyArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let saved: Plan = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?,
    )
    .map_err(|e| {
        anyhow!(
            "{}: not a plan written by `plan --out`: {e}",
            path.display()
        )
    })?;
    let version: RuleVersion = saved.document_version.parse().map_err(|_| {
        anyhow!(
            "plan {} is of an unsaved document ({}): save it with `scimgw entitlements apply \
             FILE`, plan again, then apply that plan",
            saved.id,
            saved.document_version
        )
    })?;
    let (Some(audit_table), Some(mac_key)) = (&place.audit_table, &place.audit_mac_key) else {
        bail!(
            "every assignment made or removed is recorded in the audit trail: give \
             --audit-table NAME and --audit-mac-key ARN (the stack's AuditTableName and \
             AuditMacKeyArn outputs), or --dev INFO_JSON"
        );
    };
    let stored = store
        .get(version)
        .await
        .map_err(store_error(&ENTITLEMENTS))?
        .ok_or_else(|| {
            store_error(&ENTITLEMENTS)(gateway::rule_store::RuleStoreError::NotFound(version))
        })?;
    let document = Document::load(&stored.document)
        .map_err(|_| anyhow!("the {version} document does not load with this scimgw"))?;
    let reader = connect(place, aws).await?;
    let observed = reader.observe(&document, ledger).await;
    problems_of(&observed)?;
    let safety = Safety {
        approved_plan: args.approve.clone(),
        ..Safety::default()
    };
    let plan = entitlements::plan(&document, &version.to_string(), &observed, &safety);
    if plan.id != saved.id {
        writeln!(
            err,
            "scimgw entitlements: refused: Identity Center or the organization changed since \
             plan {} (it is plan {} now); nothing was applied. Plan again and review.",
            saved.id, plan.id
        )?;
        return Ok(REFUSED);
    }
    let audit = crate::events::audit_writer(aws, audit_table, mac_key);
    let applier = Applier {
        credential: crate::events::operator(),
    };
    let report = match entitlements::apply(
        &plan,
        Arc::new(reader.sso_admin.clone()),
        ledger,
        &audit,
        &SystemClock,
        &applier,
        Limits::default(),
    )
    .await
    {
        Ok(report) => report,
        Err(refusal) => {
            writeln!(err, "scimgw entitlements: refused: {refusal}")?;
            return Ok(REFUSED);
        }
    };
    if args.format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        let done = report.done();
        writeln!(
            out,
            "applied plan {}: {done} operations done, {} failed, {} adopted, {} forgotten",
            report.plan_id,
            report.failed(),
            report.adopted,
            report.forgotten
        )?;
        for op in &report.permission_sets {
            if let OpResult::Failed { error } = &op.result {
                writeln!(
                    out,
                    "FAILED permission set {}: {}",
                    shown(&op.change.name, false),
                    shown(error, false)
                )?;
            }
        }
        for op in &report.operations {
            if let OpResult::Failed { error } = &op.result {
                writeln!(
                    out,
                    "FAILED {:?} {} {} on {}: {}",
                    op.kind,
                    shown(&op.change.group_name, false),
                    shown(&op.change.permission_set_name, false),
                    op.change.assignment.account_id,
                    shown(error, false)
                )?;
            }
        }
        for e in &report.bookkeeping_errors {
            writeln!(out, "FAILED to record: {}", shown(e, false))?;
        }
    }
    Ok(if report.succeeded() { 0 } else { FAILED })
}

async fn import(
    place: &PlaceArgs,
    aws: &aws_config::SdkConfig,
    ledger: &DynamoDbManagedLedger,
    args: &ImportArgs,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let reader = connect(place, aws).await?;
    let empty = Document {
        permission_sets: Vec::new(),
        grants: Vec::new(),
    };
    let mut observed = reader.observe_all_but_assignments(&empty, ledger).await;
    problems_of(&observed)?;
    if !observed.problems.is_empty() {
        bail!(
            "Identity Center could not be read in full: {}",
            observed.problems.join("; ")
        );
    }
    let groups = observed
        .identity_center
        .groups
        .iter()
        .filter(|g| args.all_groups || g.external_id.is_some())
        .map(|g| g.id.clone())
        .collect();
    observed.identity_center.assignments = reader
        .sso_admin
        .assignments_of(&groups)
        .await
        .map_err(|e| anyhow!("Identity Center: {e}"))?;
    let document = entitlements::import(&observed, |g| args.all_groups || g.external_id.is_some());
    let text = document.to_yaml();
    match &args.out {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("{}: cannot write", path.display()))?,
        None => write!(out, "{text}")?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    //! The versioned-document commands on entitlement documents (the same code as
    //! `scimgw rules`, tested there in full), on the in-memory store.
    #![allow(clippy::unwrap_used)]

    use gateway::rule_store::InMemoryRuleStore;

    use super::*;

    const VALID: &str = "grants:\n  - group: { okta_id: 00g1prodadmins000000 }\n    permission_sets: [AdministratorAccess]\n    scope: { root: true }\n";

    fn file(text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "scimgw-entitlements-test-{}-{}.yaml",
            std::process::id(),
            document_sha256(text)
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn apply_args(path: PathBuf) -> ApplyArgs {
        ApplyArgs {
            file: FileArgs { file: path },
            note: None,
            author: crate::rules::AuthorArgs {
                author: Some("ada".into()),
            },
        }
    }

    #[tokio::test]
    async fn a_document_is_validated_saved_activated_and_listed_under_its_own_words() {
        let store = InMemoryRuleStore::default();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let invalid =
            file("grants: [{ group: { okta_id: nope }, permission_sets: [], scope: {} }]");
        let code = crate::rules::apply(
            &ENTITLEMENTS,
            &apply_args(invalid),
            &store,
            &mut out,
            &mut err,
        )
        .await
        .unwrap();
        assert_eq!(code, REFUSED);
        let printed = String::from_utf8(out.clone()).unwrap();
        assert!(printed.contains("invalid: 3 problems"), "{printed}");
        assert!(printed.contains("grants[0].group.okta_id"), "{printed}");
        assert!(
            String::from_utf8(err.clone())
                .unwrap()
                .starts_with("scimgw entitlements: refused:")
        );
        assert!(store.history().await.unwrap().versions.is_empty());

        out.clear();
        let code = crate::rules::apply(
            &ENTITLEMENTS,
            &apply_args(file(VALID)),
            &store,
            &mut out,
            &mut err,
        )
        .await
        .unwrap();
        assert_eq!(code, 0);
        assert!(
            String::from_utf8(out.clone())
                .unwrap()
                .contains("applied: v1 is active")
        );
        out.clear();
        crate::rules::list(&ENTITLEMENTS, &store, &mut out)
            .await
            .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("* active: v1"));
    }

    #[tokio::test]
    async fn plan_needs_an_active_document_and_refuses_one_that_does_not_load() {
        let store = InMemoryRuleStore::default();
        let none = document(None, &store).await.unwrap_err();
        assert!(format!("{none:#}").contains("no entitlement document is active"));
        let (document, version) = document(Some(&file(VALID)), &store).await.unwrap();
        assert_eq!(document.grants.len(), 1);
        assert!(version.starts_with("file-"));
        let bad = super::document(Some(&file("grants: [1]")), &store)
            .await
            .unwrap_err();
        assert!(format!("{bad:#}").contains("does not load"), "{bad:#}");
    }
}
