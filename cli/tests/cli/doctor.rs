//! `scimgw doctor` as an admin runs it: the real binary, against a `scimgw dev
//! --aws-endpoint` of each test's own on moto (`--dev`), and against a stack in moto's
//! CloudFormation whose outputs name that dev's tables, keys, bucket, queues and
//! secrets, with its SCIM route and hook pointing at the dev server and its Identity
//! Center endpoint at dev's embedded emulator (`--stack`).
//!
//! Each test shows a set-up that passes, then breaks one link and checks that doctor
//! fails, naming the step, with exit code 1, and never prints a token or a secret.

use std::process::{Command, Output};
use std::sync::Arc;

use aws_adapters::kms_audit_keys::{sealer_powers, writer_powers};
use aws_adapters::sqs_read_notes::create_read_queues;
use aws_adapters::{DynamoDbAuditLog, DynamoDbRuleStore, S3SealAnchors};
use gateway::audit_store::chain;
use gateway::rule_store::{NewRuleSet, RuleStore};
use gateway::{FixedClock, SystemClock};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::dev_process::Dev;
use crate::tamper::{aws_env, delete, key, record, s, scan};

/// A `scimgw dev --aws-endpoint` of its own (with `extra` options), in a scratch
/// directory removed when dropped.
struct Place {
    dev: Dev,
    dir: std::path::PathBuf,
    prefix: String,
    config: aws_config::SdkConfig,
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Place {
    fn start(name: &str, extra: &[&str]) -> Self {
        let prefix = test_services::unique_name(name);
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let moto = test_services::moto_url();
        let mut args = vec!["--aws-endpoint", &moto, "--aws-prefix", &prefix];
        args.extend_from_slice(extra);
        let dev = Dev::start(&dir, &args, &aws_env());
        let config = block_on(test_services::moto_sdk_config());
        Self {
            dev,
            dir,
            prefix,
            config,
        }
    }

    fn info_path(&self) -> std::path::PathBuf {
        self.dir.join("dev-info.json")
    }

    /// Every token and secret the dev server and this test know: none may be printed.
    fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = [
            "scim_token",
            "emulator_token",
            "auditor_token",
            "hook_secret",
            "okta_token",
        ]
        .iter()
        .map(|k| self.dev.s(k))
        .collect();
        all.push(OKTA_API_TOKEN.to_owned());
        all
    }

    /// Deletes the first record of a chain that has a second: a record gone from the
    /// middle of the trail. Answers its id.
    async fn delete_a_record(&self) -> String {
        let ddb = aws_sdk_dynamodb::Client::new(&self.config);
        let table = self.dev.s("audit_table");
        let items = scan(&ddb, &table).await;
        let second = items
            .iter()
            .find(|i| s(i, "sk") == format!("REC#{:010}", 2))
            .expect("a chain with two records");
        let chain = s(second, "chain");
        delete(
            &ddb,
            &table,
            key(&format!("CHAIN#{chain}"), &format!("REC#{:010}", 1)),
        )
        .await;
        chain::record_id(&chain, 1)
    }
}

/// The SDK configuration outside an async test (`Place::start` runs before the runtime
/// is needed): a runtime of its own for the one call.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(future))
}

/// `scimgw doctor` with `args`, moto's throw-away credentials and `env`.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_scimgw"))
        .arg("doctor")
        .args(args)
        .env_remove("SCIMGW_DOCTOR_SCIM_TOKEN")
        .env_remove("SCIMGW_DOCTOR_HOOK_SECRET")
        .envs(aws_env())
        .envs(env.iter().copied())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// The printed line of a step.
fn line<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|l| l.get(9..).is_some_and(|rest| rest.starts_with(step)))
        .unwrap_or_else(|| panic!("no line for {step}:\n{text}"))
}

fn assert_nothing_secret(text: &str, place: &Place) {
    for secret in place.secrets() {
        assert!(!text.contains(&secret), "a secret was printed:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// --dev

#[tokio::test(flavor = "multi_thread")]
async fn dev_names_a_tampered_audit_trail() {
    // Arrange: a healthy dev with records in its trail.
    let place = Place::start("doctor-dev-tamper", &[]);
    for n in 0..3 {
        place.dev.create_user("doctor", n).await;
    }
    let info = place.info_path();
    let info = info.to_str().unwrap();
    let (healthy, text) = doctor(&["--dev", info], &[]);
    assert_eq!(healthy, Some(0), "{text}");
    assert!(
        line(&text, "audit trail over the last day").starts_with("ok "),
        "{text}"
    );

    // Act: someone with write access to the table deletes a record.
    let victim = place.delete_a_record().await;
    let (code, text) = doctor(&["--dev", info], &[]);

    // Assert
    assert_eq!(code, Some(1), "{text}");
    let audit = line(&text, "audit trail over the last day");
    assert!(audit.starts_with("FAIL "), "{text}");
    assert!(
        audit.contains(&format!("deleted record {victim}")),
        "{audit}"
    );
    assert!(audit.contains("scimgw audit verify"), "{audit}");
    assert_nothing_secret(&text, &place);
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_with_stored_rules_names_an_invalid_active_rule_set() {
    // Arrange: dev applying the state table's active set, which loads.
    let place = Place::start("doctor-dev-rules", &["--stored-rules"]);
    let table = place.dev.s("state_table");
    let store = DynamoDbRuleStore::new(
        aws_sdk_dynamodb::Client::new(&place.config),
        &table,
        Arc::new(SystemClock),
    );
    let new = |document: &str| NewRuleSet {
        document: document.to_owned(),
        author: "admin".into(),
        note: None,
    };
    let good = store
        .put_version(new(include_str!(
            "../../../examples/rules/group-prefix.yaml"
        )))
        .await
        .unwrap();
    store.activate(good, None, "admin").await.unwrap();
    let info = place.info_path();
    let info = info.to_str().unwrap();
    let (healthy, text) = doctor(&["--dev", info], &[]);
    assert_eq!(healthy, Some(0), "{text}");
    assert_eq!(place.dev.s("rules_version"), "stored");
    assert!(
        line(&text, "active rule set").starts_with("ok       active rule set (v1 loads)"),
        "{text}"
    );

    // Act: a document that does not load becomes active, written past `scimgw rules
    // apply`'s validation (as an older scimgw, or a hand edit of the table, could).
    let bad = store
        .put_version(new("users:\n  - set:\n      password: 'x'\n"))
        .await
        .unwrap();
    store.activate(bad, Some(good), "admin").await.unwrap();
    let (code, text) = doctor(&["--dev", info], &[]);

    // Assert
    assert_eq!(code, Some(1), "{text}");
    let rules = line(&text, "active rule set");
    assert!(rules.starts_with("FAIL "), "{text}");
    assert!(rules.contains("v2 does not load"), "{rules}");
    assert!(
        rules.contains(&format!("scimgw rules rollback VERSION --table {table}")),
        "{rules}"
    );
    assert_nothing_secret(&text, &place);
}

// ---------------------------------------------------------------------------------------
// --stack

const OKTA_API_TOKEN: &str = "okta-api-token-for-the-doctor-tests";

/// A stack in moto's CloudFormation whose outputs name `place`'s resources, less
/// `without`; answers its name and the reads queue its outputs name (the test's own, so
/// that doctor's note of its read can be found there).
async fn stack(place: &Place, without: &[&str]) -> (String, String) {
    let secrets = aws_sdk_secretsmanager::Client::new(&place.config);
    let arn = |name: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let okta = format!("{}/okta-api-token", place.prefix);
    if secrets
        .describe_secret()
        .secret_id(&okta)
        .send()
        .await
        .is_err()
    {
        secrets
            .create_secret()
            .name(&okta)
            .secret_string(OKTA_API_TOKEN)
            .send()
            .await
            .unwrap();
    }
    let (reads_queue, _) = create_read_queues(
        &aws_sdk_sqs::Client::new(&place.config),
        &format!("{}-doctor-reads", place.prefix),
        5,
    )
    .await
    .unwrap();
    let p = &place.prefix;
    let outputs = [
        ("ScimBaseUrl", place.dev.s("scim_url")),
        ("HookUrl", place.dev.s("hook_url")),
        (
            "IdentityCenterTokenSecretArn",
            arn(format!("{p}/dev/target-token")).await,
        ),
        (
            "ScimTokensSecretArn",
            arn(format!("{p}/dev/scim-tokens")).await,
        ),
        ("HookSecretArn", arn(format!("{p}/dev/hook-secret")).await),
        ("OktaApiTokenSecretArn", arn(okta).await),
        ("StateTableName", place.dev.s("state_table")),
        ("AuditTableName", place.dev.s("audit_table")),
        ("AuditMacKeyArn", place.dev.s("audit_mac_key")),
        ("AuditSealKeyArn", place.dev.s("audit_seal_key")),
        ("AuditAnchorBucketName", place.dev.s("seal_bucket")),
        ("AuditReadsQueueUrl", reads_queue.clone()),
        ("EventsQueueUrl", place.dev.s("events_queue_url")),
        ("EventsDeadLetterQueueUrl", place.dev.s("events_dlq_url")),
    ];
    let outputs: serde_json::Map<String, serde_json::Value> = outputs
        .into_iter()
        .filter(|(name, _)| !without.contains(name))
        .map(|(name, value)| (name.to_owned(), json!({ "Value": value })))
        .collect();
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"IdentityCenterScimEndpoint": {"Type": "String"}},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    });
    let name = test_services::unique_name("doctor-stack");
    aws_sdk_cloudformation::Client::new(&place.config)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("IdentityCenterScimEndpoint")
                .parameter_value(place.dev.s("emulator_url"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    (name, reads_queue)
}

/// What a healthy stack has beyond dev's own: an earlier hour sealed (dev's records are
/// of the current hour, which no sealer seals before it ends), and deliveries in the
/// events queue's CloudWatch metric (moto keeps no SQS metrics of its own, and takes
/// data in the `AWS/SQS` namespace, which AWS reserves, as the queue would publish it).
async fn make_healthy(place: &Place) {
    let ddb = aws_sdk_dynamodb::Client::new(&place.config);
    let kms = aws_sdk_kms::Client::new(&place.config);
    let table = place.dev.s("audit_table");
    let two_hours_ago = OffsetDateTime::now_utc() - Duration::hours(2);
    let writer = DynamoDbAuditLog::new(
        ddb.clone(),
        &table,
        writer_powers(&kms, &place.dev.s("audit_mac_key")),
        Arc::new(FixedClock::new(two_hours_ago)),
        Duration::days(400),
    );
    writer
        .append_stored(record(0, two_hours_ago))
        .await
        .unwrap();
    let sealer = DynamoDbAuditLog::new(
        ddb,
        &table,
        sealer_powers(&kms, vec![place.dev.s("audit_seal_key")]).unwrap(),
        Arc::new(SystemClock),
        Duration::days(400),
    )
    .with_anchors(Arc::new(S3SealAnchors::new(
        aws_sdk_s3::Client::new(&place.config),
        place.dev.s("seal_bucket"),
    )));
    assert!(sealer.seal_due().await.unwrap().is_some());
    let queue = place.dev.s("events_queue_url");
    aws_sdk_cloudwatch::Client::new(&place.config)
        .put_metric_data()
        .namespace("AWS/SQS")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("NumberOfMessagesSent")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("QueueName")
                        .value(queue.rsplit('/').next().unwrap())
                        .build(),
                )
                .value(3.0)
                .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// `scimgw doctor --stack NAME` against moto, with the admin's tokens in `env`.
fn doctor_stack(name: &str, extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let moto = test_services::moto_url();
    let mut args = vec![
        "--stack",
        name,
        "--aws-endpoint",
        &moto,
        "--region",
        "us-east-1",
    ];
    args.extend_from_slice(extra);
    doctor(&args, env)
}

/// How many notes wait in the reads queue.
async fn notes_in(place: &Place, queue: &str) -> usize {
    let received = aws_sdk_sqs::Client::new(&place.config)
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    received.messages().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_stack_passes_and_a_tampered_trail_fails_the_audit_step() {
    // Arrange
    let place = Place::start("doctor-stack", &[]);
    for n in 0..3 {
        place.dev.create_user("doctor", n).await;
    }
    make_healthy(&place).await;
    let (name, reads_queue) = stack(&place, &[]).await;
    let scim_token = place.dev.s("scim_token");
    let hook_secret = place.dev.s("hook_secret");
    let env = [
        ("SCIMGW_DOCTOR_SCIM_TOKEN", scim_token.as_str()),
        ("SCIMGW_DOCTOR_HOOK_SECRET", hook_secret.as_str()),
    ];

    // Act
    let (healthy, healthy_text) = doctor_stack(&name, &[], &env);
    let (read, read_text) = doctor_stack(&name, &["--read-secrets"], &env);
    let victim = place.delete_a_record().await;
    let (tampered, tampered_text) = doctor_stack(&name, &[], &env);

    // Assert: every step ok, and with the secrets read too.
    assert_eq!(healthy, Some(0), "{healthy_text}");
    assert_eq!(
        healthy_text
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        8,
        "{healthy_text}"
    );
    assert!(
        healthy_text.ends_with(&format!("scimgw doctor: the stack {name} is healthy\n")),
        "{healthy_text}"
    );
    assert!(
        line(&healthy_text, "Identity Center token").contains("days left"),
        "{healthy_text}"
    );
    assert!(
        line(&healthy_text, "Okta event hook").contains("3 event(s) queued in 24 h"),
        "{healthy_text}"
    );
    assert_eq!(read, Some(0), "{read_text}");
    assert!(
        line(&read_text, "inbound token hashes").contains("your token is slot 1"),
        "{read_text}"
    );
    assert!(
        line(&read_text, "Identity Center token").contains("Identity Center accepts it"),
        "{read_text}"
    );
    // Each run noted its read of the audit table first.
    assert_eq!(notes_in(&place, &reads_queue).await, 3);
    // The tampered trail fails the audit step, naming the record.
    assert_eq!(tampered, Some(1), "{tampered_text}");
    let audit = line(&tampered_text, "audit trail over the last day");
    assert!(audit.starts_with("FAIL "), "{tampered_text}");
    assert!(
        audit.contains(&format!("deleted record {victim}")),
        "{audit}"
    );
    for text in [&healthy_text, &read_text, &tampered_text] {
        assert_nothing_secret(text, &place);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_missing_an_output_fails_the_first_step_naming_it() {
    // Arrange
    let place = Place::start("doctor-output", &[]);
    let (name, _) = stack(&place, &["AuditSealKeyArn"]).await;
    let scim_token = place.dev.s("scim_token");

    // Act
    let (code, text) = doctor_stack(
        &name,
        &[],
        &[("SCIMGW_DOCTOR_SCIM_TOKEN", scim_token.as_str())],
    );
    let (missing_stack, missing_text) = doctor_stack("doctor-no-such-stack", &[], &[]);

    // Assert
    assert_eq!(code, Some(1), "{text}");
    let outputs = line(&text, "stack outputs");
    assert!(outputs.starts_with("FAIL "), "{text}");
    assert!(outputs.contains("AuditSealKeyArn"), "{outputs}");
    assert!(outputs.contains("sam deploy"), "{outputs}");
    assert!(
        line(&text, "audit trail over the last day").starts_with("warning "),
        "{text}"
    );
    assert!(line(&text, "SCIM route").starts_with("ok "), "{text}");
    assert_eq!(missing_stack, Some(2), "{missing_text}");
    assert!(
        missing_text.contains("there is no stack doctor-no-such-stack"),
        "{missing_text}"
    );
    assert_nothing_secret(&text, &place);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_inbound_token_secret_fails_the_inbound_step() {
    // Arrange: the inbound hashes are replaced, before the gateway first reads them, by
    // a value that is not a list of SHA-256 hashes.
    let place = Place::start("doctor-inbound", &[]);
    let (name, _) = stack(&place, &[]).await;
    aws_sdk_secretsmanager::Client::new(&place.config)
        .put_secret_value()
        .secret_id(format!("{}/dev/scim-tokens", place.prefix))
        .secret_string(r#"{"token_sha256": ["not-a-hash"]}"#)
        .send()
        .await
        .unwrap();
    let scim_token = place.dev.s("scim_token");
    let env = [("SCIMGW_DOCTOR_SCIM_TOKEN", scim_token.as_str())];

    // Act
    let (code, text) = doctor_stack(&name, &[], &env);
    let (read, read_text) = doctor_stack(&name, &["--read-secrets"], &env);

    // Assert: in use, the gateway's 503 names the secret...
    assert_eq!(code, Some(1), "{text}");
    let inbound = line(&text, "inbound token hashes");
    assert!(inbound.starts_with("FAIL "), "{text}");
    assert!(
        inbound.contains("cannot use its inbound hashes"),
        "{inbound}"
    );
    assert!(inbound.contains("64 hex digits"), "{inbound}");
    assert!(line(&text, "SCIM route").starts_with("FAIL "), "{text}");
    // (Identity Center is not blamed for the gateway's own refusal.)
    assert!(
        line(&text, "Identity Center token").starts_with("warning "),
        "{text}"
    );
    // ...and read, the value itself is judged (never printed).
    assert_eq!(read, Some(1), "{read_text}");
    assert!(
        line(&read_text, "secrets set").contains("ScimTokensSecret is not well formed"),
        "{read_text}"
    );
    assert!(
        line(&read_text, "inbound token hashes").starts_with("FAIL "),
        "{read_text}"
    );
    for text in [&text, &read_text] {
        assert!(!text.contains("not-a-hash"), "{text}");
        assert_nothing_secret(text, &place);
    }
}
