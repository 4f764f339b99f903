//! `scimgw-bench`: the load generators and measuring harnesses `scripts/bench` runs to
//! write docs/benchmarks.md. Each subcommand writes its raw results as JSON; the script
//! turns them into tables and plots.

mod bulk;
mod footprint;
mod latency;
mod relay;
mod scim;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Measuring harnesses behind scripts/bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Added latency and throughput of each path in front of one Identity Center emulator.
    Latency(latency::Args),
    /// A whole directory through a running `scimgw dev` at a rate-limited emulator.
    Bulk(bulk::Args),
    /// Writes the bulk directory as a seed for `scimgw dev --okta-seed`.
    BulkSeed(bulk::SeedArgs),
    /// A Lambda function's cold start and memory under a local Lambda runtime API.
    Footprint(footprint::Args),
    /// A bare reverse proxy in Rust (axum and reqwest), the latency benchmark's floor for
    /// the gateway's HTTP stack.
    Relay(relay::Args),
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Latency(args) => latency::run(args).await,
        Command::Footprint(args) => footprint::run(args).await,
        Command::Bulk(args) => bulk::run(args).await,
        Command::BulkSeed(args) => bulk::seed(args),
        Command::Relay(args) => relay::run(args).await,
    }
}
