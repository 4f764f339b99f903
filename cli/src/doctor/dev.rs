//! `scimgw doctor --dev INFO_JSON`: checks a running `scimgw dev` step by step, from the
//! file its `--info-json` wrote: the info file, the SCIM route and inbound token, the
//! target's token, the gateway's path to the target, the active rule set (and, with
//! `scimgw dev --stored-rules`, the state table's active document), and the last day of
//! the audit trail through dev's audit API.

use std::path::Path;
use std::time::Duration;

use gateway::audit_store::VerifyReport;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    Report, STEP_RULES, Status, Step, check_rule_store, get, http_client,
    is_service_provider_config, problems_summary,
};

/// How long one check may take, all told: everything is on loopback.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What the summary calls the thing checked.
const SUBJECT: &str = "scimgw dev";

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

const STEP_INFO: &str = "info file";
const STEP_SCIM: &str = "SCIM route and inbound token";
const STEP_TARGET: &str = "target accepts its token";
const STEP_END_TO_END: &str = "gateway reaches the target";
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
    /// With `--aws-endpoint`: where the state table is (for `--stored-rules`).
    aws_endpoint: Option<String>,
    region: Option<String>,
    state_table: Option<String>,
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
        aws_endpoint: text_of("aws_endpoint"),
        region: text_of("region"),
        state_table: text_of("state_table"),
    })
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
                subject: SUBJECT.to_owned(),
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
                subject: SUBJECT.to_owned(),
                steps: vec![step],
                could_not_run: false,
            };
        }
    };
    let http = match http_client(REQUEST_TIMEOUT) {
        Some(http) => http,
        None => {
            return Report {
                subject: SUBJECT.to_owned(),
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
        subject: SUBJECT.to_owned(),
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
        None if info.rules_version == crate::dev::STORED_RULES_VERSION => {
            check_stored_rules(info).await
        }
        None if info.rules_version == gateway::rules::IDENTITY_VERSION => Step::warning(
            STEP_RULES,
            "no rules active (identity): attributes pass through unchanged; start scimgw \
             dev with --rules FILE to try a rule set",
        ),
        None => Step::ok(STEP_RULES),
    }
}

/// `scimgw dev --stored-rules`: the state table's active rule set, read and judged as
/// against a stack.
async fn check_stored_rules(info: &Info) -> Step {
    let (Some(endpoint), Some(table)) = (&info.aws_endpoint, &info.state_table) else {
        return Step::fail(
            STEP_RULES,
            "the info file says the rules are stored but names no aws_endpoint and \
             state_table; restart scimgw dev --aws-endpoint URL --stored-rules",
        );
    };
    let place = crate::rules::StoreArgs {
        table: Some(table.clone()),
        aws_endpoint: Some(endpoint.clone()),
        region: info.region.clone(),
    };
    let store = match crate::rules::open_store(&place).await {
        Ok(store) => store,
        Err(error) => {
            return Step::fail(
                STEP_RULES,
                format!("the state table cannot be opened: {error:#}"),
            );
        }
    };
    let mut flags = format!("--table {table} --aws-endpoint {endpoint}");
    if let Some(region) = &info.region {
        flags.push_str(&format!(" --region {region}"));
    }
    check_rule_store(&store, &flags).await
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
        Ok((StatusCode::OK, Some(body))) => match serde_json::from_value::<VerifyReport>(body) {
            Ok(report) if report.intact => Step::ok(STEP_AUDIT),
            Ok(report) => Step::fail(
                STEP_AUDIT,
                format!(
                    "the trail since {since} is not intact, {}: see `scimgw audit verify \
                     --api AUDIT_URL --since {since}` for each",
                    problems_summary(&report)
                ),
            ),
            Err(_) => Step::fail(
                STEP_AUDIT,
                "the verify answer is not a verification report: is audit_url the audit \
                 API (…/audit)?",
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use std::path::PathBuf;

    use super::*;
    use crate::dev::{DevArgs, DevServer, write_info_json};
    use crate::doctor::print;

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
