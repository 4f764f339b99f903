//! The docs' commands, run: every fenced block of README.md and docs/*.md whose info
//! string is `sh runnable` (optionally `sh runnable exit=N` for a documented non-zero
//! exit) runs with `bash -euo pipefail` against one `scimgw dev` started here and
//! moto's DynamoDB and Secrets Manager, in document order, in a scratch directory.
//!
//! What a block may use: `scimgw` on `PATH` (this build), `SCIM_URL` and `SCIM_TOKEN`
//! (the dev gateway's SCIM base URL and token), `AUDIT_URL` and `SCIMGW_AUDIT_TOKEN`
//! (its audit API and auditor token), `HOOK_URL`, `HOOK_SECRET`, `OKTA_URL` and
//! `OKTA_TOKEN` (its event hook and embedded Okta API), `DEV_INFO` (the file its
//! `--info-json` wrote), `examples/` (the repository's), AWS credentials
//! and `AWS_ENDPOINT_URL` pointing at moto, where the tables the docs name
//! (`scimgw-audit`, `scimgw-StateTable-1A2B3C4D`) exist, freshly made, with the audit
//! trail's keys, anchor bucket and reads queue as a stack's outputs name them:
//! `AUDIT_MAC_KEY_ARN`, `AUDIT_SEAL_KEY_ARN`, `AUDIT_ANCHOR_BUCKET` and
//! `AUDIT_READS_QUEUE_URL`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::dev_process::Dev;

/// The tables and bucket the runnable blocks name, as a stack would have them.
const AUDIT_TABLE: &str = "scimgw-audit";
const STATE_TABLE: &str = "scimgw-StateTable-1A2B3C4D";
const ANCHOR_BUCKET: &str = "scimgw-auditanchorbucket-1a2b3c4d";

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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md first, then docs/*.md by name.
fn all_blocks() -> Vec<Block> {
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
        .flat_map(|path| {
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            runnable_blocks(&name, &std::fs::read_to_string(path).unwrap())
        })
        .collect()
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
    (keys, reads_queue)
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
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );

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
            .env("AWS_ENDPOINT_URL", test_services::moto_url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
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
