//! `scimgw doctor`: checks a gateway step by step and says what to fix. Either a running
//! `scimgw dev`, through the file its `--info-json` wrote ([`dev`]), or a deployed stack,
//! through CloudFormation's outputs and the admin's own AWS credentials ([`stack`]).
//!
//! This file owns what both share: the options, the step and report types, what is
//! printed, and the checks both run the same way (the active rule set in a
//! [`RuleStore`], a summary of a verification's problems, the HTTP helpers). Each step
//! prints one line, `ok`, `warning` or `FAIL`, with the step's name and, when not ok,
//! the fix. No token or secret is ever printed: only statuses, URLs, names and counts.
//!
//! Exit code: 0 when every step is ok or a warning (a warning is something to look at,
//! or a step that could not be checked from here, never a broken link of the chain), 1
//! when any step fails, 2 when the check cannot run at all (the info file cannot be
//! read; the stack cannot be described).

mod dev;
mod stack;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Args};
use gateway::audit_store::VerifyReport;
use gateway::rule_store::{RuleStore, RuleStoreError};
use reqwest::StatusCode;
use serde_json::Value;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Options of `scimgw doctor`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["dev", "stack"])))]
pub struct DoctorArgs {
    /// Check a running `scimgw dev` through the file its `--info-json` wrote.
    #[arg(long, value_name = "INFO_JSON", conflicts_with = "stack")]
    dev: Option<PathBuf>,
    /// Check the deployed stack of this name, with your AWS credentials from the default
    /// chain (the README's "Check a deployed stack" lists the permissions each step
    /// needs).
    #[arg(long, value_name = "NAME")]
    stack: Option<String>,
    /// The stack's region (default: from the environment or profile).
    #[arg(long, requires = "stack")]
    region: Option<String>,
    /// The AWS endpoint, e.g. a local moto server.
    #[arg(long, value_name = "URL", requires = "stack")]
    aws_endpoint: Option<String>,
    /// With --stack: a token Okta uses (an inbound SCIM token), to call the SCIM route
    /// as Okta does. Prefer SCIMGW_DOCTOR_SCIM_TOKEN, which keeps it out of the process
    /// list and the shell history.
    #[arg(long, env = "SCIMGW_DOCTOR_SCIM_TOKEN", hide_env_values = true)]
    scim_token: Option<String>,
    /// With --stack: the event hook's shared secret, to make the verification call Okta
    /// makes. Prefer SCIMGW_DOCTOR_HOOK_SECRET.
    #[arg(long, env = "SCIMGW_DOCTOR_HOOK_SECRET", hide_env_values = true)]
    hook_secret: Option<String>,
    /// With --stack: also read the secrets' values (secretsmanager:GetSecretValue) to
    /// check their form, and call Identity Center with its token. The stack's fences
    /// refuse this to everyone but its functions and the break-glass roles, and alarm
    /// on every read: for a break-glass session only.
    #[arg(long, requires = "stack")]
    read_secrets: bool,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warning,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Fail => "FAIL",
        }
    }
}

/// One step's outcome: its name and, when not ok, what to do about it (when ok, an
/// optional note, e.g. how many days a token has left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: &'static str,
    pub status: Status,
    pub fix: Option<String>,
}

impl Step {
    fn ok(name: &'static str) -> Self {
        Self {
            name,
            status: Status::Ok,
            fix: None,
        }
    }

    /// An ok step with a note for people, printed in parentheses.
    fn ok_with(name: &'static str, note: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            fix: Some(note.into()),
        }
    }

    fn warning(name: &'static str, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warning,
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            fix: Some(fix.into()),
        }
    }

    /// The worst of several findings of one step, their texts joined; ok with `note`
    /// when there are none.
    fn worst_of(name: &'static str, findings: Vec<(Status, String)>, note: String) -> Self {
        let status = findings.iter().map(|(s, _)| *s).max().unwrap_or(Status::Ok);
        let texts: Vec<&str> = findings
            .iter()
            .filter(|(s, _)| *s == status)
            .map(|(_, t)| t.as_str())
            .collect();
        match status {
            Status::Ok if note.is_empty() => Self::ok(name),
            Status::Ok => Self::ok_with(name, note),
            Status::Warning => Self::warning(name, texts.join("; ")),
            Status::Fail => Self::fail(name, texts.join("; ")),
        }
    }

    /// The printed line: `ok       name`, `ok       name (note)`, or `FAIL     name: fix`.
    pub fn line(&self) -> String {
        let label = self.status.label();
        match (&self.fix, self.status) {
            (None, _) => format!("{label:<8} {}", self.name),
            (Some(note), Status::Ok) => format!("{label:<8} {} ({note})", self.name),
            (Some(fix), _) => format!("{label:<8} {}: {fix}", self.name),
        }
    }
}

/// The steps that ran, and whether the check could run at all.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was checked, for the summary: `scimgw dev`, `the stack NAME`.
    pub subject: String,
    pub steps: Vec<Step>,
    /// Nothing past the first step could be checked (the info file could not be read,
    /// the stack could not be described).
    pub could_not_run: bool,
}

impl Report {
    /// 0 when every step is ok or a warning, 1 when any fails, 2 when nothing could run.
    pub fn exit_code(&self) -> u8 {
        if self.could_not_run {
            2
        } else if self.steps.iter().any(|s| s.status == Status::Fail) {
            1
        } else {
            0
        }
    }
}

/// Prints each step's line and a summary.
fn print(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    for step in &report.steps {
        writeln!(out, "{}", step.line())?;
    }
    let failed = report
        .steps
        .iter()
        .filter(|s| s.status == Status::Fail)
        .count();
    if report.could_not_run {
        writeln!(out, "scimgw doctor: could not run")?;
    } else if failed == 0 {
        writeln!(out, "scimgw doctor: {} is healthy", report.subject)?;
    } else {
        writeln!(out, "scimgw doctor: {failed} step(s) failed")?;
    }
    Ok(())
}

/// Runs `scimgw doctor`.
pub async fn run(args: DoctorArgs) -> ExitCode {
    let report = match (&args.dev, &args.stack) {
        (Some(path), _) => dev::check_dev(path).await,
        (None, Some(name)) => {
            stack::check_stack(&stack::StackCheck {
                name: name.clone(),
                region: args.region.clone(),
                aws_endpoint: args.aws_endpoint.clone(),
                scim_token: args.scim_token.clone().filter(|t| !t.is_empty()),
                hook_secret: args.hook_secret.clone().filter(|t| !t.is_empty()),
                read_secrets: args.read_secrets,
            })
            .await
        }
        // clap requires one of the two.
        (None, None) => Report {
            subject: String::new(),
            steps: vec![Step::fail(
                "options",
                "give --dev INFO_JSON or --stack NAME",
            )],
            could_not_run: true,
        },
    };
    let mut stdout = std::io::stdout().lock();
    let _ = print(&report, &mut stdout);
    let _ = stdout.flush();
    ExitCode::from(report.exit_code())
}

// ---------------------------------------------------------------------------------------
// HTTP

/// The HTTP client of the checks, with `timeout` for each request all told.
fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .user_agent(concat!("scimgw-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .ok()
}

/// An answer, or why there was none (never holding a token: reqwest's errors name the
/// URL only, and the URLs carry no credentials).
type Answer = Result<(StatusCode, Option<Value>), String>;

/// A GET of `url` with `headers`, its JSON body if it has one.
async fn get_with(http: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer from {url} in time")
        } else if e.is_connect() {
            format!("nothing answers at {url}")
        } else {
            format!("the request to {url} failed")
        }
    })?;
    let status = response.status();
    let body = response.json::<Value>().await.ok();
    Ok((status, body))
}

/// A GET of `url` with a bearer token.
async fn get(http: &reqwest::Client, url: &str, token: &str) -> Answer {
    get_with(http, url, &[("authorization", &format!("Bearer {token}"))]).await
}

fn is_service_provider_config(body: &Value) -> bool {
    body["schemas"].as_array().is_some_and(|schemas| {
        schemas
            .iter()
            .any(|s| s == "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig")
    })
}

// ---------------------------------------------------------------------------------------
// Checks both modes run

const STEP_RULES: &str = "active rule set";

/// The active rule set in `store` (the state table), loaded as the functions load it
/// (`gateway::rules::StoredRules`) and validated as `scimgw rules validate` does.
/// `flags` are the options that point `scimgw rules` at the same table.
async fn check_rule_store(store: &dyn RuleStore, flags: &str) -> Step {
    let active = match store.active().await {
        Ok(active) => active,
        Err(RuleStoreError::Unavailable(_)) => {
            return Step::fail(
                STEP_RULES,
                "the state table could not be read (dynamodb:GetItem and Query on the \
                 stack's StateTableName)",
            );
        }
        Err(other) => {
            return Step::fail(
                STEP_RULES,
                format!("the state table's rule sets could not be read: {other}"),
            );
        }
    };
    let Some(active) = active else {
        return Step::ok_with(
            STEP_RULES,
            "none activated: attributes pass through unchanged",
        );
    };
    match ::rules::RuleSet::load(&active.document) {
        Ok(loaded) if loaded.warnings.is_empty() => {
            Step::ok_with(STEP_RULES, format!("{} loads", active.version))
        }
        Ok(loaded) => Step::warning(
            STEP_RULES,
            format!(
                "{} loads with {} warning(s): see `scimgw rules diff` or `scimgw rules \
                 validate` on its document",
                active.version,
                loaded.warnings.len()
            ),
        ),
        Err(invalid) => {
            let errors = invalid.errors().count();
            let first = invalid
                .errors()
                .next()
                .map(|p| format!(" (first: {})", one_line(&p.to_string())))
                .unwrap_or_default();
            Step::fail(
                STEP_RULES,
                format!(
                    "the active rule set {} does not load: {errors} error(s){first}; the \
                     gateway refuses every change under it. Make a version that loads \
                     active again: `scimgw rules list {flags}` shows them, `scimgw rules \
                     rollback VERSION {flags}` switches, or fix the document and `scimgw \
                     rules apply FILE {flags}`",
                    active.version
                ),
            )
        }
    }
}

/// Text on one line, control characters shown as `?`.
fn one_line(text: &str) -> String {
    crate::rules::shown(&crate::rules::one_line(text), false)
}

/// The problems of a verification, as `deleted record <id>; altered seal <hour>` (the
/// first three, and how many more).
fn problems_summary(report: &VerifyReport) -> String {
    const SHOWN: usize = 3;
    let named: Vec<String> = report
        .problems
        .iter()
        .take(SHOWN)
        .map(|p| {
            let kind = serde_json::to_value(p.kind).unwrap_or_default();
            let subject = serde_json::to_value(p.subject).unwrap_or_default();
            let which = p
                .record_id
                .as_deref()
                .or(p.seal.as_deref())
                .or(p.chain.as_deref())
                .unwrap_or("");
            one_line(&format!(
                "{} {} {which}",
                kind.as_str().unwrap_or("?"),
                subject.as_str().unwrap_or("?").replace('_', " ")
            ))
        })
        .collect();
    let more = report.problems.len().saturating_sub(SHOWN);
    let mut text = format!("{} problem(s): {}", report.problems.len(), named.join("; "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gateway::audit_store::{ProblemKind, ProblemSubject, VerifyProblem};
    use gateway::rule_store::{InMemoryRuleStore, NewRuleSet};

    use super::*;

    fn problem(kind: ProblemKind, subject: ProblemSubject, id: &str) -> VerifyProblem {
        VerifyProblem {
            kind,
            subject,
            record_id: (subject == ProblemSubject::Record).then(|| id.to_owned()),
            chain: None,
            seq: None,
            belongs_at: None,
            seal: (subject == ProblemSubject::Seal).then(|| id.to_owned()),
            location: None,
            detail: "d".into(),
        }
    }

    #[test]
    fn a_summary_names_the_first_problems_and_counts_the_rest() {
        let report = VerifyReport {
            intact: false,
            checked: 9,
            chains: 1,
            problems: vec![
                problem(ProblemKind::Deleted, ProblemSubject::Record, "c1:2"),
                problem(ProblemKind::Altered, ProblemSubject::Seal, "20261201T10"),
                problem(ProblemKind::Deleted, ProblemSubject::Record, "c1:3"),
                problem(ProblemKind::Inserted, ProblemSubject::Record, "c1:9"),
            ],
            notes: vec![],
        };
        assert_eq!(
            problems_summary(&report),
            "4 problem(s): deleted record c1:2; altered seal 20261201T10; deleted record \
             c1:3 and 1 more"
        );
    }

    #[test]
    fn a_step_line_shows_a_note_when_ok_and_the_fix_otherwise() {
        assert_eq!(Step::ok("a").line(), "ok       a");
        assert_eq!(Step::ok_with("a", "3 days").line(), "ok       a (3 days)");
        assert_eq!(Step::warning("a", "look").line(), "warning  a: look");
        let worst = Step::worst_of(
            "a",
            vec![
                (Status::Warning, "w".into()),
                (Status::Fail, "f1".into()),
                (Status::Fail, "f2".into()),
            ],
            "unused".into(),
        );
        assert_eq!(worst.line(), "FAIL     a: f1; f2");
    }

    #[tokio::test]
    async fn the_rule_step_passes_a_loading_set_and_fails_one_that_does_not_load() {
        // Arrange: an active set that loads, then one that does not, saved as an older
        // scimgw or a hand edit could have (the store does not validate).
        let store = InMemoryRuleStore::new(Arc::new(gateway::SystemClock));
        let none = check_rule_store(&store, "--table t").await;
        let new = |document: &str| NewRuleSet {
            document: document.to_owned(),
            author: "admin".into(),
            note: None,
        };
        let good = store
            .put_version(new(include_str!("../../examples/rules/group-prefix.yaml")))
            .await
            .unwrap();
        store.activate(good, None, "admin").await.unwrap();
        let loads = check_rule_store(&store, "--table t").await;
        let bad = store
            .put_version(new("users:\n  - set:\n      password: 'x'\n"))
            .await
            .unwrap();
        store.activate(bad, Some(good), "admin").await.unwrap();

        // Act
        let broken = check_rule_store(&store, "--table t").await;

        // Assert
        assert_eq!(none.status, Status::Ok);
        assert_eq!(loads.status, Status::Ok, "{loads:?}");
        assert_eq!(broken.status, Status::Fail);
        let fix = broken.fix.unwrap();
        assert!(fix.contains("v2 does not load"), "{fix}");
        assert!(
            fix.contains("scimgw rules rollback VERSION --table t"),
            "{fix}"
        );
    }
}
