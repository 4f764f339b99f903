//! The docs' commands, run: every fenced block of README.md and docs/*.md whose info
//! string is `sh runnable` (optionally `sh runnable exit=N` for a documented non-zero
//! exit) runs with `bash -euo pipefail` against one `scimgw dev` started here and
//! moto, in document order, in a scratch directory. Every other shell block says why it
//! is not run (`sh not-run <reason>`: it deploys to AWS, builds for minutes, reads from
//! the terminal, needs ids of your own); a shell block that says neither fails
//! [`every_shell_block_is_run_or_says_why_not`].
//!
//! What a block may use: `scimgw` on `PATH` (this build), `SCIM_URL` and `SCIM_TOKEN`
//! (the dev gateway's SCIM base URL and token), `AUDIT_URL` and `SCIMGW_AUDIT_TOKEN`
//! (its audit API and auditor token), `HOOK_URL`, `HOOK_SECRET`, `OKTA_URL` and
//! `OKTA_TOKEN` (its event hook and embedded Okta API), `DEV_INFO` (the file its
//! `--info-json` wrote), `examples/` (the repository's), AWS credentials
//! and `AWS_ENDPOINT_URL` pointing at moto, where the tables the docs name
//! (`scimgw-AuditTable-1A2B3C4D`, holding a few records, and `scimgw-StateTable-1A2B3C4D`) exist,
//! freshly made, with the audit trail's keys, anchor bucket and reads queue as a stack's
//! outputs name them: `AUDIT_MAC_KEY_ARN`, `AUDIT_SEAL_KEY_ARN`, `AUDIT_ANCHOR_BUCKET`
//! and `AUDIT_READS_QUEUE_URL`; and a CloudFormation stack `scimgw` in moto whose
//! outputs name all of these, the stack's secrets (`HOOK_SECRET_ARN` is its hook
//! secret's) and the dev gateway's URLs (`AUDITOR_ACCESS_TOKEN` is its auditor token),
//! read with `out NAME` as docs/deploy.md defines it.
//! The AWS CLI (`aws`) is the test venv's (`infra/test-services/requirements.txt`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::dev_process::Dev;

/// The tables and bucket the runnable blocks name, as a stack would have them.
const AUDIT_TABLE: &str = "scimgw-AuditTable-1A2B3C4D";
const STATE_TABLE: &str = "scimgw-StateTable-1A2B3C4D";
const ANCHOR_BUCKET: &str = "scimgw-auditanchorbucket-1a2b3c4d";

/// docs/deploy.md's `out NAME` (a stack output's value), exported to every block as the
/// reader's shell has it once defined.
const OUT_FUNCTION: &str = "() { aws cloudformation describe-stacks --stack-name scimgw \\\n  --query \"Stacks[0].Outputs[?OutputKey=='$1'].OutputValue\" --output text\n}";

/// One runnable block: where it is, what it runs, the exit code it must end with.
#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    script: String,
    exit: i32,
}

/// The `sh runnable` blocks of one Markdown document (fences may be indented, as in
/// lists; the body is de-indented by the fence's indentation).
fn runnable_blocks(file: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let words: Vec<&str> = info.split_whitespace().collect();
        let mut body = Vec::new();
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
            body.push(inner.get(indent..).unwrap_or(inner.trim_start()));
        }
        if words.first() != Some(&"sh") || words.get(1) != Some(&"runnable") {
            continue;
        }
        let mut exit = 0;
        for word in &words[2..] {
            match word.strip_prefix("exit=").map(str::parse) {
                Some(Ok(code)) => exit = code,
                _ => panic!("{file}:{}: unknown runnable option {word:?}", n + 1),
            }
        }
        blocks.push(Block {
            file: file.to_owned(),
            line: n + 1,
            script: body.join("\n"),
            exit,
        });
    }
    blocks
}

/// The shell blocks (`sh`, `bash`, `shell`, `console`) of one document that neither run
/// (`sh runnable`) nor say why not (`sh not-run <reason>`), as `file:line`.
fn unmarked_shell_blocks(file: &str, text: &str) -> Vec<String> {
    let mut unmarked = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        for (_, inner) in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                break;
            }
        }
        let words: Vec<&str> = info.split_whitespace().collect();
        let shell = words
            .first()
            .is_some_and(|w| ["sh", "bash", "shell", "console"].contains(w));
        let marked = match words.get(1) {
            Some(&"runnable") => true,
            Some(&"not-run") => words.len() > 2,
            _ => false,
        };
        if shell && !marked {
            unmarked.push(format!("{file}:{}", n + 1));
        }
    }
    unmarked
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md first, then docs/*.md by name: each with its name and text.
fn documents() -> Vec<(String, String)> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .iter()
        .map(|path| {
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            (name, std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

fn all_blocks() -> Vec<Block> {
    documents()
        .iter()
        .flat_map(|(name, text)| runnable_blocks(name, text))
        .collect()
}

#[test]
fn every_shell_block_is_run_or_says_why_not() {
    let unmarked: Vec<String> = documents()
        .iter()
        .flat_map(|(name, text)| unmarked_shell_blocks(name, text))
        .collect();
    assert!(
        unmarked.is_empty(),
        "shell blocks that neither run (```sh runnable) nor say why not (```sh not-run <reason>): {unmarked:?}"
    );
}

#[test]
fn a_shell_block_must_run_or_give_a_reason() {
    let doc = "```sh\nls\n```\n```sh runnable\nls\n```\n```sh not-run\nls\n```\n\
               ```sh not-run deploys to AWS\nls\n```\n```json\n{}\n```\n";
    assert_eq!(unmarked_shell_blocks("x.md", doc), ["x.md:1", "x.md:7"]);
}

/// Fresh copies of the tables the blocks name in moto, the anchor bucket, the reads
/// queue and the audit keys (made once per moto); the keys' ARNs and the queue's URL.
async fn prepare_moto() -> (aws_adapters::kms_audit_keys::AuditKeyArns, String) {
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    for table in [AUDIT_TABLE, STATE_TABLE] {
        // Left over from an earlier run against the same moto: start empty.
        let _ = ddb.delete_table().table_name(table).send().await;
    }
    aws_adapters::dynamodb_audit::create_table(&ddb, AUDIT_TABLE)
        .await
        .unwrap();
    aws_adapters::dynamodb_mirror::create_table(&ddb, STATE_TABLE)
        .await
        .unwrap();
    aws_adapters::s3_seal_anchors::create_bucket(
        &aws_sdk_s3::Client::new(&config),
        ANCHOR_BUCKET,
        1,
    )
    .await
    .unwrap();
    let (reads_queue, _) = aws_adapters::sqs_read_notes::create_read_queues(
        &aws_sdk_sqs::Client::new(&config),
        "scimgw-audit-reads",
        5,
    )
    .await
    .unwrap();
    let keys =
        aws_adapters::kms_audit_keys::ensure_keys(&aws_sdk_kms::Client::new(&config), "scimgw")
            .await
            .unwrap();
    seed_audit_records(&ddb, &aws_sdk_kms::Client::new(&config), &keys).await;
    (keys, reads_queue)
}

/// A few records in the audit table, written as the functions write them, so that the
/// docs' queries have something to find (ada@example.com's, as the docs ask about).
async fn seed_audit_records(
    ddb: &aws_sdk_dynamodb::Client,
    kms: &aws_sdk_kms::Client,
    keys: &aws_adapters::kms_audit_keys::AuditKeyArns,
) {
    use gateway::audit::{AuditLog, AuditOperation, Outcome};
    let log = aws_adapters::DynamoDbAuditLog::new(
        ddb.clone(),
        AUDIT_TABLE,
        aws_adapters::kms_audit_keys::writer_powers(kms, &keys.mac),
        std::sync::Arc::new(gateway::SystemClock),
        time::Duration::days(400),
    );
    for (n, (operation, outcome)) in [
        (AuditOperation::Create, Outcome::Success),
        (AuditOperation::Patch, Outcome::Success),
        (AuditOperation::Patch, Outcome::Refused),
    ]
    .into_iter()
    .enumerate()
    {
        // tamper.rs's record, about the user the docs' queries name.
        let mut record = crate::tamper::record(n as u32, time::OffsetDateTime::now_utc());
        record.subject.external_id = Some("00u1a2b3c4d5e6f7g8h9".into());
        record.subject.target_id = Some("906782b3f1-4f1a2b3c".into());
        record.subject.name = Some("ada@example.com".into());
        record.operation = operation;
        record.outcome = outcome;
        record.status = if outcome == Outcome::Refused {
            400
        } else {
            200
        };
        record.correlation_id = format!("docs-{n}");
        log.append(record).await.unwrap();
    }
}

/// The stack's secrets, as `scimgw-<Name>` in moto's Secrets Manager; their ARNs by
/// output name.
async fn prepare_secrets() -> Vec<(&'static str, String)> {
    let client = aws_sdk_secretsmanager::Client::new(&test_services::moto_sdk_config().await);
    let mut arns = Vec::new();
    for output in [
        "IdentityCenterTokenSecretArn",
        "ScimTokensSecretArn",
        "HookSecretArn",
        "OktaApiTokenSecretArn",
    ] {
        let name = format!("scimgw-{}", output.trim_end_matches("Arn"));
        let _ = client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        let made = client
            .create_secret()
            .name(&name)
            .secret_string("placeholder")
            .send()
            .await
            .unwrap();
        arns.push((output, made.arn().unwrap().to_owned()));
    }
    arns
}

/// The CloudFormation stack `scimgw` in moto: one stand-in resource and the outputs the
/// docs read with `out`, naming what this test made and the dev gateway's URLs.
fn create_stack(aws: &Path, outputs: &[(&str, String)]) {
    let outputs: serde_json::Map<String, serde_json::Value> = outputs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), serde_json::json!({"Value": value})))
        .collect();
    let template = serde_json::json!({
        "Resources": {"StandIn": {"Type": "AWS::SQS::Queue"}},
        "Outputs": outputs,
    });
    for args in [
        vec!["cloudformation", "delete-stack", "--stack-name", "scimgw"],
        vec![
            "cloudformation",
            "create-stack",
            "--stack-name",
            "scimgw",
            "--template-body",
            &template.to_string(),
        ],
    ] {
        let status = Command::new(aws)
            .args(&args)
            .envs(aws_env())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "aws {args:?}");
    }
}

/// The AWS settings every `aws` and `scimgw` the test runs gets: moto, fixed credentials.
fn aws_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", test_services::moto_url()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
    ]
}

fn info(dev: &Dev, key: &str) -> String {
    dev.s(key)
}

#[test]
fn readme_has_runnable_blocks() {
    let blocks = all_blocks();
    assert!(
        blocks.iter().any(|b| b.file == "README.md"),
        "README.md has no ```sh runnable block: the docs test would test nothing there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runnable_doc_blocks_pass() {
    // Arrange
    let blocks = all_blocks();
    assert!(!blocks.is_empty(), "no ```sh runnable block in the docs");
    let (keys, reads_queue) = prepare_moto().await;
    let dir = std::env::temp_dir().join(test_services::unique_name("scimgw-docs"));
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(repo_root().join("examples"), dir.join("examples")).unwrap();
    let dev = Dev::start(&dir, &[], &[]);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_scimgw")).parent().unwrap();
    // The AWS CLI from the test venv (scripts/services installs it).
    let venv_bin = repo_root().join(".venv").join("bin");
    let path = format!(
        "{}:{}:{}",
        bin_dir.display(),
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let secrets = prepare_secrets().await;
    let secret = |output: &str| {
        secrets
            .iter()
            .find(|(name, _)| *name == output)
            .map(|(_, arn)| arn.clone())
            .unwrap()
    };
    let mut outputs: Vec<(&str, String)> = vec![
        ("ScimBaseUrl", info(&dev, "scim_url")),
        ("AuditApiUrl", info(&dev, "audit_url")),
        ("AuditTableName", AUDIT_TABLE.into()),
        ("StateTableName", STATE_TABLE.into()),
        ("AuditMacKeyArn", keys.mac.clone()),
        ("AuditSealKeyArn", keys.seal.clone()),
        ("AuditAnchorBucketName", ANCHOR_BUCKET.into()),
        ("AuditReadsQueueUrl", reads_queue.clone()),
    ];
    outputs.extend(secrets.iter().cloned());
    let aws = venv_bin.join("aws");
    assert!(
        aws.exists(),
        "{} is missing: scripts/services installs the AWS CLI",
        aws.display()
    );
    create_stack(&aws, &outputs);

    // Act
    let mut failures = Vec::new();
    for block in &blocks {
        let script = block.script.clone();
        let mut command = Command::new("bash");
        command
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .env("PATH", &path)
            .env("SCIM_URL", info(&dev, "scim_url"))
            .env("SCIM_TOKEN", info(&dev, "scim_token"))
            .env("AUDIT_URL", info(&dev, "audit_url"))
            .env("SCIMGW_AUDIT_TOKEN", info(&dev, "auditor_token"))
            .env("HOOK_URL", info(&dev, "hook_url"))
            .env("HOOK_SECRET", info(&dev, "hook_secret"))
            .env("OKTA_URL", info(&dev, "okta_url"))
            .env("OKTA_TOKEN", info(&dev, "okta_token"))
            .env("DEV_INFO", dir.join("dev-info.json"))
            .env("AUDIT_MAC_KEY_ARN", &keys.mac)
            .env("AUDIT_SEAL_KEY_ARN", &keys.seal)
            .env("AUDIT_ANCHOR_BUCKET", ANCHOR_BUCKET)
            .env("AUDIT_READS_QUEUE_URL", &reads_queue)
            .env("HOOK_SECRET_ARN", secret("HookSecretArn"))
            .env("AUDITOR_ACCESS_TOKEN", info(&dev, "auditor_token"))
            // `out`, as docs/deploy.md defines it for the reader's shell ("3. Deploy").
            .env("BASH_FUNC_out%%", OUT_FUNCTION)
            .envs(aws_env())
            .env("SCIMGW_RULES_AUTHOR", "docs-test")
            .env("RUST_LOG", "error")
            .env_remove("SCIMGW_STATE_TABLE")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .env_remove("SCIMGW_AUDIT_MAC_KEY_IDS")
            .env_remove("SCIMGW_AUDIT_SEAL_KEY_IDS")
            .env_remove("SCIMGW_AUDIT_ANCHOR_BUCKET")
            .env_remove("SCIMGW_AUDIT_READS_QUEUE");
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let code = output.status.code().unwrap_or(-1);
        println!("{}:{}: exit {code}", block.file, block.line);
        if code != block.exit {
            failures.push(format!(
                "{}:{}: exited {code}, expected {}\n--- script\n{}\n--- stdout\n{}--- stderr\n{}",
                block.file,
                block.line,
                block.exit,
                block.script,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            ));
        }
    }
    drop(dev);
    let _ = std::fs::remove_dir_all(&dir);

    // Assert
    assert!(
        failures.is_empty(),
        "{} of {} runnable doc blocks failed:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

#[test]
fn runnable_blocks_are_found_with_their_line_and_exit_code() {
    let doc = "text\n```sh\nnot this\n```\n  ```sh runnable exit=1\n  false\n  ```\n";
    let blocks = runnable_blocks("x.md", doc);
    assert_eq!(blocks.len(), 1);
    assert_eq!(
        (blocks[0].line, blocks[0].script.as_str(), blocks[0].exit),
        (5, "false", 1)
    );
}
