//! `scimgw emulator`: serves the Identity Center SCIM emulator on a local address with
//! the knobs given on the command line, prints its URLs, and runs until Ctrl-C.

use anyhow::Context;
use clap::Args;
use ic_emulator::{DEFAULT_BASE_PATH, Emulator, EmulatorConfig, FaultPhase, Knobs};

/// Options of `scimgw emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Accepted bearer token; give it twice for two (Identity Center allows at most two).
    /// Also read from SCIMGW_EMULATOR_TOKENS (comma-separated), which keeps tokens out of
    /// the process list.
    #[arg(
        long = "token",
        required = true,
        env = "SCIMGW_EMULATOR_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// SCIM base path; use `/<tenant>/scim/v2` for Identity Center's real shape.
    #[arg(long, default_value = DEFAULT_BASE_PATH)]
    base_path: String,
    /// Requests per second before 429 ThrottlingException (token bucket, 1 s burst).
    #[arg(long, value_name = "RPS")]
    rate_limit: Option<u32>,
    /// Seconds to send in Retry-After on 429 (none by default).
    #[arg(long, value_name = "SECONDS")]
    retry_after: Option<u32>,
    /// Latency added to every SCIM request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0–1) of SCIM requests answered 500 InternalServerException.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    fail_rate: f64,
    /// Fraction (0–1) of SCIM requests whose connection is closed without an answer.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    drop_rate: f64,
    /// When injected 500s and drops strike: before the write, after it (a lost answer),
    /// or either at random.
    #[arg(long, value_name = "PHASE", default_value = "either", value_parser = ["before", "after", "either"])]
    fault_phase: String,
    /// Cap on items per cursor page, to make short pages that still carry nextCursor.
    #[arg(long, value_name = "N")]
    page_limit: Option<u32>,
    /// Compare userName case-sensitively in the `userName eq` filter and in uniqueness
    /// (undocumented by AWS; by default case is ignored).
    #[arg(long)]
    case_sensitive_usernames: bool,
    /// For this many milliseconds after a create, reads of the new user or group (GET by
    /// id, lists and filters) act as if it did not exist yet; writes to it still work.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    read_after_create_lag_ms: u64,
    /// Seed of the fault decisions, for reproducible runs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl EmulatorArgs {
    fn config(self) -> (String, EmulatorConfig) {
        let knobs = Knobs {
            rate_limit: self.rate_limit,
            retry_after: self.retry_after,
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate,
            drop_rate: self.drop_rate,
            fault_phase: match self.fault_phase.as_str() {
                "before" => FaultPhase::Before,
                "after" => FaultPhase::After,
                _ => FaultPhase::Either,
            },
            page_limit: self.page_limit,
            case_sensitive_usernames: self.case_sensitive_usernames,
            read_after_create_lag_ms: self.read_after_create_lag_ms,
        };
        let config = EmulatorConfig {
            tokens: self.tokens,
            base_path: self.base_path,
            knobs,
            seed: self.seed,
        };
        (self.listen, config)
    }
}

/// Runs the emulator until Ctrl-C.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let (listen, config) = args.config();
    let knobs = config.knobs.clone();
    let running = Emulator::start(config, listen.as_str())
        .await
        .with_context(|| format!("starting the emulator on {listen}"))?;
    println!("SCIM base URL: {}", running.base_url());
    println!(
        "Admin URL:     {}/knobs (same bearer token)",
        running.admin_url()
    );
    tracing::info!(addr = %running.addr(), ?knobs, "ic-emulator listening");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let stats = running.stats();
    tracing::info!(?stats, "ic-emulator stopping");
    running.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn flags_map_to_knobs_and_config() {
        let w = Wrapper::try_parse_from([
            "x",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "a",
            "--token",
            "b",
            "--rate-limit",
            "20",
            "--retry-after",
            "2",
            "--latency-ms",
            "5",
            "--fail-rate",
            "0.1",
            "--drop-rate",
            "0.2",
            "--seed",
            "9",
            "--base-path",
            "/t1/scim/v2",
            "--fault-phase",
            "after",
            "--page-limit",
            "7",
            "--case-sensitive-usernames",
            "--read-after-create-lag-ms",
            "50",
        ])
        .unwrap();
        let (listen, config) = w.args.config();
        assert_eq!(listen, "127.0.0.1:0");
        assert_eq!(config.tokens, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(config.base_path, "/t1/scim/v2");
        assert_eq!(config.seed, 9);
        assert_eq!(config.knobs.rate_limit, Some(20));
        assert_eq!(config.knobs.retry_after, Some(2));
        assert_eq!(config.knobs.latency_ms, 5);
        assert_eq!(config.knobs.fail_rate, 0.1);
        assert_eq!(config.knobs.drop_rate, 0.2);
        assert_eq!(config.knobs.fault_phase, FaultPhase::After);
        assert_eq!(config.knobs.page_limit, Some(7));
        assert!(config.knobs.case_sensitive_usernames);
        assert_eq!(config.knobs.read_after_create_lag_ms, 50);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn behaviour_knobs_default_to_what_the_gateway_assumes() {
        let w = Wrapper::try_parse_from(["x", "--token", "a"]).unwrap();
        let (_, config) = w.args.config();
        assert_eq!(config.knobs, Knobs::default());
        assert!(!config.knobs.case_sensitive_usernames);
        assert_eq!(config.knobs.read_after_create_lag_ms, 0);
    }
}
