//! `scimgw rules`: the administrators' tool for mapping rule sets (`docs/rules.md`).
//!
//! - `validate FILE` loads a document with the `rules` crate and prints every problem
//!   (kind, rule, field, position, message) and warning;
//! - `diff FILE` shows a unified diff against the active set, and what validation says;
//! - `apply FILE` validates, saves a new version and activates it, conditionally on the
//!   active version it read first (another admin's apply in between is a conflict);
//! - `list` and `history` show the saved versions and every switch of the active set;
//! - `rollback VERSION` makes an earlier version active again, conditionally too;
//! - `test FILE --input RESOURCE.json` shows what a rule set does to one user or group:
//!   the rules that fired (or the one that skipped it), the body Identity Center would
//!   receive (after the gateway's translation) and the read-back value Okta would be
//!   answered.
//!
//! The store is the stack's state table (`--table`, or `SCIMGW_STATE_TABLE`), read and
//! written through `aws_adapters::DynamoDbRuleStore` with the administrator's own IAM
//! credentials from the default chain (`--aws-endpoint` for a local emulator); `validate`
//! and `test` need none. Every command works on any [`RuleStore`], so the tests run them
//! on `gateway::rule_store::InMemoryRuleStore`.
//!
//! Exit codes: 0 done (the document loads, warnings allowed; applied; nothing to do); 1
//! refused (the document does not load, or another admin switched the active set
//! meanwhile); 2 the command could not run (bad options, an unreadable file, no access,
//! an unreachable store). Errors are one line on stderr; nothing prints a credential.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use ::rules::{RuleSet, SkipReason, read_back_attribute};
use anyhow::{Context as _, anyhow, bail};
use aws_adapters::DynamoDbRuleStore;
use clap::{Args, Subcommand, ValueEnum};
use gateway::SystemClock;
use gateway::rule_store::{
    NewRuleSet, RuleHistory, RuleStore, RuleStoreError, RuleVersion, document_sha256,
};
use gateway::translate::group::outbound_group;
use gateway::translate::user::outbound_user;
use scim_core::{Group, Resource as _, ResourceKind, ScimError, User};
use serde_json::Value;
use similar::TextDiff;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[cfg(test)]
mod tests;

/// Exit code: the document loads, the command did what it said.
const DONE: u8 = 0;
/// Exit code: refused (the document does not load, or the active set changed meanwhile).
const REFUSED: u8 = 1;
/// Exit code: the command could not run.
const COULD_NOT_RUN: u8 = 2;

/// The largest file read (a document or a resource); far above the rules' own limit, so
/// that an oversized document is reported by validation rather than here.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Options of `scimgw rules`.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: RulesCommand,
}

/// Where the rule sets are kept.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// The stack's state table (its `StateTableName` output), read and written with your
    /// IAM credentials from the default chain.
    #[arg(long, env = "SCIMGW_STATE_TABLE", global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// The DynamoDB endpoint, e.g. a local moto server.
    #[arg(long, global = true, value_name = "URL")]
    pub aws_endpoint: Option<String>,
    /// The AWS region (default: from the environment or profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
enum RulesCommand {
    /// Check a rule-set document and print every problem. Exits 0 when it loads
    /// (warnings allowed), 1 when it does not.
    Validate(ValidateArgs),
    /// Show how a document differs from the active rule set, and what validation says.
    Diff(FileArgs),
    /// Validate a document, save it as a new version and make it active. Refuses one
    /// that does not load; exits 1 if another admin switched the active set meanwhile.
    Apply(ApplyArgs),
    /// List the saved versions, newest first, marking the active one.
    List,
    /// Every version saved and every switch of the active set, newest first.
    History,
    /// Make an earlier version active again (recorded in the history).
    Rollback(RollbackArgs),
    /// Show what a rule set does to one user or group: the rules that fire, what
    /// Identity Center would receive and what Okta would be answered.
    Test(TestArgs),
}

impl RulesCommand {
    /// Whether the command reads or writes the store.
    fn needs_store(&self) -> bool {
        !matches!(self, Self::Validate(_) | Self::Test(_))
    }
}

#[derive(Debug, Clone, Args)]
pub(crate) struct FileArgs {
    /// The document (YAML).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// How `validate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateFormat {
    /// A summary line and one line per problem.
    Text,
    /// `{"file": …, "valid": …, "problems": […]}`.
    Json,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    file: FileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ValidateFormat,
}

/// Who acts, for the history: `--author`, else `SCIMGW_RULES_AUTHOR`, else the login
/// name (`USER`, `LOGNAME`).
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct AuthorArgs {
    /// Who applies (recorded in the history; default: your login name).
    #[arg(long, env = "SCIMGW_RULES_AUTHOR", value_name = "NAME")]
    pub(crate) author: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) file: FileArgs,
    /// Why, in a line (recorded with the version).
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
    #[command(flatten)]
    pub(crate) author: AuthorArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RollbackArgs {
    /// The version to make active, e.g. `v3` (see `scimgw rules list`).
    #[arg(value_name = "VERSION")]
    version: RuleVersion,
    #[command(flatten)]
    author: AuthorArgs,
}

/// A resource type, as `--kind` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KindArg {
    /// A user.
    User,
    /// A group.
    Group,
}

impl From<KindArg> for ResourceKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::User => ResourceKind::User,
            KindArg::Group => ResourceKind::Group,
        }
    }
}

#[derive(Debug, Clone, Args)]
struct TestArgs {
    #[command(flatten)]
    file: FileArgs,
    /// The user or group as Okta would send it (SCIM JSON).
    #[arg(long, value_name = "RESOURCE.json")]
    input: PathBuf,
    /// Whether the input is a user or a group (default: from its `schemas`).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
}

/// Runs `scimgw rules`, printing errors itself as one line on stderr (exit 2).
pub async fn run(args: RulesArgs) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let result = match open_if_needed(&args).await {
        Ok(store) => execute(&args.command, store.as_deref(), &mut out, &mut err).await,
        Err(error) => Err(error),
    };
    let code = match result {
        Ok(code) => code,
        Err(error) => {
            let _ = out.flush();
            let _ = writeln!(err, "scimgw rules: {}", one_line(&format!("{error:#}")));
            COULD_NOT_RUN
        }
    };
    ExitCode::from(code)
}

async fn open_if_needed(args: &RulesArgs) -> anyhow::Result<Option<Box<dyn RuleStore>>> {
    if !args.command.needs_store() {
        return Ok(None);
    }
    Ok(Some(Box::new(open_store(&args.store).await?)))
}

/// The rule store in the state table named by `--table` (also `scimgw doctor`'s).
pub(crate) async fn open_store(store: &StoreArgs) -> anyhow::Result<DynamoDbRuleStore> {
    let table = store
        .table
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .context(
            "say which table holds the rule sets: --table NAME (the stack's StateTableName \
             output) or SCIMGW_STATE_TABLE",
        )?;
    let aws =
        crate::audit::table::aws_config(store.aws_endpoint.as_deref(), store.region.as_deref())
            .await?;
    Ok(DynamoDbRuleStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        Arc::new(SystemClock),
    )
    .with_timeout(crate::STORE_TIMEOUT))
}

/// Runs one command against `store` (present for every command that
/// [needs one](RulesCommand::needs_store)); answers the exit code, or the error that
/// stopped it (exit 2).
async fn execute(
    command: &RulesCommand,
    store: Option<&dyn RuleStore>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let store = || store.context("this command needs the rule store: give --table");
    match command {
        RulesCommand::Validate(args) => validate(&RULES, args, out),
        RulesCommand::Diff(args) => diff(&RULES, &args.file, store()?, out).await,
        RulesCommand::Apply(args) => apply(&RULES, args, store()?, out, err).await,
        RulesCommand::List => list(&RULES, store()?, out).await,
        RulesCommand::History => history(&RULES, store()?, out).await,
        RulesCommand::Rollback(args) => rollback(&RULES, args, store()?, out, err).await,
        RulesCommand::Test(args) => test(args, out, err),
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Text made safe for a terminal: control characters (an escape sequence in a document
/// or a name could rewrite the screen) are shown as `?`; line breaks and tabs are kept
/// when `lines` says so.
pub(crate) fn shown(text: &str, lines: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' if lines => c,
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// An error message on one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A time for people: RFC 3339 in UTC, to the second.
fn time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// The text of a file of at most [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> anyhow::Result<String> {
    let shown_path = path.display();
    let file = File::open(path).with_context(|| format!("{shown_path}: cannot open"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{shown_path}: cannot read"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{shown_path}: larger than 1 MiB, far more than a rule set or a resource");
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("{shown_path}: not UTF-8 text"))
}

/// A store error as the administrator should read it.
pub(crate) fn store_error(kind: &Kind) -> impl Fn(RuleStoreError) -> anyhow::Error + '_ {
    move |error| match error {
        RuleStoreError::NotFound(version) => anyhow!(
            "there is no {} {version}; `scimgw {} list` shows the saved versions",
            kind.what,
            kind.command
        ),
        other => anyhow::Error::new(other),
    }
}

/// Who acts: the flag (or `SCIMGW_RULES_AUTHOR`), else the login name.
fn author(args: &AuthorArgs) -> anyhow::Result<String> {
    args.author
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .context("say who applies with --author NAME (or SCIMGW_RULES_AUTHOR)")
}

/// A document as loading it says: whether it loads, a summary and every problem.
pub(crate) struct Checked {
    /// Whether it loads (warnings allowed).
    pub(crate) valid: bool,
    /// `valid (2 user rules, 1 group rule), 1 warning`, `invalid: 2 errors`.
    pub(crate) summary: String,
    /// Every problem (errors and warnings), one line each.
    pub(crate) problems: Vec<String>,
    /// The problems as `validate --format json` prints them.
    pub(crate) json: Value,
}

/// What the versioned-document commands (validate, diff, apply, list, history,
/// rollback) work on: rule sets here, entitlement documents in `scimgw entitlements`.
pub(crate) struct Kind {
    /// The subcommand: `rules`.
    pub(crate) command: &'static str,
    /// What a document is called: `rule set`.
    pub(crate) what: &'static str,
    /// What it means that no version is active.
    pub(crate) none_active: &'static str,
    /// Loads a document.
    pub(crate) check: fn(&str) -> Checked,
}

/// Rule sets.
const RULES: Kind = Kind {
    command: "rules",
    what: "rule set",
    none_active: "the gateway applies no rules",
    check: check_rules,
};

fn with_warnings(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(", {}", plural(n, "warning")),
    }
}

/// A rule set loaded: its problems with their kind, rule, field and position.
fn check_rules(document: &str) -> Checked {
    match RuleSet::load(document) {
        Ok(loaded) => {
            let users = loaded.rule_set.rules(ResourceKind::User).len();
            let groups = loaded.rule_set.rules(ResourceKind::Group).len();
            Checked {
                valid: true,
                summary: format!(
                    "valid ({}, {}){}",
                    plural(users, "user rule"),
                    plural(groups, "group rule"),
                    with_warnings(loaded.warnings.len())
                ),
                problems: loaded.warnings.iter().map(ToString::to_string).collect(),
                json: serde_json::to_value(&loaded.warnings).unwrap_or_default(),
            }
        }
        Err(invalid) => {
            let errors = invalid.errors().count();
            Checked {
                valid: false,
                summary: format!(
                    "invalid: {}{}",
                    plural(errors, "error"),
                    with_warnings(invalid.problems.len() - errors)
                ),
                problems: invalid.problems.iter().map(ToString::to_string).collect(),
                json: serde_json::to_value(&invalid.problems).unwrap_or_default(),
            }
        }
    }
}

/// Prints what loading said: a summary line, then every problem on a line of its own.
fn print_load(label: &str, checked: &Checked, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}: {}", shown(label, false), checked.summary)?;
    for problem in &checked.problems {
        writeln!(out, "  {}", shown(problem, false))?;
    }
    Ok(())
}

/// Says that the active set changed under an apply or a rollback; exit 1.
async fn conflict(
    kind: &Kind,
    store: &dyn RuleStore,
    expected: Option<RuleVersion>,
    what: &str,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let now = match store.active().await {
        Ok(Some(active)) => format!("{} is active now", active.version),
        Ok(None) => "nothing is active now".to_owned(),
        Err(_) => "the active version could not be read again".to_owned(),
    };
    let was = expected.map_or_else(|| "nothing".to_owned(), |v| v.to_string());
    let (command, kind) = (kind.command, kind.what);
    writeln!(
        err,
        "scimgw {command}: another admin applied a {kind} meanwhile ({now}; {was} was active \
         when this command read it): {what}. Review with `scimgw {command} list` and `scimgw \
         {command} diff`, then try again."
    )?;
    Ok(REFUSED)
}

// ---------------------------------------------------------------------------------------
// The commands

pub(crate) fn validate(
    kind: &Kind,
    args: &ValidateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let path = &args.file.file;
    let document = read_text(path)?;
    let result = (kind.check)(&document);
    match args.format {
        ValidateFormat::Text => print_load(&path.display().to_string(), &result, out)?,
        ValidateFormat::Json => {
            let report = serde_json::json!({
                "file": path.display().to_string(),
                "valid": result.valid,
                "problems": result.json,
            });
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
    }
    Ok(if result.valid { DONE } else { REFUSED })
}

pub(crate) async fn diff(
    kind: &Kind,
    path: &Path,
    store: &dyn RuleStore,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let document = read_text(path)?;
    let result = (kind.check)(&document);
    let active = store.active().await.map_err(store_error(kind))?;
    let label = path.display().to_string();
    match &active {
        Some(active) if active.document == document => writeln!(
            out,
            "{}: the same as the active {} {}",
            shown(&label, false),
            kind.what,
            active.version
        )?,
        _ => {
            let (old, old_label) = match &active {
                Some(active) => (
                    active.document.as_str(),
                    format!(
                        "active {} ({}, {})",
                        active.version,
                        time(active.created_at),
                        active.author
                    ),
                ),
                None => ("", format!("(no active {})", kind.what)),
            };
            let text = TextDiff::from_lines(old, document.as_str())
                .unified_diff()
                .context_radius(3)
                .header(&old_label, &label)
                .to_string();
            write!(out, "{}", shown(&text, true))?;
        }
    }
    print_load(&label, &result, out)?;
    Ok(if result.valid { DONE } else { REFUSED })
}

pub(crate) async fn apply(
    kind: &Kind,
    args: &ApplyArgs,
    store: &dyn RuleStore,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let path = &args.file.file;
    let label = path.display().to_string();
    let author = author(&args.author)?;
    let document = read_text(path)?;
    let result = (kind.check)(&document);
    print_load(&label, &result, out)?;
    if !result.valid {
        writeln!(
            err,
            "scimgw {}: refused: {} does not load; nothing was saved or activated",
            kind.command,
            shown(&label, false)
        )?;
        return Ok(REFUSED);
    }
    let active = store.active().await.map_err(store_error(kind))?;
    let expected = active.as_ref().map(|a| a.version);
    if let Some(active) = &active
        && active.sha256 == document_sha256(&document)
    {
        writeln!(
            out,
            "no change: {} is the active {} {} already",
            shown(&label, false),
            kind.what,
            active.version
        )?;
        return Ok(DONE);
    }
    let version = store
        .put_version(NewRuleSet {
            document,
            author: author.clone(),
            note: args.note.clone(),
        })
        .await
        .map_err(store_error(kind))?;
    match store.activate(version, expected, &author).await {
        Ok(_) => {
            let was = expected.map_or_else(|| "nothing".to_owned(), |v| v.to_string());
            writeln!(out, "applied: {version} is active (was {was})")?;
            Ok(DONE)
        }
        Err(RuleStoreError::Conflict { .. }) => {
            let what = format!("{version} was saved but not made active");
            conflict(kind, store, expected, &what, err).await
        }
        Err(other) => Err(store_error(kind)(other).context(format!(
            "{version} was saved, but making it active failed (`scimgw {} history` says \
             whether it is)",
            kind.command
        ))),
    }
}

pub(crate) async fn list(
    kind: &Kind,
    store: &dyn RuleStore,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let history = store.history().await.map_err(store_error(kind))?;
    if history.versions.is_empty() {
        writeln!(
            out,
            "no {} has been saved yet (`scimgw {} apply FILE` saves and activates one)",
            kind.what, kind.command
        )?;
        return Ok(DONE);
    }
    let active = history.active();
    let header = ["", "VERSION", "CREATED", "AUTHOR", "LAST ACTIVATED", "NOTE"].map(String::from);
    let rows: Vec<[String; 6]> = history
        .versions
        .iter()
        .map(|e| {
            [
                if Some(e.version) == active { "*" } else { "" }.to_owned(),
                e.version.to_string(),
                time(e.created_at),
                shown(&e.author, false),
                e.activated_at.map_or_else(|| "-".to_owned(), time),
                shown(e.note.as_deref().unwrap_or(""), false),
            ]
        })
        .collect();
    write_columns(&header, &rows, out)?;
    match active {
        Some(version) => writeln!(out, "* active: {version}")?,
        None => writeln!(out, "no version is active ({})", kind.none_active)?,
    }
    Ok(DONE)
}

/// Rows as aligned columns under a header.
fn write_columns<const N: usize>(
    header: &[String; N],
    rows: &[[String; N]],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut widths = [0usize; N];
    for row in std::iter::once(header).chain(rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let line = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The history's events, newest first: saves and switches.
fn events(history: &RuleHistory) -> Vec<[String; 4]> {
    // (when, switches before saves at the same instant, number, the row)
    let mut events: Vec<(OffsetDateTime, u8, u64, [String; 4])> = Vec::new();
    for e in &history.versions {
        let note = e
            .note
            .as_deref()
            .map(|n| format!("\"{}\"", shown(n, false)))
            .unwrap_or_default();
        events.push((
            e.created_at,
            0,
            e.version.number(),
            [
                time(e.created_at),
                format!("saved {}", e.version),
                shown(&e.author, false),
                note,
            ],
        ));
    }
    for a in &history.activations {
        let how = match a.previous {
            None => "first activation".to_owned(),
            Some(previous) if a.is_rollback() => format!("rollback from {previous}"),
            Some(previous) => format!("replaces {previous}"),
        };
        events.push((
            a.activated_at,
            1,
            a.sequence,
            [
                time(a.activated_at),
                format!("activated {}", a.version),
                shown(&a.activated_by, false),
                how,
            ],
        ));
    }
    events.sort_by_key(|e| std::cmp::Reverse((e.0, e.1, e.2)));
    events.into_iter().map(|(_, _, _, row)| row).collect()
}

pub(crate) async fn history(
    kind: &Kind,
    store: &dyn RuleStore,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let history = store.history().await.map_err(store_error(kind))?;
    let rows = events(&history);
    if rows.is_empty() {
        writeln!(out, "no {} has been saved yet", kind.what)?;
        return Ok(DONE);
    }
    let header = ["TIME", "EVENT", "BY", ""].map(String::from);
    write_columns(&header, &rows, out)?;
    Ok(DONE)
}

pub(crate) async fn rollback(
    kind: &Kind,
    args: &RollbackArgs,
    store: &dyn RuleStore,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let version = args.version;
    let author = author(&args.author)?;
    let target = store
        .get(version)
        .await
        .map_err(store_error(kind))?
        .ok_or_else(|| store_error(kind)(RuleStoreError::NotFound(version)))?;
    let result = (kind.check)(&target.document);
    if !result.valid {
        print_load(&version.to_string(), &result, out)?;
        writeln!(
            err,
            "scimgw {}: refused: {version} does not load with this scimgw's {}s; nothing \
             changed",
            kind.command, kind.what
        )?;
        return Ok(REFUSED);
    }
    let active = store
        .active()
        .await
        .map_err(store_error(kind))?
        .map(|a| a.version);
    if active == Some(version) {
        writeln!(out, "{version} is active already; nothing changed")?;
        return Ok(DONE);
    }
    match store.activate(version, active, &author).await {
        Ok(_) => {
            let was = active.map_or_else(|| "nothing".to_owned(), |v| v.to_string());
            writeln!(out, "rolled back: {version} is active (was {was})")?;
            Ok(DONE)
        }
        Err(RuleStoreError::Conflict { .. }) => {
            let what = format!("{version} was not made active");
            conflict(kind, store, active, &what, err).await
        }
        Err(other) => Err(store_error(kind)(other)),
    }
}

/// The resource type an input names in its `schemas`.
fn kind_of(input: &Value) -> Option<ResourceKind> {
    let schemas = input.get("schemas")?.as_array()?;
    let names = |urn: &str| {
        schemas
            .iter()
            .filter_map(Value::as_str)
            .any(|s| s.eq_ignore_ascii_case(urn))
    };
    match (
        names(scim_core::USER_SCHEMA),
        names(scim_core::GROUP_SCHEMA),
    ) {
        (true, false) => Some(ResourceKind::User),
        (false, true) => Some(ResourceKind::Group),
        _ => None,
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "user",
        ResourceKind::Group => "group",
    }
}

fn scim_error(error: &ScimError) -> String {
    let kind = error
        .scim_type
        .map(|t| format!(" {}", t.as_str()))
        .unwrap_or_default();
    format!("{}{kind}: {}", error.status, error.detail)
}

/// A JSON error's kind and place, without its message (which may quote a value).
fn json_reason(e: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// The resource read as the gateway's edge reads a body, back as canonical JSON.
fn as_gateway_reads(kind: ResourceKind, input: Value) -> Result<Value, ScimError> {
    match kind {
        ResourceKind::User => User::from_value(input).map(|u| u.to_value()),
        ResourceKind::Group => Group::from_value(input).map(|g| g.to_value()),
    }
}

/// What the gateway sends Identity Center for a mapped resource: the body, and how many
/// members follow in membership changes.
fn outbound(kind: ResourceKind, mapped: Value) -> Result<(Value, usize), ScimError> {
    match kind {
        ResourceKind::User => {
            let user = outbound_user(User::from_value(mapped)?)?;
            Ok((user.to_value(), 0))
        }
        ResourceKind::Group => {
            let group = outbound_group(Group::from_value(mapped)?)?;
            let members = group.members.map_or(0, |m| m.len());
            Ok((group.group.to_value(), members))
        }
    }
}

fn test(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let path = &args.file.file;
    let label = path.display().to_string();
    let document = read_text(path)?;
    let rule_set = match RuleSet::load(&document) {
        Ok(loaded) => loaded.rule_set,
        Err(_) => {
            print_load(&label, &check_rules(&document), out)?;
            writeln!(
                err,
                "scimgw rules: refused: {} does not load",
                shown(&label, false)
            )?;
            return Ok(REFUSED);
        }
    };
    let input_label = args.input.display().to_string();
    let input: Value = serde_json::from_str(&read_text(&args.input)?)
        .map_err(|e| anyhow!("{input_label}: not JSON ({})", json_reason(&e)))?;
    if !input.is_object() {
        bail!("{input_label}: not a SCIM resource (a JSON object)");
    }
    let kind = match args.kind {
        Some(kind) => kind.into(),
        None => kind_of(&input).with_context(|| {
            format!(
                "{input_label}: its schemas name neither the core User nor the core Group \
                 schema; say --kind user or --kind group"
            )
        })?,
    };
    let what = kind_name(kind);
    let received = as_gateway_reads(kind, input).map_err(|e| {
        anyhow!(
            "{input_label}: the gateway refuses this {what} before any rule runs ({})",
            scim_error(&e)
        )
    })?;

    let outcome = rule_set.apply(kind, &received);
    let fired = if outcome.fired.is_empty() {
        "none".to_owned()
    } else {
        outcome
            .fired
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "rules fired: {}", shown(&fired, false))?;
    if let (Some(rule), Some(refusal)) = (&outcome.skipped_by, outcome.refusal()) {
        let why = match outcome.skip_reason {
            Some(SkipReason::MapTarget) => "its name is a target of the rule's map",
            _ => "skip",
        };
        writeln!(
            out,
            "skipped by {} ({why}): Identity Center receives nothing",
            shown(&rule.to_string(), false)
        )?;
        writeln!(
            out,
            "Okta is answered: {}",
            shown(&scim_error(&refusal), false)
        )?;
        return Ok(DONE);
    }
    let (body, members) = match outbound(kind, outcome.resource) {
        Ok(sent) => sent,
        Err(refusal) => {
            writeln!(
                out,
                "Identity Center receives nothing: the gateway refuses the mapped {what}"
            )?;
            writeln!(
                out,
                "Okta is answered: {}",
                shown(&scim_error(&refusal), false)
            )?;
            return Ok(DONE);
        }
    };
    let endpoint = match kind {
        ResourceKind::User => "Users",
        ResourceKind::Group => "Groups",
    };
    writeln!(out, "Identity Center receives (POST /{endpoint}):")?;
    writeln!(
        out,
        "{}",
        shown(&serde_json::to_string_pretty(&body)?, true)
    )?;
    if members > 0 {
        writeln!(
            out,
            "and then {} through PATCH /Groups/{{id}}",
            plural(members, "member")
        )?;
    }
    let attribute = read_back_attribute(kind);
    let sent = received.get(attribute).and_then(Value::as_str);
    let answer = match body.get(attribute).and_then(Value::as_str) {
        None => format!("{attribute}: none"),
        Some(stored) => match rule_set.inbound_value(kind, attribute, stored) {
            None => format!(
                "{attribute}: none; the gateway cannot tell Okta's value from the stored {stored:?}"
            ),
            Some(answered) => {
                let held = if answered == stored {
                    String::new()
                } else {
                    format!("Identity Center holds {stored:?}; ")
                };
                let relation = match sent {
                    Some(sent) if sent == answered => "what Okta sent",
                    Some(sent) if sent.to_lowercase() == answered.to_lowercase() => {
                        "what Okta sent, ignoring case"
                    }
                    _ => "not what Okta sent",
                };
                format!("{attribute} {answered:?} ({held}{relation})")
            }
        },
    };
    writeln!(out, "Okta is answered: {}", shown(&answer, false))?;
    Ok(DONE)
}
