//! `scimgw dev --aws-endpoint URL`: every stateful part of the gateway against that AWS
//! endpoint (a local moto server, typically) instead of memory, as the stack has them:
//! the audit table with its KMS MAC and seal keys and its anchor bucket (Object Lock),
//! the state table (mirror and event ledger), the secrets in Secrets Manager, and the
//! events FIFO queue with its dead-letter queue, and the reads queue that takes a note
//! of every read of the audit trail. Each is created on start when missing,
//! under names that start with a prefix (`--aws-prefix`, default `scimgw-dev`), so a
//! second `dev` with the same prefix finds the first one's trail, and two prefixes keep
//! two developers (or tests) apart on one emulator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_adapters::kms_audit_keys::{AuditKeyArns, all_powers, ensure_keys};
use aws_adapters::{
    DynamoDbAuditLog, DynamoDbEventLedger, DynamoDbMirror, S3SealAnchors, SecretsManagerSource,
    SqsEventQueue, SqsPoller, SqsReadNotes,
};
use gateway::{SecretError, SecretId, SecretSource, SecretString, SystemClock};

/// The prefix of every name when `--aws-prefix` is not given.
pub const DEFAULT_PREFIX: &str = "scimgw-dev";
/// The region when `--region` is not given.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The anchors' default Object Lock retention in the dev bucket: a day (an emulator's
/// bucket lives no longer; in AWS the template makes it the audit retention).
const ANCHOR_RETENTION_DAYS: i32 = 1;

/// How long dev caches a secret (it writes them itself, once).
const SECRET_TTL: Duration = Duration::from_secs(300);

/// The AWS side of a running `scimgw dev --aws-endpoint`.
pub struct DevAws {
    /// The endpoint.
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// The audit table: `<prefix>-audit`.
    pub audit_table: String,
    /// The state table: `<prefix>-state`.
    pub state_table: String,
    /// The seal anchors' bucket: `<prefix>-seal-anchors`.
    pub seal_bucket: String,
    /// The audit keys' ARNs (aliases `alias/<prefix>-audit-mac`, `…-audit-seal`).
    pub keys: AuditKeyArns,
    /// The events queue's URL.
    pub queue_url: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
    /// The reads queue: notes of reads of the audit trail (`gateway::audit_reads`).
    pub reads_queue_url: String,
    prefix: String,
    config: aws_config::SdkConfig,
}

/// Secrets Manager under dev's prefix: the id `dev/scim-tokens` is the secret
/// `<prefix>/dev/scim-tokens`.
pub struct PrefixedSecrets {
    inner: SecretsManagerSource,
    prefix: String,
}

impl PrefixedSecrets {
    fn id(&self, id: &SecretId) -> SecretId {
        SecretId::new(format!("{}/{id}", self.prefix))
    }
}

#[async_trait]
impl SecretSource for PrefixedSecrets {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.inner.get(&self.id(id)).await
    }

    async fn get_fresh(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.inner.get_fresh(&self.id(id)).await
    }
}

impl DevAws {
    /// Connects to `endpoint` and creates what is missing, named after `prefix`.
    pub async fn prepare(
        endpoint: &str,
        region: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let valid = (3..=40).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-');
        if !valid {
            anyhow::bail!(
                "--aws-prefix {prefix}: expected 3 to 40 lower-case letters, digits and \
                 hyphens (it names a bucket)"
            );
        }
        let region = region.unwrap_or(DEFAULT_REGION).to_owned();
        let audit_table = format!("{prefix}-audit");
        let state_table = format!("{prefix}-state");
        let seal_bucket = format!("{prefix}-seal-anchors");
        let config = crate::audit::table::aws_config(Some(endpoint), Some(&region)).await?;
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        let existing = ddb
            .list_tables()
            .send()
            .await
            .with_context(|| format!("--aws-endpoint {endpoint}: DynamoDB did not answer"))?;
        let has = |t: &str| existing.table_names().iter().any(|n| n == t);
        if !has(&audit_table) {
            aws_adapters::dynamodb_audit::create_table(&ddb, &audit_table)
                .await
                .context("creating the audit table")?;
        }
        if !has(&state_table) {
            aws_adapters::dynamodb_mirror::create_table(&ddb, &state_table)
                .await
                .context("creating the state table")?;
        }
        let keys = ensure_keys(&aws_sdk_kms::Client::new(&config), prefix)
            .await
            .context("creating the audit keys in KMS")?;
        aws_adapters::s3_seal_anchors::create_bucket(
            &aws_sdk_s3::Client::new(&config),
            &seal_bucket,
            ANCHOR_RETENTION_DAYS,
        )
        .await
        .context("creating the seal anchors' bucket")?;
        let (queue_url, dlq_url) = aws_adapters::sqs_events::create_queues(
            &aws_sdk_sqs::Client::new(&config),
            &format!("{prefix}-events"),
            crate::dev_events::MAX_RECEIVES,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e).context("creating the events queues"))?;
        let (reads_queue_url, _) = aws_adapters::sqs_read_notes::create_read_queues(
            &aws_sdk_sqs::Client::new(&config),
            &format!("{prefix}-audit-reads"),
            crate::dev_events::MAX_RECEIVES,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e).context("creating the reads queues"))?;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            region,
            audit_table,
            state_table,
            seal_bucket,
            keys,
            queue_url,
            dlq_url,
            reads_queue_url,
            prefix: prefix.to_owned(),
            config,
        })
    }

    /// The audit trail with every power, through KMS: dev is the writers, the sealer
    /// and the audit API in one process. It seals as it writes, and its anchors are in
    /// the bucket.
    pub fn audit_store(&self) -> DynamoDbAuditLog {
        let powers = all_powers(&aws_sdk_kms::Client::new(&self.config), &self.keys);
        DynamoDbAuditLog::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.audit_table,
            powers,
            Arc::new(SystemClock),
            crate::dev_audit::RETENTION,
        )
        .with_anchors(Arc::new(S3SealAnchors::new(
            aws_sdk_s3::Client::new(&self.config),
            &self.seal_bucket,
        )))
    }

    /// Writes `values` into Secrets Manager as `<prefix>/<id>` (creating each secret
    /// when missing) and returns the source that reads them back by their plain ids.
    pub async fn secrets(&self, values: &[(&str, &str)]) -> anyhow::Result<PrefixedSecrets> {
        let client = aws_sdk_secretsmanager::Client::new(&self.config);
        for (id, value) in values {
            let name = format!("{}/{id}", self.prefix);
            let put = client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(*value)
                .send()
                .await;
            if put.is_err() {
                client
                    .create_secret()
                    .name(&name)
                    .secret_string(*value)
                    .send()
                    .await
                    .with_context(|| format!("creating the secret {name}"))?;
            }
        }
        Ok(PrefixedSecrets {
            inner: SecretsManagerSource::new(client, SECRET_TTL),
            prefix: self.prefix.clone(),
        })
    }

    /// The mirror in the state table.
    pub fn mirror(&self) -> DynamoDbMirror {
        DynamoDbMirror::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.state_table,
            Arc::new(SystemClock),
        )
    }

    /// The active rule set of the state table, as the functions read it
    /// (`scimgw dev --stored-rules`).
    pub fn stored_rules(&self) -> Arc<dyn gateway::rules::RuleSource> {
        Arc::new(gateway::rules::StoredRules::new(Arc::new(
            aws_adapters::DynamoDbRuleStore::new(
                aws_sdk_dynamodb::Client::new(&self.config),
                &self.state_table,
                Arc::new(SystemClock),
            ),
        )))
    }

    /// The event ledger in the state table.
    pub fn event_ledger(&self) -> DynamoDbEventLedger {
        DynamoDbEventLedger::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.state_table,
            Arc::new(SystemClock),
        )
    }

    /// The events queue, for the hook.
    pub fn event_queue(&self) -> SqsEventQueue {
        SqsEventQueue::new(aws_sdk_sqs::Client::new(&self.config), &self.queue_url)
    }

    /// A poller of the events queue, for the worker.
    pub fn poller(&self) -> SqsPoller {
        SqsPoller::new(aws_sdk_sqs::Client::new(&self.config), &self.queue_url)
    }

    /// The reads queue's sender, for the audit API.
    pub fn read_notes(&self) -> SqsReadNotes {
        SqsReadNotes::new(
            aws_sdk_sqs::Client::new(&self.config),
            &self.reads_queue_url,
        )
    }

    /// A poller of the reads queue, for the writer that appends its notes.
    pub fn reads_poller(&self) -> SqsPoller {
        SqsPoller::new(
            aws_sdk_sqs::Client::new(&self.config),
            &self.reads_queue_url,
        )
    }
}

/// What `--entitlements-sandbox` made (or found) at the endpoint: a small organization
/// and Identity Center to try `scimgw entitlements plan --dev INFO_JSON` against. Every
/// map is name → id (or ARN).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntitlementsSandbox {
    /// The organization's root.
    pub root_id: String,
    /// The two OUs under the root.
    pub ous: BTreeMap<String, String>,
    /// The three member accounts.
    pub accounts: BTreeMap<String, String>,
    /// The Identity Center instance.
    pub instance_arn: String,
    /// Its identity store.
    pub identity_store_id: String,
    /// The two permission sets.
    pub permission_sets: BTreeMap<String, String>,
    /// Two groups in the identity store (named in a document with `{ name: … }`: an
    /// emulator's identity store cannot hold Okta's `externalId`).
    pub groups: BTreeMap<String, String>,
}

/// The sandbox's OUs, under the root.
const SANDBOX_OUS: [&str; 2] = ["Production", "Sandbox"];
/// Its accounts and the OU each is in.
const SANDBOX_ACCOUNTS: [(&str, &str); 3] = [
    ("prod-app", "Production"),
    ("prod-data", "Production"),
    ("dev-playground", "Sandbox"),
];
/// Its permission sets.
const SANDBOX_PERMISSION_SETS: [&str; 2] = ["AdministratorAccess", "ReadOnlyAccess"];
/// Its groups.
const SANDBOX_GROUPS: [&str; 2] = ["Admins", "Readers"];

/// An SDK error as one line: the operation and the service's code (no secret).
fn sdk(
    op: &'static str,
) -> impl Fn(&dyn aws_sdk_organizations::error::ProvideErrorMetadata) -> anyhow::Error {
    move |e| {
        anyhow::anyhow!(
            "{op}: {}",
            e.code().unwrap_or("the endpoint did not answer")
        )
    }
}

impl DevAws {
    /// Makes what is missing of the entitlements sandbox (an organization with a root,
    /// two OUs and three accounts; two permission sets and two groups in the endpoint's
    /// Identity Center instance), finding what an earlier run made by name, and answers
    /// it. Only for an emulator: against AWS it would create an organization's OUs and
    /// accounts, which is why it takes a flag of its own.
    pub async fn entitlements_sandbox(&self) -> anyhow::Result<EntitlementsSandbox> {
        use aws_sdk_organizations::error::ProvideErrorMetadata as _;
        let orgs = aws_sdk_organizations::Client::new(&self.config);
        // An organization made by an earlier run is the one to use.
        if let Err(e) = orgs
            .create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            && e.code() != Some("AlreadyInOrganizationException")
        {
            return Err(sdk("CreateOrganization")(&e));
        }
        let roots = orgs
            .list_roots()
            .send()
            .await
            .map_err(|e| sdk("ListRoots")(&e))?;
        let root_id = roots
            .roots()
            .first()
            .and_then(|r| r.id())
            .context("ListRoots: no root")?
            .to_owned();
        let existing = orgs
            .list_organizational_units_for_parent()
            .parent_id(&root_id)
            .send()
            .await
            .map_err(|e| sdk("ListOrganizationalUnitsForParent")(&e))?;
        let mut ous = BTreeMap::new();
        for name in SANDBOX_OUS {
            let found = existing
                .organizational_units()
                .iter()
                .find(|ou| ou.name() == Some(name))
                .and_then(|ou| ou.id().map(str::to_owned));
            let id = match found {
                Some(id) => id,
                None => orgs
                    .create_organizational_unit()
                    .parent_id(&root_id)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| sdk("CreateOrganizationalUnit")(&e))?
                    .organizational_unit()
                    .and_then(|ou| ou.id())
                    .context("CreateOrganizationalUnit: no id")?
                    .to_owned(),
            };
            ous.insert(name.to_owned(), id);
        }
        let listed = orgs
            .list_accounts()
            .send()
            .await
            .map_err(|e| sdk("ListAccounts")(&e))?;
        let mut accounts = BTreeMap::new();
        for (name, ou) in SANDBOX_ACCOUNTS {
            let found = listed
                .accounts()
                .iter()
                .find(|a| a.name() == Some(name))
                .and_then(|a| a.id().map(str::to_owned));
            let id = match found {
                Some(id) => id,
                None => {
                    // An emulator creates the account at once; the status names it.
                    let status = orgs
                        .create_account()
                        .account_name(name)
                        .email(format!("{name}@example.com"))
                        .send()
                        .await
                        .map_err(|e| sdk("CreateAccount")(&e))?;
                    let id = status
                        .create_account_status()
                        .and_then(|s| s.account_id())
                        .context("CreateAccount: no account id (not an emulator?)")?
                        .to_owned();
                    orgs.move_account()
                        .account_id(&id)
                        .source_parent_id(&root_id)
                        .destination_parent_id(&ous[ou])
                        .send()
                        .await
                        .map_err(|e| sdk("MoveAccount")(&e))?;
                    id
                }
            };
            accounts.insert(name.to_owned(), id);
        }

        let sso = aws_sdk_ssoadmin::Client::new(&self.config);
        let instances = sso
            .list_instances()
            .send()
            .await
            .map_err(|e| sdk("ListInstances")(&e))?;
        let instance = instances
            .instances()
            .first()
            .context("ListInstances: the endpoint has no Identity Center instance")?;
        let instance_arn = instance.instance_arn().unwrap_or_default().to_owned();
        let identity_store_id = instance.identity_store_id().unwrap_or_default().to_owned();
        let mut permission_sets = BTreeMap::new();
        let arns = sso
            .list_permission_sets()
            .instance_arn(&instance_arn)
            .send()
            .await
            .map_err(|e| sdk("ListPermissionSets")(&e))?;
        for arn in arns.permission_sets() {
            let described = sso
                .describe_permission_set()
                .instance_arn(&instance_arn)
                .permission_set_arn(arn)
                .send()
                .await
                .map_err(|e| sdk("DescribePermissionSet")(&e))?;
            if let Some(name) = described.permission_set().and_then(|p| p.name()) {
                permission_sets.insert(name.to_owned(), arn.clone());
            }
        }
        for name in SANDBOX_PERMISSION_SETS {
            if permission_sets.contains_key(name) {
                continue;
            }
            let created = sso
                .create_permission_set()
                .instance_arn(&instance_arn)
                .name(name)
                // An emulator answers a number for a set without one, which the SDK
                // refuses (docs/entitlements.md, moto's gaps).
                .session_duration("PT1H")
                .send()
                .await
                .map_err(|e| sdk("CreatePermissionSet")(&e))?;
            let arn = created
                .permission_set()
                .and_then(|p| p.permission_set_arn())
                .context("CreatePermissionSet: no ARN")?;
            permission_sets.insert(name.to_owned(), arn.to_owned());
        }
        permission_sets.retain(|name, _| SANDBOX_PERMISSION_SETS.contains(&name.as_str()));

        let ids = aws_sdk_identitystore::Client::new(&self.config);
        let listed = ids
            .list_groups()
            .identity_store_id(&identity_store_id)
            .send()
            .await
            .map_err(|e| sdk("ListGroups")(&e))?;
        let mut groups = BTreeMap::new();
        for name in SANDBOX_GROUPS {
            let found = listed
                .groups()
                .iter()
                .find(|g| g.display_name() == Some(name))
                .map(|g| g.group_id().to_owned());
            let id = match found {
                Some(id) => id,
                None => ids
                    .create_group()
                    .identity_store_id(&identity_store_id)
                    .display_name(name)
                    .send()
                    .await
                    .map_err(|e| sdk("CreateGroup")(&e))?
                    .group_id
                    .clone(),
            };
            groups.insert(name.to_owned(), id);
        }
        Ok(EntitlementsSandbox {
            root_id,
            ous,
            accounts,
            instance_arn,
            identity_store_id,
            permission_sets,
            groups,
        })
    }
}
