//! Step 8 of `scimgw doctor --stack`: the audit trail over the last day, verified with
//! verifier material only after the read is noted on the reads queue (as `scimgw audit
//! --table` does), and its last seal recent.

use audit_ledger::LedgerBackend as _;
use gateway::audit_store::chain;
use time::OffsetDateTime;

use super::{PERIOD, Stack, StackCheck};
use crate::audit::{SourceArgs, Verifier, reads, table, verify_pages};
use crate::doctor::{Status, Step, one_line, problems_summary};

const STEP_AUDIT: &str = "audit trail over the last day";

/// The sealer seals each hour within about 20 minutes of its end; an hour's seal older
/// than this (from the end of the last sealed hour) is a warning...
const SEAL_WARN_AFTER: time::Duration = time::Duration::hours(2);
/// ...and older than this a failure: the sealer has not run for most of a day.
const SEAL_FAIL_AFTER: time::Duration = time::Duration::hours(24);

pub(super) async fn check_audit(
    aws: &aws_config::SdkConfig,
    stack: &Stack,
    check: &StackCheck,
) -> Step {
    let [table, mac_key, seal_key, bucket, reads_queue] = match stack.need(
        STEP_AUDIT,
        [
            "AuditTableName",
            "AuditMacKeyArn",
            "AuditSealKeyArn",
            "AuditAnchorBucketName",
            "AuditReadsQueueUrl",
        ],
    ) {
        Ok(outputs) => outputs,
        Err(step) => return step,
    };
    let until = OffsetDateTime::now_utc();
    let since = until - PERIOD;
    // Every read of the table is recorded in the trail first; no note, no read.
    let asked = reads::Asked::default()
        .with_time("since", Some(since))
        .with_time("until", Some(until));
    if reads::send_note(aws, reads_queue, "scimgw doctor".to_owned(), asked)
        .await
        .is_err()
    {
        return Step::fail(
            STEP_AUDIT,
            "the read could not be recorded on AuditReadsQueueUrl, so doctor read nothing: \
             your credentials need sqs:SendMessage on it (and kms:GenerateDataKey when the \
             stack has a KmsKeyArn)",
        );
    }
    let source = SourceArgs {
        table: Some(table.to_owned()),
        aws_endpoint: check.aws_endpoint.clone(),
        region: check.region.clone(),
        mac_key_ids: vec![mac_key.to_owned()],
        seal_key_ids: vec![seal_key.to_owned()],
        anchor_bucket: Some(bucket.to_owned()),
        reads_queue: Some(reads_queue.to_owned()),
        api: None,
        token: None,
    };
    let store = match table::open(table, &source).await {
        Ok(store) => store,
        Err(error) => {
            return Step::fail(
                STEP_AUDIT,
                format!("the audit table cannot be opened: {error:#}"),
            );
        }
    };
    let verify_flags = format!(
        "--table {table} --mac-key-ids {mac_key} --seal-key-ids {seal_key} --anchor-bucket \
         {bucket} --reads-queue {reads_queue}{}",
        check.aws_flags()
    );
    let since_text = since
        .replace_nanosecond(0)
        .unwrap_or(since)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let report = match verify_pages(&Verifier::Table(&store), since, until, |_, _| {}).await {
        Ok(report) => report,
        Err(error) => {
            return Step::fail(
                STEP_AUDIT,
                format!(
                    "the trail could not be verified ({}): your credentials need \
                     dynamodb:Query and GetItem on the table, kms:VerifyMac on \
                     AuditMacKeyArn, kms:GetPublicKey on AuditSealKeyArn, s3:ListBucket and \
                     GetObject on the anchor bucket",
                    one_line(&error.to_string())
                ),
            );
        }
    };
    let mut findings = Vec::new();
    if !report.intact {
        findings.push((
            Status::Fail,
            format!(
                "the last day is not intact, {}: `scimgw audit verify --since {since_text} \
                 {verify_flags}` lists each; treat what is not expiry as an incident \
                 (docs/deploy.md, AuditVerifyProblemsAlarm)",
                problems_summary(&report)
            ),
        ));
    }
    // Sealed recently: the seal pointer's last hour (the verification above judged it).
    let sealed_note = match store.ledger().backend().seal_head().await {
        Ok(head) => match head.and_then(|h| h.through) {
            None => {
                findings.push((
                    Status::Warning,
                    "nothing is sealed yet: the sealer seals each hour within 20 minutes of \
                     its end; if the stack is older, read the sealer function's log"
                        .to_owned(),
                ));
                String::new()
            }
            Some(through) => match chain::hour_start(&through) {
                Some(start) => {
                    let behind = until - (start + time::Duration::HOUR);
                    let hours = behind.whole_hours();
                    if behind > SEAL_FAIL_AFTER || behind > SEAL_WARN_AFTER {
                        let status = if behind > SEAL_FAIL_AFTER {
                            Status::Fail
                        } else {
                            Status::Warning
                        };
                        findings.push((
                            status,
                            format!(
                                "the last seal covers up to {through}, {hours} hours ago: the \
                                 sealer (every 15 minutes) is not sealing; read its log, or \
                                 seal now with `scimgw audit seal` from a role with the seal \
                                 key's kms:Sign"
                            ),
                        ));
                    }
                    format!("sealed through {through}")
                }
                None => {
                    findings.push((
                        Status::Fail,
                        format!("the seal pointer names no hour ({through:?}): verify it with `scimgw audit verify`"),
                    ));
                    String::new()
                }
            },
        },
        Err(_) => {
            findings.push((
                Status::Warning,
                "the seal pointer could not be read (dynamodb:GetItem on the audit table)"
                    .to_owned(),
            ));
            String::new()
        }
    };
    let note = format!("{} records intact; {sealed_note}", report.checked);
    Step::worst_of(STEP_AUDIT, findings, note.trim_end_matches("; ").to_owned())
}
