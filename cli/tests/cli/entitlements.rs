//! `scimgw entitlements` as an admin runs it: the real binary against moto's
//! Organizations, SSO Admin, Identity Store, DynamoDB and KMS, in an AWS account of its
//! own (moto's STS answers `AssumeRole` into any account with credentials moto maps to
//! it): save a document, plan, apply the saved plan (one audit record per assignment),
//! plan again (empty), a destructive plan refused without `--approve`, and `import`.

use std::process::{Command, Output};

use aws_sdk_dynamodb::config::Credentials;
use serde_json::Value;
use test_services::organizations::{create_account, create_organization, create_ou};

struct Place {
    creds: Credentials,
    state_table: String,
    audit_table: String,
    audit_key: String,
    ddb: aws_sdk_dynamodb::Client,
    sso: aws_sdk_ssoadmin::Client,
    instance: String,
    group: String,
    dir: std::path::PathBuf,
}

/// Credentials moto maps to a fresh account (the role need not exist).
pub(crate) async fn fresh_account() -> Credentials {
    let account = format!(
        "{:012}",
        (u64::from(std::process::id()) * 1_000_003
            + u64::from(time::OffsetDateTime::now_utc().nanosecond()))
            % 1_000_000_000_000
    );
    let body = reqwest::Client::new()
        .post(test_services::moto_url())
        .form(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            (
                "RoleArn",
                &format!("arn:aws:iam::{account}:role/scimgw-admin"),
            ),
            ("RoleSessionName", "entitlements-test"),
        ])
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |name: &str| {
        let start = body.find(&format!("<{name}>")).unwrap() + name.len() + 2;
        let end = body[start..].find('<').unwrap() + start;
        body[start..end].to_owned()
    };
    Credentials::new(
        field("AccessKeyId"),
        field("SecretAccessKey"),
        Some(field("SessionToken")),
        None,
        "moto-sts",
    )
}

async fn place() -> Place {
    let creds = fresh_account().await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(test_services::moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds.clone())
        .load()
        .await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let state_table = test_services::unique_name("cli-ent-state");
    aws_adapters::dynamodb_mirror::create_table(&ddb, &state_table)
        .await
        .unwrap();
    let (audit_table, audit_key) = crate::audit_table_with_key(&config, "cli-ent-audit").await;
    let orgs = aws_sdk_organizations::Client::new(&config);
    let root = create_organization(&orgs).await;
    let ou = create_ou(&orgs, &root, "workloads").await;
    for i in 0..7 {
        create_account(&orgs, &root, &format!("w{i}"), &ou, &[]).await;
    }
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let instance = sso.list_instances().send().await.unwrap().instances()[0].clone();
    sso.create_permission_set()
        .instance_arn(instance.instance_arn().unwrap())
        .name("ReadOnly")
        .session_duration("PT1H")
        .send()
        .await
        .unwrap();
    let group = aws_sdk_identitystore::Client::new(&config)
        .create_group()
        .identity_store_id(instance.identity_store_id().unwrap())
        .display_name("Readers")
        .send()
        .await
        .unwrap()
        .group_id
        .clone();
    let dir = std::env::temp_dir().join(test_services::unique_name("cli-ent"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("readers.yaml"),
        format!(
            "grants:\n  - name: readers\n    group: {{ name: Readers }}\n    permission_sets: [ReadOnly]\n    scope: {{ ous: [{ou}] }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("empty.yaml"), "grants: []\n").unwrap();
    Place {
        creds,
        state_table,
        audit_table,
        audit_key,
        ddb,
        sso,
        instance: instance.instance_arn().unwrap().to_owned(),
        group,
        dir,
    }
}

async fn scimgw(place: &Place, args: &[&str]) -> Output {
    let mut all: Vec<String> = vec!["entitlements".into()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    all.extend(
        [
            "--table",
            &place.state_table,
            "--audit-table",
            &place.audit_table,
            "--audit-mac-key",
            &place.audit_key,
            "--aws-endpoint",
            &test_services::moto_url(),
            "--region",
            "us-east-1",
        ]
        .map(str::to_owned),
    );
    let creds = place.creds.clone();
    let dir = place.dir.clone();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .args(&all)
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
            .env(
                "AWS_SESSION_TOKEN",
                creds.session_token().unwrap_or_default(),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("SCIMGW_RULES_AUTHOR", "ada")
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

async fn audit_records(place: &Place) -> Vec<Value> {
    crate::audit_records(&place.ddb, &place.audit_table).await
}

#[tokio::test]
async fn plan_apply_replan_refuse_a_mass_deletion_and_import() {
    let place = place().await;

    let saved = scimgw(&place, &["apply", "readers.yaml"]).await;
    assert!(saved.status.success(), "{}", text(&saved));

    let planned = scimgw(&place, &["plan", "--out", "plan.json"]).await;
    assert!(planned.status.success(), "{}", text(&planned));
    let shown = text(&planned);
    assert!(shown.contains("7 to create, 0 to delete"), "{shown}");
    assert!(shown.contains("grant \"readers\": ou ou-"), "{shown}");
    let plan: Value =
        serde_json::from_slice(&std::fs::read(place.dir.join("plan.json")).unwrap()).unwrap();

    let applied = scimgw(&place, &["apply", "--plan", "plan.json"]).await;
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(
        text(&applied).contains("7 operations done, 0 failed"),
        "{}",
        text(&applied)
    );
    let records = audit_records(&place).await;
    assert_eq!(records.len(), 7, "{records:?}");
    for record in &records {
        assert_eq!(record["operation"], "assign");
        assert_eq!(record["outcome"], "success");
        assert_eq!(record["source"]["kind"], "entitlements");
        assert_eq!(record["source"]["run"], plan["id"]);
        assert_eq!(record["source"]["document_version"], "v1");
        assert_eq!(record["target"]["name"], "Readers");
    }

    // Applied already: the same plan is stale now, and a new one is empty.
    let stale = scimgw(&place, &["apply", "--plan", "plan.json"]).await;
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale));
    let again = scimgw(&place, &["plan", "--format", "json"]).await;
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["create"], serde_json::json!([]));
    assert_eq!(again["delete"], serde_json::json!([]));

    // Emptying the document deletes all 7 managed assignments: refused unless approved.
    let emptied = scimgw(&place, &["apply", "empty.yaml"]).await;
    assert!(emptied.status.success(), "{}", text(&emptied));
    let refused = scimgw(&place, &["plan", "--out", "delete.json"]).await;
    assert!(
        text(&refused).contains("REFUSED without approval"),
        "{}",
        text(&refused)
    );
    let delete: Value =
        serde_json::from_slice(&std::fs::read(place.dir.join("delete.json")).unwrap()).unwrap();
    let id = delete["id"].as_str().unwrap().to_owned();
    let unapproved = scimgw(&place, &["apply", "--plan", "delete.json"]).await;
    assert_eq!(unapproved.status.code(), Some(1), "{}", text(&unapproved));
    assert!(text(&unapproved).contains(&format!("--approve {id}")));
    assert_eq!(audit_records(&place).await.len(), 7, "nothing was deleted");

    // Import (before the approved deletion) claims what the group has now.
    let imported = scimgw(&place, &["import", "--all-groups"]).await;
    assert!(imported.status.success(), "{}", text(&imported));
    let document =
        entitlements::Document::load(&String::from_utf8_lossy(&imported.stdout)).unwrap();
    assert_eq!(document.grants.len(), 1, "{document:?}");
    assert_eq!(document.grants[0].scope.accounts.len(), 7);

    let approved = scimgw(
        &place,
        &["apply", "--plan", "delete.json", "--approve", &id],
    )
    .await;
    assert!(approved.status.success(), "{}", text(&approved));
    let records = audit_records(&place).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r["operation"] == "unassign")
            .count(),
        7
    );
    let left = place
        .sso
        .list_account_assignments_for_principal()
        .instance_arn(&place.instance)
        .principal_type(aws_sdk_ssoadmin::types::PrincipalType::Group)
        .principal_id(&place.group)
        .send()
        .await
        .unwrap();
    assert!(left.account_assignments().is_empty());
}

#[tokio::test]
async fn a_permission_set_the_document_defines_is_planned_created_assigned_and_audited() {
    let place = place().await;
    let readers = std::fs::read_to_string(place.dir.join("readers.yaml")).unwrap();
    std::fs::write(
        place.dir.join("defined.yaml"),
        format!(
            "permission_sets:\n  - name: DataReader\n    session_duration: PT2H\n    managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n{}",
            readers.replace("[ReadOnly]", "[DataReader]")
        ),
    )
    .unwrap();
    let checked = scimgw(&place, &["validate", "defined.yaml"]).await;
    assert!(checked.status.success(), "{}", text(&checked));
    let saved = scimgw(&place, &["apply", "defined.yaml"]).await;
    assert!(saved.status.success(), "{}", text(&saved));

    let planned = scimgw(&place, &["plan", "--out", "plan.json"]).await;
    let shown = text(&planned);
    assert!(planned.status.success(), "{shown}");
    assert!(shown.contains("7 to create, 0 to delete"), "{shown}");
    assert!(
        shown.contains(
            "~ create permission set DataReader: defined in the document, not in Identity Center"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("    attach arn:aws:iam::aws:policy/ReadOnlyAccess"),
        "{shown}"
    );

    let applied = scimgw(&place, &["apply", "--plan", "plan.json"]).await;
    assert!(
        text(&applied).contains("8 operations done, 0 failed"),
        "{}",
        text(&applied)
    );
    let records = audit_records(&place).await;
    let created: Vec<&Value> = records
        .iter()
        .filter(|r| r["operation"] == "create")
        .collect();
    assert_eq!(created.len(), 1, "{records:?}");
    let arn = created[0]["target"]["target_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created[0]["target"]["name"], "DataReader");
    assert_eq!(created[0]["outcome"], "success");
    assert_eq!(
        created[0]["changes"][0]["after"]["managed_policies"],
        serde_json::json!(["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    );
    let assigned: Vec<&Value> = records
        .iter()
        .filter(|r| r["operation"] == "assign")
        .collect();
    assert_eq!(assigned.len(), 7);
    for record in assigned {
        assert_eq!(
            record["changes"][0]["after"]["permission_set_arn"].as_str(),
            Some(arn.as_str())
        );
    }
    let described = place
        .sso
        .describe_permission_set()
        .instance_arn(&place.instance)
        .permission_set_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.permission_set().unwrap().session_duration(),
        Some("PT2H")
    );
    let again = scimgw(&place, &["plan", "--format", "json"]).await;
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["create"], serde_json::json!([]));
    assert!(again.get("permission_sets").is_none(), "{again}");
}

/// `scimgw entitlements` with `args` and the credentials of a moto account (no table or
/// endpoint options: `--dev` names them).
async fn scimgw_as(creds: &Credentials, dir: &std::path::Path, args: &[&str]) -> Output {
    let all: Vec<String> = std::iter::once("entitlements")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect();
    let (creds, dir) = (creds.clone(), dir.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .args(&all)
            .current_dir(dir)
            .envs(moto_account_env(&creds))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The environment that makes the AWS SDK use a moto account's credentials, and nothing
/// of this machine's.
fn moto_account_env(creds: &Credentials) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", creds.access_key_id().to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            creds.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN",
            creds.session_token().unwrap_or_default().to_owned(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_makes_an_entitlements_sandbox_that_a_plan_reads_with_dev_info() {
    let creds = fresh_account().await;
    let prefix = test_services::unique_name("ent-sandbox");
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let env = moto_account_env(&creds);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let moto = test_services::moto_url();
    let args = [
        "--aws-endpoint",
        moto.as_str(),
        "--aws-prefix",
        prefix.as_str(),
        "--entitlements-sandbox",
    ];
    let sandbox = {
        let dev = crate::dev_process::Dev::start(&dir, &args, &env);
        dev.info["entitlements_sandbox"].clone()
    };
    // A root, two OUs, three accounts, an instance, two permission sets, two groups.
    assert!(
        sandbox["root_id"].as_str().unwrap().starts_with("r-"),
        "{sandbox}"
    );
    let names =
        |key: &str| -> Vec<String> { sandbox[key].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(names("ous"), ["Production", "Sandbox"]);
    assert_eq!(
        names("accounts"),
        ["dev-playground", "prod-app", "prod-data"]
    );
    assert_eq!(
        names("permission_sets"),
        ["AdministratorAccess", "ReadOnlyAccess"]
    );
    assert_eq!(names("groups"), ["Admins", "Readers"]);
    assert!(
        sandbox["instance_arn"]
            .as_str()
            .unwrap()
            .contains(":instance/")
    );

    // A second start with the prefix finds it all again: nothing is made twice.
    std::fs::remove_file(dir.join("dev-info.json")).unwrap();
    let dev = crate::dev_process::Dev::start(&dir, &args, &env);
    assert_eq!(dev.info["entitlements_sandbox"], sandbox);

    // An admin tries a document against it with --dev.
    let production = sandbox["ous"]["Production"].as_str().unwrap();
    std::fs::write(
        dir.join("try.yaml"),
        format!(
            "grants:\n  - name: prod-admins\n    group: {{ name: Admins }}\n    permission_sets: [AdministratorAccess]\n    scope: {{ ous: [{production}] }}\n"
        ),
    )
    .unwrap();
    let planned = scimgw_as(
        &creds,
        &dir,
        &["plan", "--dev", "dev-info.json", "--file", "try.yaml"],
    )
    .await;
    let shown = text(&planned);
    assert!(planned.status.success(), "{shown}");
    assert!(shown.contains("2 to create, 0 to delete"), "{shown}");
    for account in ["prod-app", "prod-data"] {
        let id = sandbox["accounts"][account].as_str().unwrap();
        assert!(
            shown.contains(&format!("+ create Admins AdministratorAccess on {id}")),
            "{account}: {shown}"
        );
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&dir);
}
