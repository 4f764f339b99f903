//! `scimgw access` as an auditor runs it, against a `scimgw dev --aws-endpoint` in an
//! AWS account of its own on moto: users and a group pushed through dev's SCIM API, an
//! entitlement document's assignments made through moto's SSO Admin with one audit
//! record each (as `scimgw entitlements apply --plan` makes them, in dev's audit table),
//! a leaver deactivated through SCIM. Then the reports: checked against live state,
//! filtered by OU through moto's Organizations, in each format, and proven by `scimgw
//! audit verify --evidence`, which fails once a record they were computed from is gone.

use std::process::{Command, Output};
use std::sync::Arc;

use aws_sdk_dynamodb::config::Credentials;
use serde_json::{Value, json};

use crate::dev_process::Dev;
use crate::tamper::{delete, key};
use test_services::organizations::{create_account, create_organization, create_ou};

fn env_of(creds: &Credentials) -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".into(), creds.access_key_id().to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            creds.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".into(),
            creds.session_token().unwrap_or_default().to_owned(),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("AWS_CONFIG_FILE".into(), "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/nonexistent".into()),
    ]
}

async fn scimgw(creds: &Credentials, args: Vec<String>) -> Output {
    let env = env_of(creds);
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .args(&args)
            .envs(env)
            .env_remove("SCIMGW_AUDIT_TOKEN")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .env_remove("SCIMGW_AUDIT_API")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A SCIM call to dev as Okta makes it; the answer's JSON.
async fn scim(dev: &Dev, method: reqwest::Method, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", dev.s("scim_url")))
        .bearer_auth(dev.s("scim_token"))
        .header("content-type", "application/scim+json")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_from_a_dev_stack_match_live_state_filter_by_ou_and_their_evidence_proves_them() {
    // Arrange: an organization (two accounts in a production OU, one at the root) and
    // an Identity Center instance with a permission set, in a fresh moto account.
    let creds = crate::entitlements::fresh_account().await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(test_services::moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds.clone())
        .load()
        .await;
    let orgs = aws_sdk_organizations::Client::new(&config);
    let root = create_organization(&orgs).await;
    let prod = create_ou(&orgs, &root, "production").await;
    let mut prod_accounts = Vec::new();
    for i in 0..2 {
        prod_accounts.push(create_account(&orgs, &root, &format!("a{i}"), &prod, &[]).await);
    }
    create_account(&orgs, &root, "a2", &root, &[]).await;
    prod_accounts.sort();
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let instance = sso.list_instances().send().await.unwrap().instances()[0]
        .instance_arn()
        .unwrap()
        .to_owned();
    sso.create_permission_set()
        .instance_arn(&instance)
        .name("ReadOnly")
        .session_duration("PT1H")
        .send()
        .await
        .unwrap();

    // dev in the same account, its audit trail in moto.
    let prefix = test_services::unique_name("cli-access");
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let moto = test_services::moto_url();
    let env = env_of(&creds);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dev = Dev::start(
        &dir,
        &["--aws-endpoint", &moto, "--aws-prefix", &prefix],
        &env_refs,
    );
    let info = dir.join("dev-info.json").display().to_string();
    let started = time::OffsetDateTime::now_utc();

    // Okta pushes ada and bob, and the Engineering group with both.
    let ada = dev.create_user("ada", 1).await;
    let bob = dev.create_user("bob", 2).await;
    let group = scim(
        &dev,
        reqwest::Method::POST,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": "Engineering", "externalId": "00gEngineering",
               "members": [{"value": ada}, {"value": bob}]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The document gives Engineering read-only on the production OU, applied through
    // moto's SSO Admin, each assignment recorded in dev's audit table.
    let counter = Arc::new(aws_adapters::entitlements_aws::CallCounter::default());
    let organization = aws_adapters::entitlements_aws::read_organization(&orgs, false, &counter)
        .await
        .unwrap();
    let api = Arc::new(aws_adapters::SsoAdminAssignments::new(
        sso.clone(),
        instance.clone(),
        counter,
    ));
    let observed = entitlements::Observed {
        organization,
        identity_center: entitlements::IdentityCenter {
            groups: vec![entitlements::DirectoryGroup {
                id: group.clone(),
                display_name: "Engineering".into(),
                external_id: Some("00gEngineering".into()),
            }],
            permission_sets: api.permission_sets().await.unwrap(),
            assignments: Vec::new(),
            permission_set_details: Default::default(),
        },
        managed: Default::default(),
        managed_permission_sets: Default::default(),
        problems: Vec::new(),
    };
    let document = entitlements::Document::load(&format!(
        "grants:\n  - group: {{ name: Engineering }}\n    permission_sets: [ReadOnly]\n    scope: {{ ous: [{prod}] }}\n"
    ))
    .unwrap();
    let plan = entitlements::plan(&document, "v1", &observed, &Default::default());
    assert_eq!(plan.create.len(), 2, "{plan:?}");
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let audit = aws_adapters::DynamoDbAuditLog::new(
        ddb.clone(),
        dev.s("audit_table"),
        aws_adapters::kms_audit_keys::writer_powers(
            &aws_sdk_kms::Client::new(&config),
            &dev.s("audit_mac_key"),
        ),
        Arc::new(gateway::SystemClock),
        time::Duration::days(400),
    );
    let limits = entitlements::Limits {
        poll_interval: std::time::Duration::from_millis(50),
        ..entitlements::Limits::default()
    };
    let applied = entitlements::apply(
        &plan,
        api,
        &entitlements::InMemoryLedger::default(),
        &audit,
        &gateway::SystemClock,
        &entitlements::Applier {
            credential: "arn:aws:iam::123456789012:role/admin".into(),
        },
        limits,
    )
    .await
    .unwrap();
    assert!(applied.succeeded(), "{applied:?}");

    // bob leaves: Okta's provisioning deactivates him.
    scim(
        &dev,
        reqwest::Method::PATCH,
        &format!("/Users/{bob}"),
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await;
    let access = |args: &[&str]| {
        let mut all = strings(&["access", "--dev", &info]);
        all.extend(strings(args));
        all
    };

    // Act: the live report, by OU, as JSON.
    let live = scimgw(
        &creds,
        access(&["report", "--live", "--ou", &prod, "--format", "json"]),
    )
    .await;
    let csv_path = dir.join("access.csv");
    let csv = scimgw(
        &creds,
        access(&[
            "report",
            "--format",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ]),
    )
    .await;
    let elsewhere = scimgw(
        &creds,
        access(&["report", "--account", "999999999999", "--format", "jsonl"]),
    )
    .await;
    let since = started
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let diff = scimgw(
        &creds,
        access(&["diff", "--from", &since, "--format", "json"]),
    )
    .await;
    let leavers = scimgw(
        &creds,
        access(&["leavers", "--since", &since, "--format", "json"]),
    )
    .await;
    let table = scimgw(&creds, access(&["report"])).await;

    // Assert: ada reads both production accounts through Engineering, since the
    // assignments; bob, deactivated, reaches nothing; the trail agrees with live state.
    assert!(live.status.success(), "{}", text(&live));
    let report: Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(report["source"], "live");
    assert_eq!(report["differences"], json!([]), "{report:#}");
    let rows = report["rows"].as_array().unwrap();
    let mut accounts: Vec<&str> = rows
        .iter()
        .map(|r| r["account_id"].as_str().unwrap())
        .collect();
    accounts.sort_unstable();
    assert_eq!(
        accounts,
        prod_accounts.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(rows.iter().all(|r| r["user_id"] == ada.as_str()
        && r["group_name"] == "Engineering"
        && r["permission_set_name"] == "ReadOnly"
        && r["since_record"].is_string()));
    assert!(
        report["evidence"]["records"].as_u64().unwrap() >= 6,
        "{report:#}"
    );
    // CSV in a file, its evidence beside it.
    assert!(csv.status.success(), "{}", text(&csv));
    let csv_text = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(csv_text.lines().count(), 3, "{csv_text}");
    assert!(csv_text.starts_with("user_id,okta_user_id,user_name,account_id"));
    let evidence_path = dir.join("access.csv.evidence.json");
    assert!(evidence_path.exists());
    assert!(
        elsewhere.status.success() && elsewhere.stdout.is_empty(),
        "{}",
        text(&elsewhere)
    );
    // Gained since the start: ada's two; bob's came and went.
    let diff: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{diff:#}");
    assert!(
        changes
            .iter()
            .all(|c| c["change"] == "gained" && c["user_id"] == ada.as_str())
    );
    // bob's deactivation ended both his accesses at once.
    assert!(leavers.status.success(), "{}", text(&leavers));
    let leavers: Value = serde_json::from_slice(&leavers.stdout).unwrap();
    let leaver = &leavers["leavers"][0];
    assert_eq!(leaver["user_id"], bob.as_str(), "{leavers:#}");
    assert_eq!(leaver["start"], "scim");
    assert_eq!(leaver["deactivation_seconds"], 0);
    assert_eq!(leaver["access"].as_array().unwrap().len(), 2);
    assert!(table.status.success());
    assert!(
        String::from_utf8_lossy(&table.stdout).contains("ada1@example.com"),
        "{}",
        text(&table)
    );

    // The evidence proves the CSV against the table, until a record it stood on goes.
    let verify = |evidence: String| {
        strings(&[
            "audit",
            "verify",
            "--evidence",
            &evidence,
            "--table",
            &dev.s("audit_table"),
            "--aws-endpoint",
            &moto,
            "--region",
            "us-east-1",
            "--reads-queue",
            &dev.s("audit_reads_queue_url"),
            "--mac-key-ids",
            &dev.s("audit_mac_key"),
            "--seal-key-ids",
            &dev.s("audit_seal_key"),
            "--anchor-bucket",
            &dev.s("seal_bucket"),
        ])
    };
    let intact = scimgw(&creds, verify(evidence_path.display().to_string())).await;
    assert!(intact.status.success(), "{}", text(&intact));
    assert!(text(&intact).contains("the report's records are in the trail as they were"));
    let since_record = rows[0]["since_record"].as_str().unwrap();
    let (chain, seq) = since_record.rsplit_once(':').unwrap();
    delete(
        &ddb,
        &dev.s("audit_table"),
        key(
            &format!("CHAIN#{chain}"),
            &format!("REC#{:010}", seq.parse::<u64>().unwrap()),
        ),
    )
    .await;
    let broken = scimgw(&creds, verify(evidence_path.display().to_string())).await;
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("evidence: the report was computed from"),
        "{}",
        text(&broken)
    );
}
