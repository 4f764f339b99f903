//! `scimgw`: the admins' and auditors' command-line tool. This file is wiring only: it
//! parses the command line, sets up tracing, and hands each subcommand to its module.

mod access;
mod audit;
mod dev;
mod dev_audit;
mod dev_aws;
mod dev_events;
mod dev_oidc;
mod doctor;
mod emulator;
mod entitlements;
mod events;
mod rules;
mod sync;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// How long one call to a store or queue may take in an admin's command: the first one
/// resolves the credential chain (an SSO or assume-role profile), and a command has no
/// caller waiting on it the way Okta waits on a Lambda, so a slow answer is worth waiting
/// for rather than failing the command.
pub(crate) const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The scimgw command line.
#[derive(Debug, Parser)]
#[command(
    name = "scimgw",
    version,
    about = "SCIM gateway between Okta and AWS IAM Identity Center"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SCIM gateway locally, in front of the embedded emulator, until Ctrl-C.
    Dev(dev::DevArgs),
    /// Check a deployed stack (or a running `scimgw dev`) step by step and say what to fix.
    Doctor(doctor::DoctorArgs),
    /// Run the IAM Identity Center SCIM emulator until Ctrl-C.
    Emulator(emulator::EmulatorArgs),
    /// Query, export and verify the audit trail (from the table or the audit API).
    Audit(audit::AuditArgs),
    /// Access reports for auditors: who can reach which account with which permission
    /// set through which group since when, as of any date; diffs; leaver times.
    Access(access::AccessArgs),
    /// Validate, test, apply, list and roll back mapping rule sets (in the state table).
    Rules(rules::RulesArgs),
    /// Entitlements as code: which group gets which permission set on which accounts;
    /// versioned documents, plan, apply, import.
    Entitlements(entitlements::EntitlementsArgs),
    /// The Okta event path's dead-letter queue: list, replay, discard.
    Events(events::EventsArgs),
    /// Plan or apply the changes that make Identity Center match Okta.
    Sync(sync::SyncArgs),
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Dev(args) => dev::run(args)
            .await
            .map(|()| std::process::ExitCode::SUCCESS),
        Command::Emulator(args) => emulator::run(args)
            .await
            .map(|()| std::process::ExitCode::SUCCESS),
        Command::Doctor(args) => Ok(doctor::run(args).await),
        Command::Audit(args) => Ok(audit::run(args).await),
        Command::Access(args) => Ok(access::run(args).await),
        Command::Rules(args) => Ok(rules::run(args).await),
        Command::Entitlements(args) => Ok(entitlements::run(args).await),
        Command::Events(args) => Ok(events::run(args).await),
        Command::Sync(args) => Ok(sync::run(args).await),
    }
}
