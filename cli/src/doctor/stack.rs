//! `scimgw doctor --stack NAME`: checks a deployed stack from an admin's machine, with
//! the admin's own AWS credentials from the default chain, in the order the chain runs:
//!
//! 1. the stack's outputs (CloudFormation `DescribeStacks`);
//! 2. the four secrets hold a value (their version metadata, `ListSecretVersionIds`),
//!    and with `--read-secrets` (a break-glass session) that each value is well formed;
//! 3. the Identity Center token: the days left of its year (from when its value was
//!    put), and that Identity Center accepts it: through the gateway (a one-user list
//!    with the admin's inbound token), or directly with `--read-secrets`;
//! 4. the inbound token hashes: well formed and matching the admin's token, as the
//!    gateway's answer shows them (or read, with `--read-secrets`);
//! 5. the SCIM route (`ScimBaseUrl`) answering `ServiceProviderConfig`;
//! 6. the Okta event hook: its secret, Okta's verification call (with the hook secret
//!    given), deliveries in the last day (the events queue's `NumberOfMessagesSent` in
//!    CloudWatch) and the dead-letter queue empty;
//! 7. the active rule set in the state table loads;
//! 8. the audit trail over the last day verifies (verifier material only, the read
//!    noted on the reads queue first, as `scimgw audit --table` does) and was sealed
//!    within the last two hours.
//!
//! The secrets' values are not read unless asked: the stack's fences deny
//! `GetSecretValue` to everyone but the functions and the break-glass roles, and alarm
//! on every attempt (docs/deploy.md, Fences). Nothing read is ever printed.

mod audit;
mod hook;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_adapters::{SecretVersionAge, SecretsManagerSource};
use aws_sdk_cloudformation::error::DisplayErrorContext;
use edge::InboundTokens;
use gateway::{SecretError, SecretId, SecretSource, SecretString};
use reqwest::StatusCode;
use serde_json::Value;

use super::{
    Report, STEP_RULES, Status, Step, check_rule_store, get, get_with, http_client,
    is_service_provider_config, one_line,
};
use crate::audit::table;

/// How long one HTTP check may take: a cold Lambda in front of Identity Center, within
/// the gateway's own 20-second budget.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Identity Center's SCIM tokens expire a year after they are made.
const TOKEN_LIFETIME_DAYS: i64 = 365;
/// Fewer days left than this is a warning.
const TOKEN_WARN_DAYS: i64 = 30;

/// How far back the trail is verified and deliveries are counted.
const PERIOD: time::Duration = time::Duration::days(1);

const STEP_OUTPUTS: &str = "stack outputs";
const STEP_SECRETS: &str = "secrets set";
const STEP_IC_TOKEN: &str = "Identity Center token";
const STEP_INBOUND: &str = "inbound token hashes";
const STEP_SCIM: &str = "SCIM route";
const STEP_HOOK: &str = "Okta event hook";

/// The outputs doctor uses (template.yaml's `Outputs:`).
const OUTPUTS: [&str; 14] = [
    "ScimBaseUrl",
    "HookUrl",
    "IdentityCenterTokenSecretArn",
    "ScimTokensSecretArn",
    "HookSecretArn",
    "OktaApiTokenSecretArn",
    "StateTableName",
    "AuditTableName",
    "AuditMacKeyArn",
    "AuditSealKeyArn",
    "AuditAnchorBucketName",
    "AuditReadsQueueUrl",
    "EventsQueueUrl",
    "EventsDeadLetterQueueUrl",
];

/// The stack parameter naming Identity Center's SCIM endpoint.
const ENDPOINT_PARAMETER: &str = "IdentityCenterScimEndpoint";

/// What `scimgw doctor --stack` was asked to check. No `Debug`: it holds tokens.
pub struct StackCheck {
    pub name: String,
    pub region: Option<String>,
    pub aws_endpoint: Option<String>,
    /// An inbound SCIM token, as Okta sends it.
    pub scim_token: Option<String>,
    /// The event hook's shared secret, as Okta sends it.
    pub hook_secret: Option<String>,
    /// Read the secrets' values (a break-glass session).
    pub read_secrets: bool,
}

impl StackCheck {
    fn subject(&self) -> String {
        format!("the stack {}", self.name)
    }

    /// The options that point another scimgw command at the same account.
    fn aws_flags(&self) -> String {
        let mut flags = String::new();
        if let Some(region) = &self.region {
            flags.push_str(&format!(" --region {region}"));
        }
        if let Some(endpoint) = &self.aws_endpoint {
            flags.push_str(&format!(" --aws-endpoint {endpoint}"));
        }
        flags
    }
}

/// What DescribeStacks said.
struct Stack {
    /// Its status, e.g. `UPDATE_COMPLETE`.
    status: String,
    outputs: HashMap<String, String>,
    parameters: HashMap<String, String>,
}

impl Stack {
    /// The outputs `names`, or the step that says which are missing.
    fn need<const N: usize>(
        &self,
        step: &'static str,
        names: [&str; N],
    ) -> Result<[&str; N], Step> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| self.outputs.get(*n).is_none_or(|v| v.trim().is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(Step::warning(
                step,
                format!(
                    "not checked: the stack has no {} output (see {STEP_OUTPUTS})",
                    missing.join(", ")
                ),
            ));
        }
        Ok(names.map(|n| self.outputs[n].trim()))
    }
}

/// Runs every step against the stack.
pub async fn check_stack(check: &StackCheck) -> Report {
    let could_not_run = |fix: String| Report {
        subject: check.subject(),
        steps: vec![Step::fail(STEP_OUTPUTS, fix)],
        could_not_run: true,
    };
    let aws = match table::aws_config(check.aws_endpoint.as_deref(), check.region.as_deref()).await
    {
        Ok(aws) => aws,
        Err(error) => return could_not_run(format!("{error:#}")),
    };
    let Some(http) = http_client(REQUEST_TIMEOUT) else {
        return could_not_run("the HTTP client could not be built".to_owned());
    };
    let stack = match describe(&aws, check).await {
        Ok(stack) => stack,
        Err(fix) => return could_not_run(fix),
    };
    let mut steps = vec![check_outputs(&stack)];
    let secrets = check_secrets(&aws, &stack, check).await;
    steps.push(secrets.step.clone());
    let spc = match (stack.outputs.get("ScimBaseUrl"), &check.scim_token) {
        (Some(base), Some(token)) => Some(
            get(
                &http,
                &format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
                token,
            )
            .await,
        ),
        (Some(base), None) => Some(
            get_with(
                &http,
                &format!("{}/ServiceProviderConfig", base.trim_end_matches('/')),
                &[],
            )
            .await,
        ),
        (None, _) => None,
    };
    steps.push(check_ic_token(&http, &stack, check, &secrets, spc.as_ref()).await);
    steps.push(check_inbound(&stack, check, &secrets, spc.as_ref()));
    steps.push(check_scim(&stack, check, spc.as_ref()));
    steps.push(hook::check_hook(&http, &aws, &stack, check, &secrets).await);
    steps.push(check_rules(&stack, check).await);
    steps.push(audit::check_audit(&aws, &stack, check).await);
    Report {
        subject: check.subject(),
        steps,
        could_not_run: false,
    }
}

// ---------------------------------------------------------------------------------------
// 1. The stack's outputs

async fn describe(aws: &aws_config::SdkConfig, check: &StackCheck) -> Result<Stack, String> {
    let where_ = check
        .region
        .as_deref()
        .map_or_else(|| "your default region".to_owned(), str::to_owned);
    let described = aws_sdk_cloudformation::Client::new(aws)
        .describe_stacks()
        .stack_name(&check.name)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
            match e.code() {
                Some("ValidationError") => format!(
                    "there is no stack {} in {where_}: check --stack and --region \
                     (CloudFormation console, Stacks)",
                    check.name
                ),
                Some("AccessDenied" | "AccessDeniedException") => format!(
                    "your credentials may not describe the stack {}: they need \
                     cloudformation:DescribeStacks",
                    check.name
                ),
                _ => format!(
                    "CloudFormation did not answer: {} (are your AWS credentials set? `aws \
                     sts get-caller-identity` says)",
                    one_line(&DisplayErrorContext(&e).to_string())
                ),
            }
        })?;
    let Some(found) = described.stacks().first() else {
        return Err(format!("there is no stack {} in {where_}", check.name));
    };
    let status = found
        .stack_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let outputs = found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let parameters = found
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_owned(),
                p.parameter_value()?.to_owned(),
            ))
        })
        .collect();
    match status.as_str() {
        "CREATE_FAILED" | "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_COMPLETE"
        | "DELETE_IN_PROGRESS" | "DELETE_FAILED" => Err(format!(
            "the stack {} is {status}: it was never deployed whole; read its events \
             (CloudFormation console, Events), fix the cause and deploy again (`sam deploy`)",
            check.name
        )),
        _ => Ok(Stack {
            status,
            outputs,
            parameters,
        }),
    }
}

fn check_outputs(stack: &Stack) -> Step {
    let missing: Vec<&str> = OUTPUTS
        .iter()
        .copied()
        .filter(|n| stack.outputs.get(*n).is_none_or(|v| v.trim().is_empty()))
        .collect();
    let status = stack.status.as_str();
    let mut findings = Vec::new();
    if !missing.is_empty() {
        findings.push((
            Status::Fail,
            format!(
                "the stack has no {} output: deploy the current template.yaml (`sam build && \
                 sam deploy`)",
                missing.join(", ")
            ),
        ));
    }
    if status.ends_with("_IN_PROGRESS") {
        findings.push((
            Status::Warning,
            format!("the stack is {status}: check again when it is complete"),
        ));
    } else if status.contains("ROLLBACK") || status.ends_with("_FAILED") {
        findings.push((
            Status::Warning,
            format!(
                "the stack is {status}: its last update did not apply; read its events \
                 (CloudFormation console, Events)"
            ),
        ));
    }
    Step::worst_of(STEP_OUTPUTS, findings, String::new())
}

// ---------------------------------------------------------------------------------------
// 2. The secrets

/// One of the stack's secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secret {
    IdentityCenterToken,
    ScimTokens,
    Hook,
    OktaApiToken,
}

impl Secret {
    const ALL: [Secret; 4] = [
        Secret::IdentityCenterToken,
        Secret::ScimTokens,
        Secret::Hook,
        Secret::OktaApiToken,
    ];

    fn output(self) -> &'static str {
        match self {
            Secret::IdentityCenterToken => "IdentityCenterTokenSecretArn",
            Secret::ScimTokens => "ScimTokensSecretArn",
            Secret::Hook => "HookSecretArn",
            Secret::OktaApiToken => "OktaApiTokenSecretArn",
        }
    }

    /// Where its docs say how to put it.
    fn how(self) -> &'static str {
        match self {
            Secret::IdentityCenterToken | Secret::ScimTokens => "docs/deploy.md, step 4",
            Secret::Hook | Secret::OktaApiToken => {
                "docs/okta-events.md, Setting up the hook in Okta"
            }
        }
    }

    /// Whether it holds SHA-256 hashes (`{"token_sha256": [...]}`) rather than a token.
    fn holds_hashes(self) -> bool {
        matches!(self, Secret::ScimTokens | Secret::Hook)
    }
}

/// What the secrets step found, for the later steps.
#[derive(Clone)]
struct Secrets {
    step: Step,
    /// When each secret's current value was put; absent when it has none or that could
    /// not be read.
    set: HashMap<&'static str, SystemTime>,
    /// With `--read-secrets`: the Identity Center token.
    ic_token: Option<SecretString>,
    /// With `--read-secrets`: the inbound hashes as parsed, or why they do not parse.
    scim_hashes: Option<Result<InboundTokens, String>>,
    /// With `--read-secrets`: the hook's hashes as parsed, or why they do not parse.
    hook_hashes: Option<Result<InboundTokens, String>>,
}

impl Secrets {
    fn is_set(&self, secret: Secret) -> bool {
        self.set.contains_key(secret.output())
    }
}

async fn check_secrets(aws: &aws_config::SdkConfig, stack: &Stack, check: &StackCheck) -> Secrets {
    let mut secrets = Secrets {
        step: Step::ok(STEP_SECRETS),
        set: HashMap::new(),
        ic_token: None,
        scim_hashes: None,
        hook_hashes: None,
    };
    let client = aws_sdk_secretsmanager::Client::new(aws);
    let ages = SecretVersionAge::new(client.clone());
    let values = SecretsManagerSource::new(client, Duration::ZERO);
    let mut findings = Vec::new();
    let mut missing_outputs = Vec::new();
    for secret in Secret::ALL {
        let Some(arn) = stack.outputs.get(secret.output()) else {
            missing_outputs.push(secret.output());
            continue;
        };
        let id = SecretId::new(arn.trim());
        let name = secret.output().trim_end_matches("Arn");
        match ages.current_version_created(&id).await {
            Ok(created) => {
                secrets.set.insert(secret.output(), created);
            }
            // The event path is optional: without it, Okta's events are not used (step 6
            // says more), while SCIM provisioning works.
            Err(SecretError::NoValue(_))
                if matches!(secret, Secret::Hook | Secret::OktaApiToken) =>
            {
                findings.push((
                    Status::Warning,
                    format!(
                        "{name} has no value yet: the event path is not set up; put it when \
                         you set up the hook ({})",
                        secret.how()
                    ),
                ));
            }
            Err(error) => {
                findings.push((Status::Fail, secret_problem(name, secret, &error)));
                continue;
            }
        }
        if !check.read_secrets || !secrets.is_set(secret) {
            continue;
        }
        match values.get_fresh(&id).await {
            Err(error) => findings.push((Status::Fail, secret_problem(name, secret, &error))),
            Ok(value) if secret.holds_hashes() => {
                let parsed = InboundTokens::parse(value.expose()).map_err(|e| e.to_string());
                if let Err(why) = &parsed {
                    findings.push((
                        Status::Fail,
                        format!(
                            "{name} is not well formed ({why}): put {{\"token_sha256\": \
                             [\"<64 hex digits>\"]}} ({})",
                            secret.how()
                        ),
                    ));
                }
                match secret {
                    Secret::ScimTokens => secrets.scim_hashes = Some(parsed),
                    _ => secrets.hook_hashes = Some(parsed),
                }
            }
            Ok(value) => {
                if let Some(why) = token_form_problem(value.expose()) {
                    findings.push((
                        Status::Fail,
                        format!(
                            "{name} {why}: put the token exactly as it was shown, with \
                             `printf %s` rather than `echo` ({})",
                            secret.how()
                        ),
                    ));
                }
                if secret == Secret::IdentityCenterToken {
                    secrets.ic_token = Some(value);
                }
            }
        }
    }
    if !missing_outputs.is_empty() {
        findings.push((
            Status::Warning,
            format!(
                "not checked: the stack has no {} output (see {STEP_OUTPUTS})",
                missing_outputs.join(", ")
            ),
        ));
    }
    let note = if check.read_secrets {
        "each holds a value, well formed".to_owned()
    } else {
        "each holds a value; their form is checked in use, below".to_owned()
    };
    secrets.step = Step::worst_of(STEP_SECRETS, findings, note);
    secrets
}

/// Why a secret could not be used, and the fix (never its value: the errors name ids).
fn secret_problem(name: &str, secret: Secret, error: &SecretError) -> String {
    match error {
        SecretError::NoValue(_) => {
            format!("{name} has no value yet: put it ({})", secret.how())
        }
        SecretError::NotFound(_) => format!(
            "{name} (the stack's {} output) does not exist: was it deleted? Deploy the \
             stack again (`sam deploy`) and put its value ({})",
            secret.output(),
            secret.how()
        ),
        SecretError::AccessDenied(_) => format!(
            "you may not read {name}: its metadata needs secretsmanager:ListSecretVersionIds \
             (and, with --read-secrets, a break-glass role: the stack's fences refuse \
             GetSecretValue to everyone else)"
        ),
        SecretError::Transport(_) => {
            format!("Secrets Manager did not answer about {name}: try again")
        }
    }
}

/// What is wrong with a plain token's form, if anything.
fn token_form_problem(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        Some("is empty")
    } else if token.trim() != token {
        Some("has spaces or a line break around the token")
    } else if token.starts_with('{') {
        Some("holds JSON, not the plain token")
    } else if !token.chars().all(|c| c.is_ascii_graphic()) {
        Some("holds spaces or characters a bearer token cannot have")
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// 3. The Identity Center token

async fn check_ic_token(
    http: &reqwest::Client,
    stack: &Stack,
    check: &StackCheck,
    secrets: &Secrets,
    spc: Option<&SpcAnswer>,
) -> Step {
    let Some(created) = secrets.set.get(Secret::IdentityCenterToken.output()) else {
        return Step::warning(
            STEP_IC_TOKEN,
            format!("not checked: its secret holds no value (see {STEP_SECRETS})"),
        );
    };
    let mut findings = Vec::new();
    let age_days = i64::try_from(
        SystemTime::now()
            .duration_since(*created)
            .unwrap_or_default()
            .as_secs()
            / 86_400,
    )
    .unwrap_or(i64::MAX);
    let left = TOKEN_LIFETIME_DAYS - age_days;
    let renew = "make a new one (IAM Identity Center console, Settings, Identity source, \
         Automatic provisioning, Generate token) and put it in IdentityCenterTokenSecret \
         (docs/deploy.md, step 4)";
    if left <= 0 {
        findings.push((
            Status::Fail,
            format!(
                "its value was put {age_days} days ago: the token has expired (a year after \
                 it was made); {renew}"
            ),
        ));
    } else if left < TOKEN_WARN_DAYS {
        findings.push((
            Status::Warning,
            format!("at most {left} days left before it expires: {renew}"),
        ));
    }
    let refused = format!("Identity Center refuses the token: {renew}");
    let accepted = match (&secrets.ic_token, stack.parameters.get(ENDPOINT_PARAMETER)) {
        // Directly, with the token read (a break-glass session).
        (Some(token), Some(endpoint)) => {
            let url = format!("{}/Users?count=1", endpoint.trim_end_matches('/'));
            match get(http, &url, token.expose()).await {
                Ok((StatusCode::OK, _)) => "Identity Center accepts it",
                Ok((StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _)) => {
                    findings.push((Status::Fail, refused));
                    ""
                }
                Ok((status, _)) => {
                    findings.push((
                        Status::Fail,
                        format!(
                            "Identity Center answered {status} to a one-user list: check the \
                             {ENDPOINT_PARAMETER} parameter (the console's SCIM endpoint)"
                        ),
                    ));
                    ""
                }
                Err(why) => {
                    findings.push((
                        Status::Fail,
                        format!("{why}: check the {ENDPOINT_PARAMETER} parameter"),
                    ));
                    ""
                }
            }
        }
        // Through the gateway, which calls Identity Center with it, once it has taken the
        // admin's token (ServiceProviderConfig calls no target: a failure there is the
        // gateway's own, which steps 4 and 5 name).
        _ => match (stack.outputs.get("ScimBaseUrl"), &check.scim_token) {
            (Some(_), Some(_)) if !matches!(spc, Some(Ok((StatusCode::OK, _)))) => {
                findings.push((
                    Status::Warning,
                    format!(
                        "not checked through the gateway: it did not take your token (see \
                         {STEP_INBOUND} and {STEP_SCIM})"
                    ),
                ));
                ""
            }
            (Some(base), Some(token)) => {
                let url = format!("{}/Users?count=1", base.trim_end_matches('/'));
                match get(http, &url, token).await {
                    Ok((StatusCode::OK, _)) => "the gateway's call with it is accepted",
                    Ok((status, body)) if status.is_server_error() => {
                        let said = scim_detail(body.as_ref());
                        findings.push((
                            Status::Fail,
                            format!(
                                "the gateway answered {status} to a one-user list{said}: if \
                                 the SCIM function's log (ScimApiLogGroup) shows Identity \
                                 Center's 401, {refused}"
                            ),
                        ));
                        ""
                    }
                    // The token or the route: steps 4 and 5 say which.
                    Ok(_) | Err(_) => {
                        findings.push((
                            Status::Warning,
                            format!(
                                "not checked through the gateway: it did not take your \
                                 token (see {STEP_INBOUND} and {STEP_SCIM})"
                            ),
                        ));
                        ""
                    }
                }
            }
            _ => {
                findings.push((
                    Status::Warning,
                    "acceptance not checked: give an inbound SCIM token in \
                     SCIMGW_DOCTOR_SCIM_TOKEN (the gateway calls Identity Center with its \
                     token), or use --read-secrets from a break-glass session"
                        .to_owned(),
                ));
                ""
            }
        },
    };
    let note = format!("{accepted}; about {left} days left")
        .trim_start_matches("; ")
        .to_owned();
    Step::worst_of(STEP_IC_TOKEN, findings, note)
}

/// `: "<detail>"` of a SCIM error body, on one line, when it has one.
fn scim_detail(body: Option<&Value>) -> String {
    body.and_then(|b| b["detail"].as_str())
        .map(|d| format!(" (\"{}\")", one_line(d)))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// 4 and 5. The inbound hashes and the SCIM route

type SpcAnswer = super::Answer;

fn check_inbound(
    stack: &Stack,
    check: &StackCheck,
    secrets: &Secrets,
    spc: Option<&SpcAnswer>,
) -> Step {
    if !secrets.is_set(Secret::ScimTokens) && stack.outputs.contains_key("ScimTokensSecretArn") {
        return Step::fail(
            STEP_INBOUND,
            format!("ScimTokensSecret holds no value (see {STEP_SECRETS})"),
        );
    }
    let put = "put the SHA-256 of the token Okta sends in ScimTokensSecret, as \
         {\"token_sha256\": [\"<64 hex digits>\"]} (docs/deploy.md, step 4)";
    // Read (a break-glass session): judge the hashes themselves.
    if let Some(parsed) = &secrets.scim_hashes {
        return match (parsed, &check.scim_token) {
            (Err(why), _) => Step::fail(STEP_INBOUND, format!("{why}: {put}")),
            (Ok(hashes), Some(token)) => match hashes.matching_slot(token) {
                Some(slot) => Step::ok_with(STEP_INBOUND, format!("your token is slot {slot}")),
                None => Step::fail(
                    STEP_INBOUND,
                    format!("your token matches none of the hashes: check it, or {put}"),
                ),
            },
            (Ok(_), None) => Step::ok_with(STEP_INBOUND, "well formed"),
        };
    }
    // In use: what the gateway answered the ServiceProviderConfig call.
    let Some(answer) = spc else {
        return Step::warning(
            STEP_INBOUND,
            "not checked: the stack has no ScimBaseUrl output (see stack outputs)",
        );
    };
    match (answer, &check.scim_token) {
        (Ok((StatusCode::SERVICE_UNAVAILABLE, body)), _) => Step::fail(
            STEP_INBOUND,
            format!(
                "the gateway cannot use its inbound hashes{}: {put}",
                scim_detail(body.as_ref())
            ),
        ),
        (_, None) => Step::warning(
            STEP_INBOUND,
            "not checked: give an inbound SCIM token in SCIMGW_DOCTOR_SCIM_TOKEN, or use \
             --read-secrets from a break-glass session",
        ),
        (Ok((StatusCode::OK, _)), Some(_)) => {
            Step::ok_with(STEP_INBOUND, "well formed: the gateway accepts your token")
        }
        (Ok((StatusCode::UNAUTHORIZED, _)), Some(_)) => Step::fail(
            STEP_INBOUND,
            format!(
                "the gateway refuses your token (401): it matches none of the hashes in \
                 ScimTokensSecret; check the token (Okta's API Token), or {put}"
            ),
        ),
        (_, Some(_)) => Step::warning(
            STEP_INBOUND,
            format!("not checked: the SCIM route did not answer as the gateway (see {STEP_SCIM})"),
        ),
    }
}

fn check_scim(stack: &Stack, check: &StackCheck, spc: Option<&SpcAnswer>) -> Step {
    let Some(answer) = spc else {
        return Step::warning(
            STEP_SCIM,
            "not checked: the stack has no ScimBaseUrl output (see stack outputs)",
        );
    };
    let url = stack.outputs.get("ScimBaseUrl").map_or("", String::as_str);
    match answer {
        Err(why) => Step::fail(
            STEP_SCIM,
            format!(
                "{why}: check ScimBaseUrl (with PublicBaseUrl, its custom domain's DNS and \
                 certificate)"
            ),
        ),
        Ok((StatusCode::OK, Some(body))) if is_service_provider_config(body) => {
            Step::ok_with(STEP_SCIM, "answers ServiceProviderConfig")
        }
        Ok((StatusCode::UNAUTHORIZED, _)) if check.scim_token.is_none() => Step::warning(
            STEP_SCIM,
            "it answers (401 without a token) but was not called as Okta calls it: give an \
             inbound SCIM token in SCIMGW_DOCTOR_SCIM_TOKEN",
        ),
        Ok((StatusCode::UNAUTHORIZED, _)) => Step::warning(
            STEP_SCIM,
            format!("it answers, but refused your token (see {STEP_INBOUND})"),
        ),
        Ok((StatusCode::FORBIDDEN, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "{url} answered 403: the web ACL refuses your address (OktaIpAllowList lets \
                 only Okta's in), or ScimBaseUrl is not the API's SCIM URL; run doctor from \
                 an allowed address, or use Okta's Test API Credentials"
            ),
        ),
        Ok((StatusCode::SERVICE_UNAVAILABLE, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "the gateway answers 503: a secret it needs cannot be used (see \
                 {STEP_INBOUND}; the SCIM function's log, ScimApiLogGroup, names which)"
            ),
        ),
        Ok((StatusCode::OK, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "{url}/ServiceProviderConfig answered 200 but not with a SCIM \
                 ServiceProviderConfig: is ScimBaseUrl (or PublicBaseUrl) the gateway's?"
            ),
        ),
        Ok((status, _)) => Step::fail(
            STEP_SCIM,
            format!(
                "{url}/ServiceProviderConfig answered {status}: see the SCIM function's log \
                 (ScimApiLogGroup)"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// 7. The active rule set

async fn check_rules(stack: &Stack, check: &StackCheck) -> Step {
    let [table] = match stack.need(STEP_RULES, ["StateTableName"]) {
        Ok(outputs) => outputs,
        Err(step) => return step,
    };
    let place = crate::rules::StoreArgs {
        table: Some(table.to_owned()),
        aws_endpoint: check.aws_endpoint.clone(),
        region: check.region.clone(),
    };
    match crate::rules::open_store(&place).await {
        Ok(store) => {
            check_rule_store(&store, &format!("--table {table}{}", check.aws_flags())).await
        }
        Err(error) => Step::fail(
            STEP_RULES,
            format!("the state table cannot be opened: {error:#}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_token_must_be_bare_printable_text() {
        assert_eq!(token_form_problem("abc.DEF-123_x"), None);
        assert_eq!(token_form_problem(""), Some("is empty"));
        assert!(token_form_problem("abc\n").unwrap().contains("line break"));
        assert!(
            token_form_problem("{\"token\": \"x\"}")
                .unwrap()
                .contains("JSON")
        );
        assert!(token_form_problem("a b").is_some());
    }

    #[test]
    fn every_output_and_parameter_doctor_reads_is_in_the_template() {
        let template = include_str!("../../../template.yaml");
        let outputs = &template[template.find("\nOutputs:\n").unwrap()..];
        for name in OUTPUTS {
            assert!(outputs.contains(&format!("\n  {name}:\n")), "{name}");
        }
        assert!(template.contains(&format!("\n  {ENDPOINT_PARAMETER}:\n    Type: String")));
    }

    #[test]
    fn missing_outputs_fail_the_first_step_and_name_each() {
        let mut outputs: HashMap<String, String> = OUTPUTS
            .iter()
            .map(|n| ((*n).to_owned(), format!("value-of-{n}")))
            .collect();
        outputs.remove("AuditSealKeyArn");
        outputs.insert("HookUrl".into(), " ".into());
        let stack = Stack {
            status: "UPDATE_COMPLETE".into(),
            outputs,
            parameters: HashMap::new(),
        };
        let step = check_outputs(&stack);
        assert_eq!(step.status, Status::Fail);
        let fix = step.fix.clone().unwrap();
        assert!(fix.contains("HookUrl, AuditSealKeyArn"), "{fix}");
        let later = stack.need(STEP_RULES, ["AuditTableName", "AuditSealKeyArn"]);
        assert_eq!(later.unwrap_err().status, Status::Warning);
    }
}
