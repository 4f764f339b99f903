//! Entitlements as code (`docs/entitlements.md`): which Identity Center group gets which
//! permission set on which AWS accounts, as a YAML document versioned in the state table
//! like the rule sets.
//!
//! - [`document`]: the document (grants, and the permission sets it defines) and its
//!   validation;
//! - [`state`]: what a plan is computed from (the organization, Identity Center's groups,
//!   permission sets and assignments) and how a scope resolves over the OU tree;
//! - [`mod@plan`]: the plan (assignments to create and delete, each with its reason), its
//!   safety rules and its id;
//! - [`mod@execute`]: the executor that applies a plan within Identity Center's limits;
//! - [`mod@apply`]: a plan applied: the executor, then the ledger and one audit record per
//!   operation;
//! - [`ledger`]: the port of the set of assignments this gateway manages;
//! - [`mod@run`]: one unattended run of the stack's entitlements function: its trigger
//!   (a schedule, an account event, a group created), the plan, and its apply unless
//!   the breaker withholds it.
//!
//! No AWS SDK: the readers and the SSO Admin calls are in `aws_adapters`.

pub mod apply;
pub mod document;
pub mod execute;
pub mod ledger;
pub mod plan;
pub mod run;
pub mod state;

pub use apply::{Applier, Report, apply};
pub use document::{
    Document, Grant, GroupRef, InlinePolicy, Invalid, PermissionSetDefinition, PolicyReference,
    Problem, Scope,
};
pub use execute::{
    ApiError, AssignmentApi, Limits, OpKind, OpResult, OpStatus, Outcome, PermissionSetOutcome,
    execute, execute_permission_sets,
};
pub use ledger::{InMemoryLedger, LedgerError, ManagedLedger};
pub use plan::{
    Change, PermissionSetChange, PermissionSetStep, Plan, Refusal, Safety, import, plan,
};
pub use run::{GroupCreated, Mode, Observe, RunReport, Runner, Trigger};
pub use state::{
    Account, Assignment, DirectoryGroup, IdentityCenter, Observed, OrgUnit, Organization,
    PermissionSet, PermissionSetDetails, Via,
};
