//! `scimgw doctor --dev INFO_JSON`: checks a running `scimgw dev` step by step, from the
//! file its `--info-json` wrote, and says what to fix. Each step prints one line, `ok`,
//! `warning` or `FAIL`, with the step's name and, when not ok, the fix. No token or secret
//! is ever printed: only statuses, URLs and counts.
//!
//! Exit code: 0 when every step is ok or a warning, 1 when any step fails, 2 when the
//! check cannot run at all (the info file cannot be read).
//!
//! The AWS mode (against a deployed stack) is not built yet.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long one check may take, all told.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting may take: everything is on loopback.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The keys `scimgw dev --info-json` writes; `emulator_url` and `emulator_token` are null
/// when another target is used.
const KEYS: [&str; 8] = [
    "scim_url",
    "scim_token",
    "emulator_url",
    "emulator_token",
    "target_url",
    "audit_url",
    "auditor_token",
    "rules_version",
];

/// Options of `scimgw doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Check a running `scimgw dev` through the file its `--info-json` wrote.
    #[arg(long, value_name = "INFO_JSON")]
    dev: PathBuf,
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One step's outcome: its name and, when not ok, what to do about it.
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

    /// The printed line: `ok       name`, or `FAIL     name: fix`.
    pub fn line(&self) -> String {
        let label = self.status.label();
        match &self.fix {
            None => format!("{label:<8} {}", self.name),
            Some(fix) => format!("{label:<8} {}: {fix}", self.name),
        }
    }
}

/// The steps that ran, and whether the check could run at all.
#[derive(Debug, Clone)]
pub struct Report {
    pub steps: Vec<Step>,
    /// The info file could not be read: nothing else was checked.
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

const STEP_INFO: &str = "info file";
const STEP_SCIM: &str = "SCIM route and inbound token";
const STEP_TARGET: &str = "target accepts its token";
const STEP_END_TO_END: &str = "gateway reaches the target";
const STEP_RULES: &str = "active rule set";
const STEP_AUDIT: &str = "audit trail over the last day";

/// What the info file holds (the emulator's URL and token are absent with `--target`).
struct Info {
    scim_url: String,
    scim_token: String,
    emulator_token: Option<String>,
    emulator_url: Option<String>,
    target_url: String,
    audit_url: String,
    auditor_token: String,
    rules_version: String,
}

/// Reads the info file: `Err(None)` when it cannot be read, `Err(Some(step))` when it is
/// not what `scimgw dev --info-json` writes.
fn read_info(path: &Path) -> Result<Info, Option<Step>> {
    let text = std::fs::read_to_string(path).map_err(|_| None)?;
    let rewrite = "restart `scimgw dev --info-json PATH` and point doctor at that file";
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) else {
        return Err(Some(Step::fail(
            STEP_INFO,
            format!("{} is not a JSON object; {rewrite}", path.display()),
        )));
    };
    let missing: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| !map.contains_key(*k))
        .collect();
    let text_of = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    let required = [
        "scim_url",
        "scim_token",
        "target_url",
        "audit_url",
        "auditor_token",
        "rules_version",
    ];
    let empty: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k) && text_of(k).is_none_or(|v| v.is_empty()))
        .collect();
    if !missing.is_empty() || !empty.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("missing {}", missing.join(", ")));
        }
        if !empty.is_empty() {
            problems.push(format!("empty or not text: {}", empty.join(", ")));
        }
        return Err(Some(Step::fail(
            STEP_INFO,
            format!("{} ({}); {rewrite}", path.display(), problems.join("; ")),
        )));
    }
    let get = |key: &str| text_of(key).unwrap_or_default();
    Ok(Info {
        scim_url: get("scim_url").trim_end_matches('/').to_owned(),
        scim_token: get("scim_token"),
        emulator_url: text_of("emulator_url").map(|u| u.trim_end_matches('/').to_owned()),
        emulator_token: text_of("emulator_token"),
        target_url: get("target_url").trim_end_matches('/').to_owned(),
        audit_url: get("audit_url").trim_end_matches('/').to_owned(),
        auditor_token: get("auditor_token"),
        rules_version: get("rules_version"),
    })
}

/// An answer, or why there was none (never holding a token: reqwest's errors name the
/// URL only, and the URLs carry no credentials).
type Answer = Result<(StatusCode, Option<Value>), String>;

async fn get(http: &reqwest::Client, url: &str, token: &str) -> Answer {
    let response = http.get(url).bearer_auth(token).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer from {url} within {REQUEST_TIMEOUT:?}")
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

fn not_running(why: &str) -> String {
    format!("{why}: is `scimgw dev` still running? Start it with `scimgw dev --info-json PATH`")
}

/// Runs every step against the `scimgw dev` the file at `path` describes.
pub async fn check_dev(path: &Path) -> Report {
    let info = match read_info(path) {
        Ok(info) => info,
        Err(None) => {
            return Report {
                steps: vec![Step::fail(
                    STEP_INFO,
                    format!(
                        "{} cannot be read; start `scimgw dev --info-json {}` first",
                        path.display(),
                        path.display()
                    ),
                )],
                could_not_run: true,
            };
        }
        Err(Some(step)) => {
            return Report {
                steps: vec![step],
                could_not_run: false,
            };
        }
    };
    let http = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("scimgw-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(http) => http,
        Err(_) => {
            return Report {
                steps: vec![Step::fail(STEP_INFO, "the HTTP client could not be built")],
                could_not_run: true,
            };
        }
    };

    let mut steps = vec![Step::ok(STEP_INFO)];
    steps.push(check_scim(&http, &info).await);
    let target = check_target(&http, &info).await;
    let target_failed = target.status == Status::Fail;
    steps.push(target);
    steps.push(check_end_to_end(&http, &info, target_failed).await);
    steps.push(check_rules(&http, &info).await);
    steps.push(check_audit(&http, &info).await);
    Report {
        steps,
        could_not_run: false,
    }
}

const WRONG_SCIM_TOKEN: &str = "the gateway refuses the inbound token (401): use the file's \
     scim_token (Okta's \"API Token\"), or the file is from an earlier run of scimgw dev";

async fn check_scim(http: &reqwest::Client, info: &Info) -> Step {
    let url = format!("{}/ServiceProviderConfig", info.scim_url);
    match get(http, &url, &info.scim_token).await {
        Err(why) => Step::fail(STEP_SCIM, not_running(&why)),
        Ok((StatusCode::OK, Some(body))) if is_service_provider_config(&body) => {
            Step::ok(STEP_SCIM)
        }
        Ok((StatusCode::OK, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "{url} answered 200 but not with a SCIM ServiceProviderConfig: is scim_url the gateway's SCIM base URL?"
            ),
        ),
        Ok((StatusCode::UNAUTHORIZED, _)) => Step::fail(STEP_SCIM, WRONG_SCIM_TOKEN),
        Ok((status, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "{url} answered {status}: is scim_url the gateway's SCIM base URL (…/scim/v2)?"
            ),
        ),
    }
}

fn is_service_provider_config(body: &Value) -> bool {
    body["schemas"].as_array().is_some_and(|schemas| {
        schemas
            .iter()
            .any(|s| s == "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig")
    })
}

async fn check_target(http: &reqwest::Client, info: &Info) -> Step {
    let (Some(token), Some(emulator_url)) = (&info.emulator_token, &info.emulator_url) else {
        return Step::warning(
            STEP_TARGET,
            "not checked: the target is not the embedded emulator and the info file does \
             not hold its token (step 4 still exercises it)",
        );
    };
    if emulator_url != &info.target_url {
        return Step::warning(
            STEP_TARGET,
            "not checked: target_url is not the embedded emulator's URL",
        );
    }
    let url = format!("{}/ServiceProviderConfig", info.target_url);
    match get(http, &url, token).await {
        Err(why) => Step::fail(
            STEP_TARGET,
            format!("{why}: the embedded emulator is not answering; restart scimgw dev"),
        ),
        Ok((StatusCode::OK, _)) => Step::ok(STEP_TARGET),
        Ok((StatusCode::UNAUTHORIZED, _)) => Step::fail(
            STEP_TARGET,
            "the target refuses the gateway's token (401): the Identity Center token was \
             rotated and the gateway's copy is stale; restart scimgw dev (or set the \
             emulator's tokens back with PUT /_emulator/tokens). In AWS: put the new token \
             in the stack's IdentityCenterTokenSecret",
        ),
        Ok((status, _)) => Step::fail(
            STEP_TARGET,
            format!("the target answered {status}: see its log (RUST_LOG=debug)"),
        ),
    }
}

async fn check_end_to_end(http: &reqwest::Client, info: &Info, target_failed: bool) -> Step {
    let url = format!("{}/Users?count=1", info.scim_url);
    match get(http, &url, &info.scim_token).await {
        Err(why) => Step::fail(STEP_END_TO_END, not_running(&why)),
        Ok((StatusCode::OK, _)) => Step::ok(STEP_END_TO_END),
        Ok((StatusCode::UNAUTHORIZED, _)) => Step::fail(STEP_END_TO_END, WRONG_SCIM_TOKEN),
        Ok((status, _)) if status.is_server_error() && target_failed => Step::fail(
            STEP_END_TO_END,
            format!(
                "the gateway answered {status}: its calls to the target are refused, which \
                 confirms the stale target token (fix step 3)"
            ),
        ),
        Ok((status, _)) => Step::fail(
            STEP_END_TO_END,
            format!(
                "the gateway answered {status} to a one-user list: see scimgw dev's log \
                 (RUST_LOG=debug) for the target's answer"
            ),
        ),
    }
}

async fn check_rules(http: &reqwest::Client, info: &Info) -> Step {
    let url = format!("{}/Schemas", info.scim_url);
    let schemas = get(http, &url, &info.scim_token).await;
    let schemas_fix = match schemas {
        Ok((StatusCode::OK, Some(_))) => None,
        Ok((StatusCode::UNAUTHORIZED, _)) => Some(WRONG_SCIM_TOKEN.to_owned()),
        Ok((status, _)) => Some(format!("{url} answered {status} instead of the schemas")),
        Err(why) => Some(not_running(&why)),
    };
    match schemas_fix {
        Some(fix) => Step::fail(STEP_RULES, fix),
        None if info.rules_version == gateway::rules::IDENTITY_VERSION => Step::warning(
            STEP_RULES,
            "no rules active (identity): attributes pass through unchanged; start scimgw \
             dev with --rules FILE to try a rule set",
        ),
        None => Step::ok(STEP_RULES),
    }
}

async fn check_audit(http: &reqwest::Client, info: &Info) -> Step {
    let since = (OffsetDateTime::now_utc() - time::Duration::days(1))
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc() - time::Duration::days(1));
    let Ok(since) = since.format(&Rfc3339) else {
        return Step::fail(STEP_AUDIT, "the period could not be formatted");
    };
    let url = format!("{}/verify?since={since}", info.audit_url);
    match get(http, &url, &info.auditor_token).await {
        Err(why) => Step::fail(STEP_AUDIT, not_running(&why)),
        Ok((StatusCode::OK, Some(body))) => match body["intact"].as_bool() {
            Some(true) => Step::ok(STEP_AUDIT),
            Some(false) => {
                let problems = body["problems"].as_array().map_or(0, Vec::len);
                Step::fail(
                    STEP_AUDIT,
                    format!(
                        "the trail since {since} is not intact ({problems} problem(s)): see \
                         `scimgw audit verify --api AUDIT_URL --since {since}` for each"
                    ),
                )
            }
            None => Step::fail(
                STEP_AUDIT,
                "the verify answer has no `intact`: is audit_url the audit API (…/audit)?",
            ),
        },
        Ok((StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _)) => Step::fail(
            STEP_AUDIT,
            "the audit API refuses the auditor token: it lasts 12 hours; restart scimgw dev \
             for a new one",
        ),
        Ok((status, _)) => Step::fail(
            STEP_AUDIT,
            format!("the audit API answered {status}: is audit_url the audit API (…/audit)?"),
        ),
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
        writeln!(out, "scimgw doctor: scimgw dev is healthy")?;
    } else {
        writeln!(out, "scimgw doctor: {failed} step(s) failed")?;
    }
    Ok(())
}

/// Runs `scimgw doctor`.
pub async fn run(args: DoctorArgs) -> ExitCode {
    let report = check_dev(&args.dev).await;
    let mut stdout = std::io::stdout().lock();
    let _ = print(&report, &mut stdout);
    let _ = stdout.flush();
    ExitCode::from(report.exit_code())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::dev::{DevArgs, DevServer, write_info_json};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: DevArgs,
    }

    async fn dev(name: &str) -> (DevServer, PathBuf) {
        let args = Wrapper::try_parse_from(["x", "--listen", "127.0.0.1:0"])
            .unwrap()
            .args;
        let server = DevServer::start(args).await.unwrap();
        let path =
            std::env::temp_dir().join(format!("scimgw-doctor-{name}-{}.json", std::process::id()));
        write_info_json(&path, server.info()).unwrap();
        (server, path)
    }

    fn printed(report: &Report) -> String {
        let mut out = Vec::new();
        print(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn assert_no_secret(text: &str, server: &DevServer) {
        let info = server.info();
        for secret in [
            info.scim_token.as_str(),
            info.emulator_token.as_deref().unwrap(),
            info.auditor_token.as_str(),
        ] {
            assert!(!text.contains(secret), "a token was printed:\n{text}");
        }
    }

    #[tokio::test]
    async fn a_healthy_dev_passes_every_step() {
        // Arrange
        let (server, path) = dev("healthy").await;

        // Act
        let report = check_dev(&path).await;

        // Assert
        let text = printed(&report);
        assert_eq!(report.exit_code(), 0, "{text}");
        assert_eq!(report.steps.len(), 6, "{text}");
        assert!(
            report.steps.iter().all(|s| s.status != Status::Fail),
            "{text}"
        );
        // The identity rules are in force: a warning, not a failure.
        assert_eq!(report.steps[4].status, Status::Warning, "{text}");
        assert!(text.lines().next().unwrap().starts_with("ok "), "{text}");
        assert_no_secret(&text, &server);
        server.shutdown().await.unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_rotated_target_token_fails_step_three_with_the_fix() {
        // Arrange
        let (server, path) = dev("rotated").await;
        let info = server.info().clone();
        let mut admin = reqwest::Url::parse(info.emulator_url.as_deref().unwrap()).unwrap();
        admin.set_path("/_emulator/tokens");
        let rotated = reqwest::Client::new()
            .put(admin)
            .bearer_auth(info.emulator_token.as_deref().unwrap())
            .json(&serde_json::json!({"tokens": ["rotated-token-not-known-to-the-gateway"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), 204);

        // Act
        let report = check_dev(&path).await;

        // Assert
        let text = printed(&report);
        assert_eq!(report.exit_code(), 1, "{text}");
        let target = &report.steps[2];
        assert_eq!(target.name, STEP_TARGET);
        assert_eq!(target.status, Status::Fail, "{text}");
        let fix = target.fix.as_deref().unwrap();
        assert!(fix.contains("rotated") && fix.contains("stale"), "{fix}");
        assert!(fix.contains("IdentityCenterTokenSecret"), "{fix}");
        assert_eq!(report.steps[1].status, Status::Ok, "{text}");
        assert_eq!(report.steps[3].status, Status::Fail, "{text}");
        assert!(
            report.steps[3].fix.as_deref().unwrap().contains("step 3"),
            "{text}"
        );
        assert!(
            text.contains("FAIL     target accepts its token: "),
            "{text}"
        );
        assert!(!text.contains("rotated-token-not-known"), "{text}");
        assert_no_secret(&text, &server);
        server.shutdown().await.unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_missing_info_file_cannot_run() {
        let path =
            std::env::temp_dir().join(format!("scimgw-doctor-missing-{}.json", std::process::id()));
        let report = check_dev(&path).await;
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.steps[0].status, Status::Fail);
        assert!(printed(&report).contains("cannot be read"));
    }

    #[tokio::test]
    async fn an_info_file_missing_keys_fails_step_one_and_names_them() {
        let path =
            std::env::temp_dir().join(format!("scimgw-doctor-partial-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"scim_url": "http://127.0.0.1:1/scim/v2", "scim_token": "s"}"#,
        )
        .unwrap();
        let report = check_dev(&path).await;
        let text = printed(&report);
        assert_eq!(report.exit_code(), 1, "{text}");
        assert!(text.contains("missing emulator_url"), "{text}");
        assert!(text.contains("auditor_token"), "{text}");
        let _ = std::fs::remove_file(path);
    }
}
