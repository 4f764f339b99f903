//! `scimgw sync plan|apply` as an admin runs it: the real binary against the Okta and
//! Identity Center emulators started here with drift between them, through a dev-style
//! info JSON, and once against a stack's tables in moto.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

const OKTA_TOKEN: &str = "okta-token-for-sync-tests";
const IC_TOKEN: &str = "ic-token-for-sync-tests";

const ADA: &str = "00u1ada1ada1ada1ada1";
const BOB: &str = "00u1bob1bob1bob1bob1";
const CAROL: &str = "00u1car1car1car1car1";
const ENG: &str = "00g1eng1eng1eng1eng1";

/// Both sides, running, and a scratch directory with the info JSON.
struct Sides {
    okta: okta_emulator::RunningEmulator,
    ic: ic_emulator::RunningEmulator,
    dir: PathBuf,
    info: PathBuf,
}

fn okta_user(id: &str, login: &str, status: &str) -> Value {
    let mut user = okta_emulator::Seed::user_object(id, login);
    user["status"] = json!(status);
    user
}

/// Okta holds `users` (id, login, status) and `groups` (id, name, members); Identity
/// Center holds `ic_users` (userName, externalId).
async fn sides(
    users: &[(&str, &str, &str)],
    groups: &[(&str, &str, &[&str])],
    ic_users: &[(&str, Option<&str>)],
) -> Sides {
    let seed = okta_emulator::Seed {
        users: users
            .iter()
            .map(|(id, login, status)| okta_user(id, login, status))
            .collect(),
        groups: groups
            .iter()
            .map(|(id, name, _)| okta_emulator::Seed::group_object(id, name))
            .collect(),
        memberships: groups
            .iter()
            .map(|(id, _, members)| {
                (
                    (*id).to_owned(),
                    members.iter().map(|m| (*m).to_owned()).collect(),
                )
            })
            .collect(),
        ..okta_emulator::Seed::default()
    };
    let okta = okta_emulator::Emulator::start(
        okta_emulator::EmulatorConfig::new(OKTA_TOKEN).with_seed(seed),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let ic =
        ic_emulator::Emulator::start(ic_emulator::EmulatorConfig::new(IC_TOKEN), "127.0.0.1:0")
            .await
            .unwrap();
    let http = reqwest::Client::new();
    for (user_name, external_id) in ic_users {
        let local = user_name.split('@').next().unwrap();
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": local, "familyName": "Seeded"},
            "displayName": format!("{local} Seeded"),
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "active": true,
        });
        if let Some(external_id) = external_id {
            body["externalId"] = json!(external_id);
        }
        let created = http
            .post(format!("{}/Users", ic.base_url()))
            .bearer_auth(IC_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    }
    let dir = std::env::temp_dir().join(test_services::unique_name("scimgw-sync"));
    std::fs::create_dir_all(&dir).unwrap();
    let info = dir.join("dev-info.json");
    std::fs::write(
        &info,
        json!({
            "scim_url": "http://127.0.0.1:1/scim/v2",
            "target_url": ic.base_url(),
            "emulator_url": ic.base_url(),
            "emulator_token": IC_TOKEN,
            "okta_url": okta.base_url(),
            "okta_token": OKTA_TOKEN,
            "rules_version": "identity",
        })
        .to_string(),
    )
    .unwrap();
    Sides {
        okta,
        ic,
        dir,
        info,
    }
}

/// The usual drift: Ada and Bob (in Engineering) are in Okta only; Carol, deactivated
/// in Okta, is still active in Identity Center; a break-glass user made by hand there.
async fn drift() -> Sides {
    sides(
        &[
            (ADA, "ada@example.com", "ACTIVE"),
            (BOB, "bob@example.com", "ACTIVE"),
            (CAROL, "carol@example.com", "DEPROVISIONED"),
        ],
        &[(ENG, "Engineering", &[ADA, BOB])],
        &[
            ("carol@example.com", Some(CAROL)),
            ("breakglass@example.com", None),
        ],
    )
    .await
}

impl Sides {
    /// Runs `scimgw sync <args>` against these sides (through `--dev`).
    async fn sync(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(["--dev".to_owned(), self.info.display().to_string()]);
        scimgw(all, &[]).await
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn user(&self, user_name: &str) -> Option<ic_emulator::UserSnapshot> {
        self.ic
            .emulator()
            .users()
            .into_iter()
            .find(|u| u.user_name == user_name)
    }

    /// Identity Center holds what Okta holds: Ada and Bob managed and in Engineering,
    /// Carol inactive, the break-glass user untouched.
    fn assert_converged(&self) {
        let ada = self.user("ada@example.com").expect("ada was created");
        let bob = self.user("bob@example.com").expect("bob was created");
        assert_eq!(ada.external_id.as_deref(), Some(ADA));
        assert_eq!(bob.external_id.as_deref(), Some(BOB));
        assert!(ada.active && bob.active);
        assert!(
            !self.user("carol@example.com").unwrap().active,
            "carol deactivated"
        );
        let breakglass = self.user("breakglass@example.com").unwrap();
        assert!(breakglass.active && breakglass.external_id.is_none());
        let groups = self.ic.emulator().groups();
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].display_name, "Engineering");
        assert_eq!(groups[0].external_id.as_deref(), Some(ENG));
        let mut members = groups[0].members.clone();
        members.sort();
        let mut expected = vec![ada.id, bob.id];
        expected.sort();
        assert_eq!(members, expected);
    }

    async fn shutdown(self) {
        self.okta.shutdown().await;
        self.ic.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn scimgw(args: Vec<String>, env: &[(&str, &str)]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .arg("sync")
            .args(&args)
            .env_remove("SCIMGW_STATE_TABLE")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .env_remove("SCIMGW_AUDIT_MAC_KEY")
            .env_remove("SCIMGW_OKTA_TOKEN")
            .env_remove("SCIMGW_TARGET_TOKEN")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("RUST_LOG", "warn")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn plan_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(output), stderr(output)))
}

/// The changes as `action type name [member]`, sorted.
fn changes(plan: &Value) -> Vec<String> {
    let mut changes: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut text = format!(
                "{} {} {}",
                c["action"].as_str().unwrap(),
                c["resource_type"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            );
            if let Some(member) = c["member"]["name"].as_str() {
                text.push_str(&format!(" {member}"));
            }
            text
        })
        .collect();
    changes.sort();
    changes
}

const EXPECTED: [&str; 6] = [
    "add_member Group Engineering ada@example.com",
    "add_member Group Engineering bob@example.com",
    "create Group Engineering",
    "create User ada@example.com",
    "create User bob@example.com",
    "deactivate User carol@example.com",
];

/// The reconcile outcome records an apply wrote to stderr (`--dev`), for its run.
fn audit_lines(output: &Output) -> Vec<Value> {
    reconcile_lines(output)
        .into_iter()
        .filter(|r| r["outcome"] != "intent")
        .collect()
}

/// The intent records an apply wrote to stderr before its changes.
fn intent_lines(output: &Output) -> Vec<Value> {
    reconcile_lines(output)
        .into_iter()
        .filter(|r| r["outcome"] == "intent")
        .collect()
}

fn reconcile_lines(output: &Output) -> Vec<Value> {
    stderr(output)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["source"]["kind"] == "reconcile")
        .collect()
}

/// Removes the plan a fresh apply saved in the OS temp directory, and its progress.
fn remove_saved_plan(output: &Output) {
    let out = stdout(output);
    let Some(path) = out
        .lines()
        .find_map(|l| l.strip_prefix("plan saved to "))
        .and_then(|l| l.split(';').next())
    else {
        return;
    };
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(format!("{path}.progress"));
}

fn run_id(output: &Output) -> String {
    stdout(output)
        .lines()
        .find_map(|l| l.strip_prefix("scimgw sync apply: run "))
        .expect("the run id is printed")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn plan_apply_and_plan_again_converge_identity_center() {
    let sides = drift().await;

    // Plan: the drift, as changes; nothing is changed yet.
    let planned = sides.sync(&["plan", "--format", "json"]).await;
    assert_exit(&planned, 2);
    let plan = plan_json(&planned);
    assert_eq!(changes(&plan), EXPECTED);
    assert!(plan["refused"].is_null());
    assert_eq!(plan["rule_set_version"], "identity");
    assert!(plan["cost"]["target_calls"].as_u64().unwrap() >= 2);
    assert!(
        plan["left_alone"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "breakglass@example.com"),
        "{plan}"
    );
    assert!(sides.user("ada@example.com").is_none());

    // The table says the same.
    let table = sides.sync(&["plan"]).await;
    assert_exit(&table, 2);
    let text = stdout(&table);
    assert!(text.contains("deactivate"), "{text}");
    assert!(text.contains("Left alone (1):"), "{text}");
    assert!(text.contains("Plan: 6 changes"), "{text}");
    assert!(text.contains("Identity Center calls"), "{text}");
    assert!(!text.contains(IC_TOKEN) && !text.contains(OKTA_TOKEN));

    // Apply: every change, each audited under the run's id.
    let applied = sides.sync(&["apply"]).await;
    assert_exit(&applied, 0);
    let run = run_id(&applied);
    assert!(uuid::Uuid::parse_str(&run).is_ok(), "{run}");
    let records = audit_lines(&applied);
    assert_eq!(records.len(), 6, "{}", stderr(&applied));
    // Each change's intent went first, with the same correlation id (the run's).
    let all = reconcile_lines(&applied);
    assert_eq!(intent_lines(&applied).len(), 6);
    for pair in all.chunks(2) {
        assert_eq!(
            (pair[0]["outcome"].as_str(), pair[1]["outcome"].as_str()),
            (Some("intent"), Some("success")),
            "{pair:?}"
        );
    }
    assert!(records.iter().all(|r| r["source"]["run"] == run.as_str()));
    assert!(
        records
            .iter()
            .all(|r| r["actor"]["credential"] == "scimgw-cli")
    );
    let out = stdout(&applied);
    assert!(
        out.contains("6 applied, 0 already in step, 0 failed"),
        "{out}"
    );
    assert!(out.contains("plan saved to "), "{out}");
    assert!(!out.contains(IC_TOKEN) && !stderr(&applied).contains(IC_TOKEN));
    sides.assert_converged();
    remove_saved_plan(&applied);

    // Plan again: nothing to do.
    let again = sides.sync(&["plan", "--format", "json"]).await;
    assert_exit(&again, 0);
    assert!(plan_json(&again)["changes"].as_array().unwrap().is_empty());
    sides.shutdown().await;
}

#[tokio::test]
async fn a_saved_plan_is_applied_and_an_interrupted_apply_resumes() {
    let sides = drift().await;
    let plan_file = sides.path("plan.json");
    let plan_arg = plan_file.display().to_string();

    let planned = sides.sync(&["plan", "--out", &plan_arg]).await;
    assert_exit(&planned, 2);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(changes(&plan), EXPECTED);

    // An earlier run did the first change and Carol's deactivation, then stopped.
    let carol = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["action"] == "deactivate")
        .unwrap();
    let digest = gateway::rule_store::document_sha256(&plan["changes"].to_string());
    std::fs::write(
        sides.path("plan.json.progress"),
        format!("# scimgw sync progress; plan changes sha256 {digest}\n0\n{carol}\n"),
    )
    .unwrap();

    // The rerun skips both: Carol stays active, and only four changes are audited.
    let resumed = sides.sync(&["apply", "--plan", &plan_arg]).await;
    assert_exit(&resumed, 0);
    assert_eq!(audit_lines(&resumed).len(), 4, "{}", stderr(&resumed));
    assert!(
        stdout(&resumed)
            .contains("4 applied, 0 already in step, 0 failed, 2 skipped as done before"),
        "{}",
        stdout(&resumed)
    );
    assert!(sides.user("carol@example.com").unwrap().active);
    assert!(sides.user("bob@example.com").is_some());
    let progress = std::fs::read_to_string(sides.path("plan.json.progress")).unwrap();
    let mut done: Vec<usize> = progress
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.parse().unwrap())
        .collect();
    done.sort_unstable();
    assert_eq!(done, [0, 1, 2, 3, 4, 5]);

    // A third run has nothing left to do.
    let again = sides.sync(&["apply", "--plan", &plan_arg]).await;
    assert_exit(&again, 0);
    assert!(audit_lines(&again).is_empty(), "{}", stderr(&again));

    // What the skipped deactivation left is the only change a fresh plan finds.
    let replanned = sides.sync(&["plan", "--format", "json"]).await;
    assert_exit(&replanned, 2);
    assert_eq!(
        changes(&plan_json(&replanned)),
        ["deactivate User carol@example.com"]
    );

    // A plan older than a day is refused unless forced.
    let mut stale = plan.clone();
    stale["planned_at"] = json!("2020-01-01T00:00:00Z");
    let stale_file = sides.path("stale.json");
    std::fs::write(&stale_file, stale.to_string()).unwrap();
    let stale_arg = stale_file.display().to_string();
    let refused = sides.sync(&["apply", "--plan", &stale_arg]).await;
    assert_exit(&refused, 1);
    assert!(
        stderr(&refused).contains("--force-stale"),
        "{}",
        stderr(&refused)
    );
    let forced = sides
        .sync(&["apply", "--plan", &stale_arg, "--force-stale"])
        .await;
    assert_exit(&forced, 0);
    sides.assert_converged();
    sides.shutdown().await;
}

#[tokio::test]
async fn a_fresh_apply_saves_its_plan_where_told_and_a_plan_for_other_sides_is_refused() {
    let sides = drift().await;
    let out = sides.path("applied.json");
    let out_arg = out.display().to_string();

    let applied = sides.sync(&["apply", "--out", &out_arg]).await;
    assert_exit(&applied, 0);
    assert!(stdout(&applied).contains(&out_arg), "{}", stdout(&applied));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(changes(&saved), EXPECTED);
    assert_eq!(saved["sources"]["identity_center"], sides.ic.base_url());
    sides.assert_converged();

    // The same plan against another Identity Center.
    let other = drift().await;
    let elsewhere = other.sync(&["apply", "--plan", &out_arg]).await;
    assert_exit(&elsewhere, 1);
    assert!(
        stderr(&elsewhere).contains("was made for"),
        "{}",
        stderr(&elsewhere)
    );
    assert!(other.user("ada@example.com").is_none());
    other.shutdown().await;
    sides.shutdown().await;
}

#[tokio::test]
async fn failed_changes_are_listed_exit_1_and_a_rerun_retries_only_them() {
    let sides = drift().await;
    let plan_file = sides.path("plan.json").display().to_string();
    assert_exit(&sides.sync(&["plan", "--out", &plan_file]).await, 2);

    // Identity Center refuses the token (as after a rotation the CLI missed).
    sides
        .ic
        .emulator()
        .set_tokens(vec!["rotated-token-for-sync-tests".into()])
        .unwrap();
    let failed = sides.sync(&["apply", "--plan", &plan_file]).await;
    sides
        .ic
        .emulator()
        .set_tokens(vec![IC_TOKEN.into()])
        .unwrap();
    let retried = sides.sync(&["apply", "--plan", &plan_file]).await;

    assert_exit(&failed, 1);
    let errors = stderr(&failed);
    assert!(
        errors.contains("change 0 failed: create Group Engineering"),
        "{errors}"
    );
    assert!(
        errors.contains("change 5 failed: deactivate User carol@example.com"),
        "{errors}"
    );
    assert!(errors.contains(&format!("--plan {plan_file}")), "{errors}");
    assert!(stdout(&failed).contains("0 applied, 0 already in step, 6 failed"));
    assert_exit(&retried, 0);
    assert_eq!(audit_lines(&retried).len(), 6);
    sides.assert_converged();
    sides.shutdown().await;
}

#[tokio::test]
async fn dev_plans_under_the_dev_servers_rules_file_and_refuses_other_rules() {
    // Arrange: the dev server runs the group-prefix rules.
    let sides = drift().await;
    let rules_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/rules/group-prefix.yaml"
    );
    let digest =
        gateway::rule_store::document_sha256(&std::fs::read_to_string(rules_file).unwrap());
    let mut info: Value =
        serde_json::from_str(&std::fs::read_to_string(&sides.info).unwrap()).unwrap();
    info["rules_version"] = json!(format!("file-{}", &digest[..12]));
    std::fs::write(&sides.info, info.to_string()).unwrap();

    // Act
    let without = sides.sync(&["plan"]).await;
    let with = sides
        .sync(&["plan", "--format", "json", "--rules", rules_file])
        .await;

    // Assert
    assert_exit(&without, 1);
    assert!(
        stderr(&without).contains("give the same --rules file"),
        "{}",
        stderr(&without)
    );
    assert_exit(&with, 2);
    let plan = plan_json(&with);
    assert_eq!(plan["rule_set_version"], info["rules_version"]);
    assert!(changes(&plan).contains(&"create Group okta-Engineering".to_owned()));
    sides.shutdown().await;
}

#[tokio::test]
async fn a_mass_deactivation_is_refused_unless_allowed() {
    // Six managed users, all deactivated in Okta: more than the threshold allows.
    let leavers: Vec<(String, String)> = (1..=6)
        .map(|n| {
            (
                format!("00u1lev{n}lev{n}lev{n}lev{n}"),
                format!("leaver{n}@example.com"),
            )
        })
        .collect();
    let mut users: Vec<(&str, &str, &str)> = vec![(ADA, "ada@example.com", "ACTIVE")];
    users.extend(
        leavers
            .iter()
            .map(|(id, login)| (id.as_str(), login.as_str(), "DEPROVISIONED")),
    );
    let ic_users: Vec<(&str, Option<&str>)> = leavers
        .iter()
        .map(|(id, login)| (login.as_str(), Some(id.as_str())))
        .collect();
    let sides = sides(&users, &[], &ic_users).await;
    let active_leavers = |sides: &Sides| {
        leavers
            .iter()
            .filter(|(_, login)| sides.user(login).unwrap().active)
            .count()
    };

    // Refused: plan exits 1 and says how to override; a fresh apply changes nothing.
    let planned = sides.sync(&["plan", "--format", "json"]).await;
    assert_exit(&planned, 1);
    let plan = plan_json(&planned);
    assert_eq!(plan["refused"]["destructive"], 6);
    assert!(
        stderr(&planned).contains("--allow-mass-changes"),
        "{}",
        stderr(&planned)
    );
    let applied = sides.sync(&["apply"]).await;
    assert_exit(&applied, 1);
    remove_saved_plan(&applied);
    assert_eq!(active_leavers(&sides), 6);
    assert!(sides.user("ada@example.com").is_none());

    // With the override the plan is not refused.
    let allowed = sides
        .sync(&["plan", "--format", "json", "--allow-mass-changes"])
        .await;
    assert_exit(&allowed, 2);
    assert!(plan_json(&allowed)["refused"].is_null());

    // A saved refused plan is applied only with the override.
    let plan_file = sides.path("mass.json").display().to_string();
    assert_exit(&sides.sync(&["plan", "--out", &plan_file]).await, 1);
    let refused = sides.sync(&["apply", "--plan", &plan_file]).await;
    assert_exit(&refused, 1);
    assert_eq!(active_leavers(&sides), 6);
    let overridden = sides
        .sync(&["apply", "--plan", &plan_file, "--allow-mass-changes"])
        .await;
    assert_exit(&overridden, 0);
    assert_eq!(audit_lines(&overridden).len(), 7);
    assert_eq!(active_leavers(&sides), 0);
    assert!(sides.user("ada@example.com").unwrap().active);
    sides.shutdown().await;
}

#[tokio::test]
async fn without_dev_the_sources_the_state_table_and_the_audit_table_are_required() {
    let args = |extra: &[&str]| -> Vec<String> {
        let mut all = vec![
            "--okta".to_owned(),
            "http://127.0.0.1:1".to_owned(),
            "--target".to_owned(),
            "http://127.0.0.1:1/scim/v2".to_owned(),
        ];
        all.extend(extra.iter().map(|s| (*s).to_owned()));
        all
    };
    let tokens = [
        ("SCIMGW_OKTA_TOKEN", "okta-secret-value"),
        ("SCIMGW_TARGET_TOKEN", "target-secret-value"),
    ];
    let mut plan = vec!["plan".to_owned()];
    plan.extend(args(&[]));
    let mut apply = vec!["apply".to_owned()];
    apply.extend(args(&["--table", "state"]));
    let mut no_token = vec!["plan".to_owned()];
    no_token.extend(args(&["--table", "state"]));

    let no_table = scimgw(plan, &tokens).await;
    let no_audit = scimgw(apply, &tokens).await;
    let no_okta_token = scimgw(no_token, &tokens[1..]).await;
    let no_okta = scimgw(vec!["plan".into(), "--table".into(), "t".into()], &tokens).await;

    assert_exit(&no_table, 1);
    assert!(
        stderr(&no_table).contains("--table NAME"),
        "{}",
        stderr(&no_table)
    );
    assert_exit(&no_audit, 1);
    assert!(
        stderr(&no_audit).contains("--audit-table"),
        "{}",
        stderr(&no_audit)
    );
    assert_exit(&no_okta_token, 1);
    assert!(stderr(&no_okta_token).contains("SCIMGW_OKTA_TOKEN"));
    assert_exit(&no_okta, 1);
    assert!(
        stderr(&no_okta).contains("--okta URL"),
        "{}",
        stderr(&no_okta)
    );
    for output in [&no_table, &no_audit, &no_okta_token, &no_okta] {
        assert!(!stderr(output).contains("secret-value"));
    }
}

#[tokio::test]
async fn against_a_stack_the_rules_come_from_the_state_table_and_apply_is_audited() {
    use aws_sdk_dynamodb::types::AttributeValue;

    // Arrange: the stack's state and audit tables, its audit key and Okta token in
    // Secrets Manager, a rule set active that prefixes groups.
    let aws = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&aws);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let state = test_services::unique_name("sync-state");
    aws_adapters::dynamodb_mirror::create_table(&ddb, &state)
        .await
        .unwrap();
    let audit = test_services::unique_name("sync-audit");
    aws_adapters::dynamodb_audit::create_table(&ddb, &audit)
        .await
        .unwrap();
    // The audit trail's HMAC key in moto's KMS; the Okta token in Secrets Manager.
    let mut arns = vec![
        aws_adapters::kms_audit_keys::ensure_keys(&aws_sdk_kms::Client::new(&aws), &audit)
            .await
            .unwrap()
            .mac,
    ];
    for (name, value) in [("sync-okta-token", OKTA_TOKEN)] {
        let created = secrets
            .create_secret()
            .name(test_services::unique_name(name))
            .secret_string(value)
            .send()
            .await
            .unwrap();
        arns.push(created.arn().unwrap().to_owned());
    }
    let sides = drift().await;
    let rules_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/rules/group-prefix.yaml"
    );
    let moto = test_services::moto_url();
    let activated = tokio::task::spawn_blocking({
        let (state, moto) = (state.clone(), moto.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_scimgw"))
                .args(["rules", "apply", rules_file, "--table", &state])
                .args(["--aws-endpoint", &moto, "--region", "us-east-1"])
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("SCIMGW_RULES_AUTHOR", "sync-test")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_exit(&activated, 0);
    let stack = |command: &str| -> Vec<String> {
        [
            command,
            "--okta",
            &sides.okta.base_url(),
            "--okta-token-secret",
            &arns[1],
            "--target",
            &sides.ic.base_url(),
            "--table",
            &state,
            "--audit-table",
            &audit,
            "--audit-mac-key",
            &arns[0],
            "--aws-endpoint",
            &moto,
            "--region",
            "us-east-1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let target_token = [("SCIMGW_TARGET_TOKEN", IC_TOKEN)];

    // Act
    let planned = scimgw(
        [stack("plan"), vec!["--format".into(), "json".into()]].concat(),
        &target_token,
    )
    .await;
    let applied = scimgw(stack("apply"), &target_token).await;
    let again = scimgw(stack("plan"), &target_token).await;

    // Assert: planned and applied under the stored rules, each change audited.
    assert_exit(&planned, 2);
    let plan = plan_json(&planned);
    assert_eq!(plan["rule_set_version"], "v1");
    assert!(changes(&plan).contains(&"create Group okta-Engineering".to_owned()));
    assert_exit(&applied, 0);
    remove_saved_plan(&applied);
    assert!(stdout(&applied).contains(&format!("audit records: the audit table {audit}")));
    assert_exit(&again, 0);
    let groups = sides.ic.emulator().groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].display_name, "okta-Engineering");
    assert_eq!(groups[0].members.len(), 2);
    let run = run_id(&applied);
    let items = ddb.scan().table_name(&audit).send().await.unwrap();
    let records: Vec<Value> = items
        .items()
        .iter()
        .filter_map(|item| match item.get("record") {
            Some(AttributeValue::S(json)) => serde_json::from_str(json).ok(),
            _ => None,
        })
        .collect();
    let intents = records.iter().filter(|r| r["outcome"] == "intent").count();
    assert_eq!((records.len(), intents), (12, 6), "{records:?}");
    assert!(records.iter().all(|r| r["source"]["kind"] == "reconcile"
        && r["source"]["run"] == run.as_str()
        && r["rule_set_version"] == "v1"));
    sides.shutdown().await;
}
