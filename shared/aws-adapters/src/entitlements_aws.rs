//! Entitlements' AWS side (`docs/entitlements.md`): reading the organization
//! (Organizations, read-only), Identity Center's groups (Identity Store) and permission
//! sets (what the defined ones hold too) and assignments (SSO Admin), and
//! [`SsoAdminAssignments`], the SSO Admin implementation of the executor's
//! [`AssignmentApi`] (assignments, and the permission set calls); plus
//! [`DynamoDbManagedLedger`], the managed-assignment ledger in the state table.
//!
//! Every call is counted ([`CallCounter`]), so a plan can say what it cost against
//! Identity Center's and Organizations' request quotas. Reads of many accounts or groups
//! run [`READ_CONCURRENCY`] at a time.
//!
//! The ledger's items: `pk = ENTITLEMENTS#MANAGED`, `sk = <account>#<permission set
//! ARN>#<group id>`, `kind = managed-assignment`, and the three parts as attributes; and
//! the managed permission sets, `pk = ENTITLEMENTS#PERMISSION-SETS`, `sk = <ARN>`,
//! `kind = managed-permission-set`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssoadmin::types::{
    CustomerManagedPolicyReference, PrincipalType, ProvisionTargetType, StatusValues, TargetType,
};
use entitlements::document::PolicyReference;
use entitlements::execute::{ApiError, AssignmentApi, OpKind, OpStatus};
use entitlements::ledger::{LedgerError, ManagedLedger};
use entitlements::plan::PermissionSetStep;
use entitlements::state::{
    Account, Assignment, DirectoryGroup, OrgUnit, Organization, PermissionSet, PermissionSetDetails,
};
use futures::{StreamExt as _, TryStreamExt as _};

/// Accounts' tags and groups' assignments read at once.
pub const READ_CONCURRENCY: usize = 4;

/// The ledger's partition.
pub const MANAGED_PK: &str = "ENTITLEMENTS#MANAGED";

/// The managed permission sets' partition.
pub const MANAGED_PERMISSION_SETS_PK: &str = "ENTITLEMENTS#PERMISSION-SETS";

/// How many AWS calls were made, by service.
#[derive(Debug, Default)]
pub struct CallCounter {
    /// Organizations calls.
    pub organizations: AtomicU64,
    /// SSO Admin calls.
    pub sso_admin: AtomicU64,
    /// Identity Store calls.
    pub identity_store: AtomicU64,
}

impl CallCounter {
    /// The three counts: Organizations, SSO Admin, Identity Store.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.organizations.load(Ordering::Relaxed),
            self.sso_admin.load(Ordering::Relaxed),
            self.identity_store.load(Ordering::Relaxed),
        )
    }
}

fn tick(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A failed read: the operation and the service's error code (never a secret).
fn read_error<E, R>(op: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let code = match &err {
        aws_sdk_dynamodb::error::SdkError::ServiceError(e) => {
            e.err().code().unwrap_or("Unknown").to_owned()
        }
        _ => "unreachable".to_owned(),
    };
    format!("{op}: {code}")
}

/// Reads the organization: the root, every OU under it (any depth), every active
/// account and, when `with_tags`, each account's tags.
pub async fn read_organization(
    client: &aws_sdk_organizations::Client,
    with_tags: bool,
    counter: &CallCounter,
) -> Result<Organization, String> {
    tick(&counter.organizations);
    let roots = client
        .list_roots()
        .send()
        .await
        .map_err(|e| read_error("ListRoots", e))?;
    let root_id = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .ok_or("ListRoots: the organization has no root")?
        .to_owned();
    let mut org = Organization {
        root_id: root_id.clone(),
        ..Organization::default()
    };
    let mut pending = vec![root_id];
    while let Some(parent) = pending.pop() {
        let mut pages = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&counter.organizations);
            let page = page.map_err(|e| read_error("ListOrganizationalUnitsForParent", e))?;
            for ou in page.organizational_units() {
                let id = ou.id().unwrap_or_default().to_owned();
                pending.push(id.clone());
                org.ous.push(OrgUnit {
                    id,
                    parent_id: parent.clone(),
                    name: ou.name().unwrap_or_default().to_owned(),
                });
            }
        }
        let mut pages = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&counter.organizations);
            let page = page.map_err(|e| read_error("ListAccountsForParent", e))?;
            for account in page.accounts() {
                let active = account
                    .status()
                    .is_none_or(|s| *s == aws_sdk_organizations::types::AccountStatus::Active);
                if active {
                    org.accounts.push(Account {
                        id: account.id().unwrap_or_default().to_owned(),
                        name: account.name().unwrap_or_default().to_owned(),
                        parent_id: parent.clone(),
                        tags: Default::default(),
                    });
                }
            }
        }
    }
    if with_tags {
        // Owned ids: a stream over borrowed accounts is not `Send` for every lifetime,
        // which the entitlements function's `Observe` future must be.
        let ids: Vec<String> = org.accounts.iter().map(|a| a.id.clone()).collect();
        let tags: Vec<_> = futures::stream::iter(ids)
            .map(|id| async move {
                let mut tags = std::collections::BTreeMap::new();
                let mut pages = client
                    .list_tags_for_resource()
                    .resource_id(&id)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    tick(&counter.organizations);
                    let page = page.map_err(|e| read_error("ListTagsForResource", e))?;
                    for tag in page.tags() {
                        tags.insert(tag.key().to_owned(), tag.value().to_owned());
                    }
                }
                Ok::<_, String>(tags)
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        for (account, tags) in org.accounts.iter_mut().zip(tags) {
            account.tags = tags;
        }
    }
    Ok(org)
}

/// Every group of the identity store, with its `externalId` (the first one whose issuer
/// is not Identity Center itself; Okta's SCIM pushes set one).
pub async fn read_groups(
    client: &aws_sdk_identitystore::Client,
    identity_store_id: &str,
    counter: &CallCounter,
) -> Result<Vec<DirectoryGroup>, String> {
    let mut groups = Vec::new();
    let mut pages = client
        .list_groups()
        .identity_store_id(identity_store_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        tick(&counter.identity_store);
        let page = page.map_err(|e| read_error("ListGroups", e))?;
        for group in page.groups() {
            groups.push(DirectoryGroup {
                id: group.group_id().to_owned(),
                display_name: group.display_name().unwrap_or_default().to_owned(),
                external_id: group.external_ids().first().map(|e| e.id().to_owned()),
            });
        }
    }
    Ok(groups)
}

/// The Identity Center instance: its ARN and identity store. The first instance when
/// `instance_arn` is `None` (an organization has one).
pub async fn find_instance(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: Option<&str>,
    counter: &CallCounter,
) -> Result<(String, String), String> {
    tick(&counter.sso_admin);
    let page = client
        .list_instances()
        .send()
        .await
        .map_err(|e| read_error("ListInstances", e))?;
    page.instances()
        .iter()
        .find(|i| instance_arn.is_none_or(|want| i.instance_arn() == Some(want)))
        .and_then(|i| {
            Some((
                i.instance_arn()?.to_owned(),
                i.identity_store_id()?.to_owned(),
            ))
        })
        .ok_or_else(|| "ListInstances: no such Identity Center instance".to_owned())
}

/// SSO Admin for one Identity Center instance: permission sets, assignments, and the
/// executor's operations.
#[derive(Debug, Clone)]
pub struct SsoAdminAssignments {
    client: aws_sdk_ssoadmin::Client,
    instance_arn: String,
    counter: Arc<CallCounter>,
}

impl SsoAdminAssignments {
    /// SSO Admin calls against the instance `instance_arn`, counted in `counter`.
    pub fn new(
        client: aws_sdk_ssoadmin::Client,
        instance_arn: impl Into<String>,
        counter: Arc<CallCounter>,
    ) -> Self {
        Self {
            client,
            instance_arn: instance_arn.into(),
            counter,
        }
    }

    /// The instance's ARN.
    pub fn instance_arn(&self) -> &str {
        &self.instance_arn
    }

    /// Every permission set, with its name.
    pub async fn permission_sets(&self) -> Result<Vec<PermissionSet>, String> {
        Ok(self
            .described_permission_sets()
            .await?
            .into_iter()
            .map(|(set, _)| set)
            .collect())
    }

    /// Every permission set, with its name, and the description and session duration
    /// `DescribePermissionSet` answered.
    async fn described_permission_sets(
        &self,
    ) -> Result<Vec<(PermissionSet, PermissionSetDetails)>, String> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_permission_sets()
            .instance_arn(&self.instance_arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&self.counter.sso_admin);
            let page = page.map_err(|e| read_error("ListPermissionSets", e))?;
            arns.extend(page.permission_sets().iter().cloned());
        }
        futures::stream::iter(arns)
            .map(|arn| async move {
                tick(&self.counter.sso_admin);
                let described = self
                    .client
                    .describe_permission_set()
                    .instance_arn(&self.instance_arn)
                    .permission_set_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| read_error("DescribePermissionSet", e))?;
                let set = described.permission_set();
                let name = set.and_then(|p| p.name()).unwrap_or_default().to_owned();
                let details = PermissionSetDetails {
                    description: set.and_then(|p| p.description()).map(str::to_owned),
                    session_duration: set.and_then(|p| p.session_duration()).map(str::to_owned),
                    ..PermissionSetDetails::default()
                };
                Ok((PermissionSet { arn, name }, details))
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await
    }

    /// What the permission set `arn` holds besides `details`' description and session
    /// duration: its managed policies, customer managed policy references, inline policy
    /// and the accounts it is provisioned to (four listings).
    async fn read_details(
        &self,
        arn: &str,
        mut details: PermissionSetDetails,
    ) -> Result<PermissionSetDetails, String> {
        let mut pages = self
            .client
            .list_managed_policies_in_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&self.counter.sso_admin);
            let page = page.map_err(|e| read_error("ListManagedPoliciesInPermissionSet", e))?;
            details.managed_policies.extend(
                page.attached_managed_policies()
                    .iter()
                    .filter_map(|p| p.arn().map(str::to_owned)),
            );
        }
        let mut pages = self
            .client
            .list_customer_managed_policy_references_in_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&self.counter.sso_admin);
            let page = page
                .map_err(|e| read_error("ListCustomerManagedPolicyReferencesInPermissionSet", e))?;
            details.customer_managed_policies.extend(
                page.customer_managed_policy_references()
                    .iter()
                    .map(|r| PolicyReference {
                        name: r.name().to_owned(),
                        path: r.path().unwrap_or("/").to_owned(),
                    }),
            );
        }
        tick(&self.counter.sso_admin);
        let inline = self
            .client
            .get_inline_policy_for_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .send()
            .await
            .map_err(|e| read_error("GetInlinePolicyForPermissionSet", e))?;
        // No inline policy reads as an empty one.
        details.inline_policy = match inline.inline_policy().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(serde_json::from_str(text).map_err(|_| {
                "GetInlinePolicyForPermissionSet: the inline policy is not JSON".to_owned()
            })?),
        };
        let mut pages = self
            .client
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(&self.instance_arn)
            .permission_set_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            tick(&self.counter.sso_admin);
            let page =
                page.map_err(|e| read_error("ListAccountsForProvisionedPermissionSet", e))?;
            details.provisioned_accounts += page.account_ids().len();
        }
        Ok(details)
    }

    /// Every permission set, and what those named in `defined` hold.
    pub async fn permission_sets_with_details(
        &self,
        defined: &BTreeSet<&str>,
    ) -> Result<(Vec<PermissionSet>, BTreeMap<String, PermissionSetDetails>), String> {
        let described = self.described_permission_sets().await?;
        let mut details = BTreeMap::new();
        for (set, described) in &described {
            if defined.contains(set.name.as_str()) {
                let read = self.read_details(&set.arn, described.clone()).await?;
                details.insert(set.arn.clone(), read);
            }
        }
        Ok((described.into_iter().map(|(set, _)| set).collect(), details))
    }

    /// The account assignments of each group in `group_ids`
    /// (`ListAccountAssignmentsForPrincipal`: one listing per group, not one per account
    /// and permission set).
    pub async fn assignments_of(
        &self,
        group_ids: &BTreeSet<String>,
    ) -> Result<Vec<Assignment>, String> {
        let found = self
            .principal_assignments(PrincipalType::Group, group_ids)
            .await?;
        Ok(found
            .into_iter()
            .map(|(group_id, account_id, permission_set_arn)| Assignment {
                account_id,
                permission_set_arn,
                group_id,
            })
            .collect())
    }

    /// The account assignments made to each user in `user_ids` directly (not through a
    /// group): (user id, account, permission set ARN). One listing per user.
    pub async fn direct_assignments_of(
        &self,
        user_ids: &BTreeSet<String>,
    ) -> Result<Vec<(String, String, String)>, String> {
        self.principal_assignments(PrincipalType::User, user_ids)
            .await
    }

    /// (principal, account, permission set ARN) of every assignment of `principals`,
    /// deduplicated (a listing may repeat an entry across pages) and sorted.
    async fn principal_assignments(
        &self,
        kind: PrincipalType,
        principals: &BTreeSet<String>,
    ) -> Result<Vec<(String, String, String)>, String> {
        let lists: Vec<Vec<(String, String, String)>> =
            // Owned ids: a stream over borrowed ones is not general enough for the
            // `Observe` trait's futures.
            futures::stream::iter(principals.iter().cloned().collect::<Vec<String>>())
                .map(|principal| {
                    let kind = kind.clone();
                    async move {
                        let mut found = Vec::new();
                        let mut pages = self
                            .client
                            .list_account_assignments_for_principal()
                            .instance_arn(&self.instance_arn)
                            .principal_type(kind.clone())
                            .principal_id(&principal)
                            .into_paginator()
                            .send();
                        while let Some(page) = pages.next().await {
                            tick(&self.counter.sso_admin);
                            let page = page
                                .map_err(|e| read_error("ListAccountAssignmentsForPrincipal", e))?;
                            // An entry names the principal that holds it: for a user, the
                            // listing may include what its groups hold, kept out here.
                            for a in page
                                .account_assignments()
                                .iter()
                                .filter(|a| a.principal_type().is_none_or(|t| *t == kind))
                            {
                                found.push((
                                    principal.clone(),
                                    a.account_id().unwrap_or_default().to_owned(),
                                    a.permission_set_arn().unwrap_or_default().to_owned(),
                                ));
                            }
                        }
                        Ok::<_, String>(found)
                    }
                })
                .buffered(READ_CONCURRENCY)
                .try_collect()
                .await?;
        let all: BTreeSet<(String, String, String)> = lists.into_iter().flatten().collect();
        Ok(all.into_iter().collect())
    }
}

/// SSO Admin's error codes as the executor sorts them.
fn api_error<E, R>(op: &str, err: aws_sdk_dynamodb::error::SdkError<E, R>) -> ApiError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let code = match &err {
        aws_sdk_dynamodb::error::SdkError::ServiceError(e) => e.err().code().map(str::to_owned),
        _ => None,
    };
    let message = format!("{op}: {}", code.as_deref().unwrap_or("unreachable"));
    match code.as_deref() {
        Some("ThrottlingException" | "TooManyRequestsException") => ApiError::Throttled(message),
        Some("ConflictException") => ApiError::Conflict(message),
        _ => ApiError::Other(message),
    }
}

fn status_of(status: Option<&StatusValues>, reason: Option<&str>) -> OpStatus {
    match status {
        Some(StatusValues::Succeeded) => OpStatus::Succeeded,
        Some(StatusValues::Failed) => {
            OpStatus::Failed(reason.unwrap_or("no reason given").to_owned())
        }
        _ => OpStatus::InProgress,
    }
}

/// The same six fields of a create and a delete request (two builder types, one shape).
macro_rules! for_assignment {
    ($builder:expr, $sso:expr, $a:expr) => {
        $builder
            .instance_arn(&$sso.instance_arn)
            .target_type(TargetType::AwsAccount)
            .target_id(&$a.account_id)
            .permission_set_arn(&$a.permission_set_arn)
            .principal_type(PrincipalType::Group)
            .principal_id(&$a.group_id)
    };
}

#[async_trait]
impl AssignmentApi for SsoAdminAssignments {
    async fn start(&self, kind: OpKind, a: &Assignment) -> Result<(String, OpStatus), ApiError> {
        tick(&self.counter.sso_admin);
        let status = match kind {
            OpKind::Create => {
                for_assignment!(self.client.create_account_assignment(), self, a)
                    .send()
                    .await
                    .map_err(|e| api_error("CreateAccountAssignment", e))?
                    .account_assignment_creation_status
            }
            OpKind::Delete => {
                for_assignment!(self.client.delete_account_assignment(), self, a)
                    .send()
                    .await
                    .map_err(|e| api_error("DeleteAccountAssignment", e))?
                    .account_assignment_deletion_status
            }
        };
        let status =
            status.ok_or_else(|| ApiError::Other("no operation status answered".into()))?;
        Ok((
            status.request_id().unwrap_or_default().to_owned(),
            status_of(status.status(), status.failure_reason()),
        ))
    }

    async fn status(&self, kind: OpKind, request_id: &str) -> Result<OpStatus, ApiError> {
        tick(&self.counter.sso_admin);
        let status = match kind {
            OpKind::Create => {
                self.client
                    .describe_account_assignment_creation_status()
                    .instance_arn(&self.instance_arn)
                    .account_assignment_creation_request_id(request_id)
                    .send()
                    .await
                    .map_err(|e| api_error("DescribeAccountAssignmentCreationStatus", e))?
                    .account_assignment_creation_status
            }
            OpKind::Delete => {
                self.client
                    .describe_account_assignment_deletion_status()
                    .instance_arn(&self.instance_arn)
                    .account_assignment_deletion_request_id(request_id)
                    .send()
                    .await
                    .map_err(|e| api_error("DescribeAccountAssignmentDeletionStatus", e))?
                    .account_assignment_deletion_status
            }
        };
        let status =
            status.ok_or_else(|| ApiError::Other("no operation status answered".into()))?;
        Ok(status_of(status.status(), status.failure_reason()))
    }

    async fn create_permission_set(
        &self,
        name: &str,
        description: Option<&str>,
        session_duration: &str,
    ) -> Result<String, ApiError> {
        tick(&self.counter.sso_admin);
        let created = self
            .client
            .create_permission_set()
            .instance_arn(&self.instance_arn)
            .name(name)
            .set_description(description.map(str::to_owned))
            .session_duration(session_duration)
            .send()
            .await
            .map_err(|e| api_error("CreatePermissionSet", e))?;
        created
            .permission_set()
            .and_then(|p| p.permission_set_arn())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Other("CreatePermissionSet: no ARN answered".into()))
    }

    async fn permission_set_step(
        &self,
        arn: &str,
        step: &PermissionSetStep,
    ) -> Result<Option<(String, OpStatus)>, ApiError> {
        tick(&self.counter.sso_admin);
        let sso = &self.client;
        let at = &self.instance_arn;
        let reference = |r: &PolicyReference| {
            CustomerManagedPolicyReference::builder()
                .name(&r.name)
                .path(&r.path)
                .build()
                .map_err(|e| ApiError::Other(format!("a customer managed policy reference: {e}")))
        };
        match step {
            PermissionSetStep::Create { .. } => {
                return Err(ApiError::Other("a permission set is created once".into()));
            }
            PermissionSetStep::Update {
                description,
                session_duration,
            } => {
                sso.update_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .set_description(description.clone())
                    .session_duration(session_duration)
                    .send()
                    .await
                    .map_err(|e| api_error("UpdatePermissionSet", e))?;
            }
            PermissionSetStep::AttachManagedPolicy { arn: policy } => {
                sso.attach_managed_policy_to_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .managed_policy_arn(policy)
                    .send()
                    .await
                    .map_err(|e| api_error("AttachManagedPolicyToPermissionSet", e))?;
            }
            PermissionSetStep::DetachManagedPolicy { arn: policy } => {
                sso.detach_managed_policy_from_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .managed_policy_arn(policy)
                    .send()
                    .await
                    .map_err(|e| api_error("DetachManagedPolicyFromPermissionSet", e))?;
            }
            PermissionSetStep::AttachCustomerManagedPolicy { reference: r } => {
                sso.attach_customer_managed_policy_reference_to_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .customer_managed_policy_reference(reference(r)?)
                    .send()
                    .await
                    .map_err(|e| {
                        api_error("AttachCustomerManagedPolicyReferenceToPermissionSet", e)
                    })?;
            }
            PermissionSetStep::DetachCustomerManagedPolicy { reference: r } => {
                sso.detach_customer_managed_policy_reference_from_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .customer_managed_policy_reference(reference(r)?)
                    .send()
                    .await
                    .map_err(|e| {
                        api_error("DetachCustomerManagedPolicyReferenceFromPermissionSet", e)
                    })?;
            }
            PermissionSetStep::PutInlinePolicy { policy } => {
                sso.put_inline_policy_to_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .inline_policy(policy)
                    .send()
                    .await
                    .map_err(|e| api_error("PutInlinePolicyToPermissionSet", e))?;
            }
            PermissionSetStep::DeleteInlinePolicy => {
                sso.delete_inline_policy_from_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .send()
                    .await
                    .map_err(|e| api_error("DeleteInlinePolicyFromPermissionSet", e))?;
            }
            PermissionSetStep::Provision { .. } => {
                let status = sso
                    .provision_permission_set()
                    .instance_arn(at)
                    .permission_set_arn(arn)
                    .target_type(ProvisionTargetType::AllProvisionedAccounts)
                    .send()
                    .await
                    .map_err(|e| api_error("ProvisionPermissionSet", e))?
                    .permission_set_provisioning_status
                    .ok_or_else(|| ApiError::Other("no provisioning status answered".into()))?;
                return Ok(Some((
                    status.request_id().unwrap_or_default().to_owned(),
                    status_of(status.status(), status.failure_reason()),
                )));
            }
        }
        Ok(None)
    }

    async fn provisioning_status(&self, request_id: &str) -> Result<OpStatus, ApiError> {
        tick(&self.counter.sso_admin);
        let status = self
            .client
            .describe_permission_set_provisioning_status()
            .instance_arn(&self.instance_arn)
            .provision_permission_set_request_id(request_id)
            .send()
            .await
            .map_err(|e| api_error("DescribePermissionSetProvisioningStatus", e))?
            .permission_set_provisioning_status
            .ok_or_else(|| ApiError::Other("no provisioning status answered".into()))?;
        Ok(status_of(status.status(), status.failure_reason()))
    }
}

/// The managed-assignment ledger in the state table (see the module docs).
#[derive(Debug, Clone)]
pub struct DynamoDbManagedLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoDbManagedLedger {
    /// The ledger in `table` (the state table).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn sk(a: &Assignment) -> String {
        format!("{}#{}#{}", a.account_id, a.permission_set_arn, a.group_id)
    }
}

fn text(item: &HashMap<String, AttributeValue>, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}

#[async_trait]
impl ManagedLedger for DynamoDbManagedLedger {
    async fn list(&self) -> Result<BTreeSet<Assignment>, LedgerError> {
        let mut all = BTreeSet::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(MANAGED_PK.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| LedgerError(read_error("Query", e)))?;
            for item in page.items() {
                let parts = (
                    text(item, "account_id"),
                    text(item, "permission_set_arn"),
                    text(item, "group_id"),
                );
                let (Some(account_id), Some(permission_set_arn), Some(group_id)) = parts else {
                    return Err(LedgerError(format!(
                        "the item {} does not read as a managed assignment",
                        text(item, "sk").unwrap_or_default()
                    )));
                };
                all.insert(Assignment {
                    account_id,
                    permission_set_arn,
                    group_id,
                });
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(all)
    }

    async fn record(&self, a: &Assignment) -> Result<(), LedgerError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(MANAGED_PK))
            .item("sk", s(&Self::sk(a)))
            .item("kind", s("managed-assignment"))
            .item("account_id", s(&a.account_id))
            .item("permission_set_arn", s(&a.permission_set_arn))
            .item("group_id", s(&a.group_id))
            .send()
            .await
            .map_err(|e| LedgerError(read_error("PutItem", e)))?;
        Ok(())
    }

    async fn forget(&self, a: &Assignment) -> Result<(), LedgerError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(MANAGED_PK.to_owned()))
            .key("sk", AttributeValue::S(Self::sk(a)))
            .send()
            .await
            .map_err(|e| LedgerError(read_error("DeleteItem", e)))?;
        Ok(())
    }

    async fn permission_sets(&self) -> Result<BTreeSet<String>, LedgerError> {
        let mut all = BTreeSet::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(MANAGED_PERMISSION_SETS_PK.to_owned()),
                )
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| LedgerError(read_error("Query", e)))?;
            all.extend(page.items().iter().filter_map(|item| text(item, "sk")));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        Ok(all)
    }

    async fn record_permission_set(&self, arn: &str) -> Result<(), LedgerError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(MANAGED_PERMISSION_SETS_PK))
            .item("sk", s(arn))
            .item("kind", s("managed-permission-set"))
            .send()
            .await
            .map_err(|e| LedgerError(read_error("PutItem", e)))?;
        Ok(())
    }
}

/// Everything a plan reads, from one organization and Identity Center instance.
#[derive(Debug, Clone)]
pub struct AwsEntitlements {
    /// Organizations (read-only).
    pub organizations: aws_sdk_organizations::Client,
    /// Identity Store (read-only).
    pub identity_store: aws_sdk_identitystore::Client,
    /// SSO Admin, bound to the instance.
    pub sso_admin: SsoAdminAssignments,
    /// The instance's identity store id.
    pub identity_store_id: String,
    /// The calls made so far.
    pub counter: Arc<CallCounter>,
}

impl AwsEntitlements {
    /// Binds the clients to the Identity Center instance `instance_arn` (the first one
    /// when `None`).
    pub async fn connect(
        organizations: aws_sdk_organizations::Client,
        identity_store: aws_sdk_identitystore::Client,
        sso: aws_sdk_ssoadmin::Client,
        instance_arn: Option<&str>,
    ) -> Result<Self, String> {
        let counter = Arc::new(CallCounter::default());
        let (instance_arn, identity_store_id) = find_instance(&sso, instance_arn, &counter).await?;
        Ok(Self {
            organizations,
            identity_store,
            sso_admin: SsoAdminAssignments::new(sso, instance_arn, counter.clone()),
            identity_store_id,
            counter,
        })
    }

    /// Binds the clients to a known Identity Center instance and its identity store,
    /// without `ListInstances` (the stack's function is told both: its role needs no
    /// `sso:ListInstances`, which takes no resource-level permission).
    pub fn bind(
        organizations: aws_sdk_organizations::Client,
        identity_store: aws_sdk_identitystore::Client,
        sso: aws_sdk_ssoadmin::Client,
        instance_arn: impl Into<String>,
        identity_store_id: impl Into<String>,
    ) -> Self {
        let counter = Arc::new(CallCounter::default());
        Self {
            organizations,
            identity_store,
            sso_admin: SsoAdminAssignments::new(sso, instance_arn, counter.clone()),
            identity_store_id: identity_store_id.into(),
            counter,
        }
    }

    /// Reads what a plan of `document` needs: the organization (tags only when a grant
    /// uses them), groups, permission sets, the managed set from `ledger`, and the
    /// assignments of every group the document or the ledger names. A failed read is
    /// recorded as a problem (which withholds deletions), never dropped.
    pub async fn observe(
        &self,
        document: &entitlements::Document,
        ledger: &dyn ManagedLedger,
    ) -> entitlements::Observed {
        let mut observed = self.observe_all_but_assignments(document, ledger).await;
        self.read_assignments(document, &mut observed).await;
        observed
    }

    /// [`AwsEntitlements::observe`] without the assignments: what the groups to list
    /// are picked from.
    pub async fn observe_all_but_assignments(
        &self,
        document: &entitlements::Document,
        ledger: &dyn ManagedLedger,
    ) -> entitlements::Observed {
        let mut observed = entitlements::Observed::default();
        let with_tags = document
            .grants
            .iter()
            .any(|g| !g.scope.tags.is_empty() || !g.exclude.tags.is_empty());
        match read_organization(&self.organizations, with_tags, &self.counter).await {
            Ok(org) => observed.organization = org,
            Err(e) => observed.problems.push(e),
        }
        match read_groups(&self.identity_store, &self.identity_store_id, &self.counter).await {
            Ok(groups) => observed.identity_center.groups = groups,
            Err(e) => observed.problems.push(e),
        }
        let defined: BTreeSet<&str> = document
            .permission_sets
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        match self.sso_admin.permission_sets_with_details(&defined).await {
            Ok((sets, details)) => {
                observed.identity_center.permission_sets = sets;
                observed.identity_center.permission_set_details = details;
            }
            Err(e) => observed.problems.push(e),
        }
        match ledger.list().await {
            Ok(managed) => observed.managed = managed,
            Err(e) => observed.problems.push(e.to_string()),
        }
        if !defined.is_empty() {
            match ledger.permission_sets().await {
                Ok(managed) => observed.managed_permission_sets = managed,
                Err(e) => observed.problems.push(e.to_string()),
            }
        }
        observed
    }

    /// Reads into `observed` the assignments of every group `document` names (among the
    /// groups read) or the ledger holds.
    pub async fn read_assignments(
        &self,
        document: &entitlements::Document,
        observed: &mut entitlements::Observed,
    ) {
        let mut groups: BTreeSet<String> = observed
            .managed
            .iter()
            .map(|a| a.group_id.clone())
            .collect();
        for grant in &document.grants {
            let ic = &observed.identity_center.groups;
            groups.extend(
                ic.iter()
                    .filter(|g| match &grant.group {
                        entitlements::GroupRef::OktaId(id) => g.external_id.as_ref() == Some(id),
                        entitlements::GroupRef::Name(name) => g.display_name == *name,
                    })
                    .map(|g| g.id.clone()),
            );
        }
        match self.sso_admin.assignments_of(&groups).await {
            Ok(assignments) => observed.identity_center.assignments = assignments,
            Err(e) => observed.problems.push(e),
        }
    }
}

#[async_trait]
impl entitlements::Observe for AwsEntitlements {
    async fn observe(
        &self,
        document: &entitlements::Document,
        ledger: &dyn ManagedLedger,
    ) -> entitlements::Observed {
        AwsEntitlements::observe(self, document, ledger).await
    }
}
