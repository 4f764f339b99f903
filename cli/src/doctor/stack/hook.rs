//! Step 6 of `scimgw doctor --stack`: the Okta event hook. Its secret holds a value
//! (the hook is optional: without one the step only warns), Okta's verification call is
//! answered (with the hook secret given), events reached the events queue in the last
//! day (its CloudWatch `NumberOfMessagesSent`) and none waits in the dead-letter queue.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_sqs::types::QueueAttributeName;
use reqwest::StatusCode;

use super::{PERIOD, STEP_HOOK, Secret, Secrets, Stack, StackCheck};
use crate::doctor::{Status, Step, get_with};

pub(super) async fn check_hook(
    http: &reqwest::Client,
    aws: &aws_config::SdkConfig,
    stack: &Stack,
    check: &StackCheck,
    secrets: &Secrets,
) -> Step {
    let [hook_url, queue_url, dlq_url, state_table] = match stack.need(
        STEP_HOOK,
        [
            "HookUrl",
            "EventsQueueUrl",
            "EventsDeadLetterQueueUrl",
            "StateTableName",
        ],
    ) {
        Ok(outputs) => outputs,
        Err(step) => return step,
    };
    if !secrets.is_set(Secret::Hook) {
        return Step::warning(
            STEP_HOOK,
            "not set up: HookSecret holds no value, so the hook refuses every delivery \
             and Okta's events are not used; set it up (docs/okta-events.md, Setting up \
             the hook in Okta) unless you provision by SCIM alone",
        );
    }
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    if let Some(Err(why)) = &secrets.hook_hashes {
        findings.push((
            Status::Fail,
            format!(
                "HookSecret is not well formed ({why}): put {{\"token_sha256\": [\"<64 hex \
                 digits>\"]}} of the secret Okta sends (docs/okta-events.md)"
            ),
        ));
    }
    // Okta's one-time verification call, with the secret Okta sends.
    match &check.hook_secret {
        Some(secret) => {
            let challenge = format!("scimgw-doctor-{}", uuid::Uuid::new_v4());
            let answer = get_with(
                http,
                hook_url,
                &[
                    ("authorization", secret),
                    (edge::hook::VERIFICATION_HEADER, &challenge),
                ],
            )
            .await;
            match answer {
                Ok((StatusCode::OK, Some(body))) if body["verification"] == challenge => {
                    notes.push("answers Okta's verification".to_owned());
                }
                Ok((StatusCode::UNAUTHORIZED, _)) => findings.push((
                    Status::Fail,
                    "the hook refuses your hook secret (401): it matches none of the hashes \
                     in HookSecret; check the secret (Okta's Authorization header value), or \
                     put its SHA-256 in HookSecret (docs/okta-events.md)"
                        .to_owned(),
                )),
                Ok((StatusCode::SERVICE_UNAVAILABLE, _)) => findings.push((
                    Status::Fail,
                    "the hook answers 503: it cannot use HookSecret (the okta-hook function's \
                     log names why); put {\"token_sha256\": [\"<64 hex digits>\"]}"
                        .to_owned(),
                )),
                Ok((status, _)) => findings.push((
                    Status::Fail,
                    format!(
                        "{hook_url} answered {status} to Okta's verification call: is HookUrl \
                         the hook's? See the okta-hook function's log"
                    ),
                )),
                Err(why) => findings.push((Status::Fail, format!("{why}: check HookUrl"))),
            }
        }
        None => notes.push("verification not tried (no SCIMGW_DOCTOR_HOOK_SECRET)".to_owned()),
    }
    // Deliveries in the last day: what the hook put on the events queue.
    let queue_name = queue_url.rsplit('/').next().unwrap_or(queue_url);
    match messages_sent(aws, queue_name).await {
        Ok(0) => findings.push((
            Status::Warning,
            "no event reached the events queue in the last 24 hours: Okta may have been \
             quiet; if not, check that the hook is Verified and Active (Okta Admin Console, \
             Workflow, Event Hooks) and read the okta-hook function's log"
                .to_owned(),
        )),
        Ok(sent) => notes.push(format!("{sent} event(s) queued in 24 h")),
        Err(why) => findings.push((
            Status::Warning,
            format!("deliveries not counted: {why} (needs cloudwatch:GetMetricStatistics)"),
        )),
    }
    // Nothing waiting in the dead-letter queue.
    match dead_letters(aws, dlq_url).await {
        Ok(0) => notes.push("dead-letter queue empty".to_owned()),
        Ok(n) => findings.push((
            Status::Fail,
            format!(
                "{n} event(s) failed and wait in the dead-letter queue, not applied to \
                 Identity Center: `scimgw events dlq list --dlq-url {dlq_url} --table \
                 {state_table}{}` shows why; fix the cause, then replay or discard them",
                check.aws_flags()
            ),
        )),
        Err(why) => findings.push((
            Status::Warning,
            format!("the dead-letter queue not checked: {why} (needs sqs:GetQueueAttributes)"),
        )),
    }
    Step::worst_of(STEP_HOOK, findings, notes.join("; "))
}

/// The events queue's `NumberOfMessagesSent` over the last [`PERIOD`].
async fn messages_sent(aws: &aws_config::SdkConfig, queue_name: &str) -> Result<u64, String> {
    let now = SystemTime::now();
    let since = now - Duration::from_secs(PERIOD.whole_seconds().unsigned_abs());
    // The end a minute ahead: the request's times are whole seconds, and a datapoint of
    // this very second must count.
    let end = now + Duration::from_secs(60);
    let answer = aws_sdk_cloudwatch::Client::new(aws)
        .get_metric_statistics()
        .namespace("AWS/SQS")
        .metric_name("NumberOfMessagesSent")
        .dimensions(
            Dimension::builder()
                .name("QueueName")
                .value(queue_name)
                .build(),
        )
        .start_time(since.into())
        .end_time(end.into())
        .period(i32::try_from(PERIOD.whole_seconds()).unwrap_or(86_400))
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_cloudwatch::error::ProvideErrorMetadata as _;
            e.code().map_or_else(
                || "CloudWatch did not answer".to_owned(),
                |c| format!("CloudWatch said {c}"),
            )
        })?;
    let sum: f64 = answer.datapoints().iter().filter_map(|d| d.sum()).sum();
    // A count of messages: whole and far below u64's range.
    Ok(sum.max(0.0).round() as u64)
}

/// How many messages wait in the queue at `url`.
async fn dead_letters(aws: &aws_config::SdkConfig, url: &str) -> Result<u64, String> {
    let answer = aws_sdk_sqs::Client::new(aws)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_sqs::error::ProvideErrorMetadata as _;
            e.code().map_or_else(
                || "SQS did not answer".to_owned(),
                |c| format!("SQS said {c}"),
            )
        })?;
    answer
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| "SQS gave no count".to_owned())
}
