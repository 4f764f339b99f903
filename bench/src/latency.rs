//! Added latency and throughput: the same SCIM workload sent straight to the Identity
//! Center emulator and down every other path in front of that same emulator, interleaved
//! request by request (latency) and slice by slice (throughput), so that whatever else the
//! machine does lands on every path alike.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Client;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::scim::{OPS, Target, Workload};

/// What to measure: read from the JSON file `scripts/bench` writes.
#[derive(Debug, Deserialize)]
pub struct Plan {
    /// The emulator's admin endpoint (`/_emulator`'s base) and token, for its counters.
    pub emulator: Admin,
    /// The paths, the first of them the direct one every other is compared with.
    pub paths: Vec<Target>,
}

/// An emulator's base URL (without `/scim/v2`) and its token.
#[derive(Debug, Clone, Deserialize)]
pub struct Admin {
    pub url: String,
    pub token: String,
}

impl Admin {
    /// SCIM requests the emulator has received.
    pub async fn requests(&self, client: &Client) -> Result<u64> {
        let stats: Value = client
            .get(format!("{}/_emulator/stats", self.url))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        stats["requests"].as_u64().context("stats without requests")
    }
}

/// How much to measure.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan: `{"emulator": {"url", "token"}, "paths": [{"name", "scim", "token"}]}`.
    #[arg(long)]
    plan: PathBuf,
    /// Where to write the results (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Workload iterations timed on every path (6 requests each).
    #[arg(long, default_value_t = 300)]
    iterations: usize,
    /// Iterations sent first and not timed, to warm connections and caches.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Iterations run on each path alone to count the emulator's requests per operation.
    #[arg(long, default_value_t = 10)]
    calibration: usize,
    /// Clients sending at once in the throughput slices.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Length of one throughput slice, in seconds.
    #[arg(long, default_value_t = 3.0)]
    slice_seconds: f64,
    /// Throughput slices per path (the paths take turns).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
}

/// Runs the benchmark and writes its results.
pub async fn run(args: Args) -> Result<()> {
    let plan: Plan = serde_json::from_slice(&std::fs::read(&args.plan)?)
        .with_context(|| format!("reading {}", args.plan.display()))?;
    if plan.paths.len() < 2 {
        bail!("the plan needs the direct path and at least one other");
    }
    let client = Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()?;
    let tag = format!("{:x}", std::process::id());
    let mut workloads = Vec::new();
    for target in &plan.paths {
        workloads.push(Workload::start(&client, target.clone(), &tag).await?);
    }

    eprintln!("bench: counting Identity Center requests per operation");
    let calls = calibrate(
        &client,
        &plan.emulator,
        &mut workloads,
        &tag,
        args.calibration,
    )
    .await?;

    eprintln!("bench: warming up ({} iterations)", args.warmup);
    interleave(&client, &mut workloads, &format!("w{tag}"), args.warmup).await?;
    eprintln!(
        "bench: timing {} iterations on {} paths",
        args.iterations,
        workloads.len()
    );
    let samples = interleave(&client, &mut workloads, &format!("l{tag}"), args.iterations).await?;

    eprintln!(
        "bench: throughput, {} rounds of {} s slices",
        args.rounds, args.slice_seconds
    );
    let slices = throughput(&client, &plan.paths, &tag, &args).await?;

    let paths: Vec<Value> = workloads
        .iter()
        .enumerate()
        .map(|(p, w)| {
            let by_op: serde_json::Map<String, Value> = OPS
                .iter()
                .enumerate()
                .map(|(o, op)| (op.name().to_owned(), json!(samples[p][o])))
                .collect();
            json!({
                "name": w.name(),
                "latency_retries": w.retries,
                "samples_ms": by_op,
                "target_calls_per_op": calls[p],
            })
        })
        .collect();
    let results = json!({
        "iterations": args.iterations,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "slice_seconds": args.slice_seconds,
        "rounds": args.rounds,
        "paths": paths,
        "throughput": slices,
    });
    std::fs::write(&args.out, serde_json::to_vec_pretty(&results)?)?;
    Ok(())
}

/// Runs the workload on each path alone and counts the emulator's requests per
/// operation, as averages over `iterations`.
async fn calibrate(
    client: &Client,
    emulator: &Admin,
    workloads: &mut [Workload],
    tag: &str,
    iterations: usize,
) -> Result<Vec<Value>> {
    let mut all = Vec::new();
    for workload in workloads.iter_mut() {
        let mut counts = [0u64; OPS.len()];
        for i in 0..iterations {
            let user = user_name(workload.name(), &format!("c{tag}"), i);
            for (o, op) in OPS.iter().enumerate() {
                let before = emulator.requests(client).await?;
                workload.step(client, *op, &user).await?;
                counts[o] += emulator.requests(client).await? - before;
            }
        }
        let per_op: serde_json::Map<String, Value> = OPS
            .iter()
            .zip(counts)
            .map(|(op, n)| (op.name().to_owned(), json!(n as f64 / iterations as f64)))
            .collect();
        all.push(Value::Object(per_op));
    }
    Ok(all)
}

/// Sends `iterations` of the workload, each request to every path in turn (the order
/// rotating so no path always goes first), and returns the latencies in milliseconds,
/// by path and by operation.
async fn interleave(
    client: &Client,
    workloads: &mut [Workload],
    tag: &str,
    iterations: usize,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let n = workloads.len();
    let mut samples = vec![vec![Vec::with_capacity(iterations); OPS.len()]; n];
    let mut turn = 0usize;
    for i in 0..iterations {
        for (o, op) in OPS.iter().enumerate() {
            for k in 0..n {
                let p = (turn + k) % n;
                let user = user_name(workloads[p].name(), tag, i);
                let elapsed = workloads[p].step(client, *op, &user).await?;
                samples[p][o].push(elapsed.as_secs_f64() * 1000.0);
            }
            turn += 1;
        }
    }
    Ok(samples)
}

/// Closed-loop throughput: `concurrency` clients run the workload on one path for a
/// slice, then the next path takes its turn, for `rounds` rounds.
async fn throughput(
    client: &Client,
    targets: &[Target],
    tag: &str,
    args: &Args,
) -> Result<Vec<Value>> {
    let slice = Duration::from_secs_f64(args.slice_seconds);
    let mut slices = Vec::new();
    for round in 0..args.rounds {
        for k in 0..targets.len() {
            let target = &targets[(round + k) % targets.len()];
            // Each client's group is made before the clock starts.
            let starting = (0..args.concurrency).map(|c| {
                let tag = format!("t{tag}r{round}c{c}");
                async move { Workload::start(client, target.clone(), &tag).await }
            });
            let workloads = futures::future::try_join_all(starting).await?;
            let started = Instant::now();
            let deadline = started + slice;
            let clients = workloads.into_iter().enumerate().map(|(c, workload)| {
                let tag = format!("t{tag}r{round}c{c}");
                async move { closed_loop(client, workload, &tag, deadline).await }
            });
            let done: Vec<(usize, u64)> = futures::future::try_join_all(clients).await?;
            let seconds = started.elapsed().as_secs_f64();
            let requests: usize = done.iter().map(|d| d.0).sum();
            let retries: u64 = done.iter().map(|d| d.1).sum();
            slices.push(json!({
                "path": target.name,
                "round": round,
                "requests": requests,
                "retries": retries,
                "seconds": seconds,
                "per_second": requests as f64 / seconds,
            }));
        }
    }
    Ok(slices)
}

/// One client of the throughput run: the workload over and over until `deadline`,
/// counting the requests answered as expected and those sent again.
async fn closed_loop(
    client: &Client,
    mut workload: Workload,
    tag: &str,
    deadline: Instant,
) -> Result<(usize, u64)> {
    let name = workload.name().to_owned();
    let mut done = 0;
    let mut i = 0;
    while Instant::now() < deadline {
        let user = user_name(&name, tag, i);
        for op in OPS {
            workload.step(client, op, &user).await?;
            done += 1;
        }
        i += 1;
    }
    Ok((done, workload.retries))
}

/// A `userName` unique to the path, phase and iteration.
fn user_name(path: &str, tag: &str, i: usize) -> String {
    format!("bench.{path}.{tag}.{i}@example.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_differ_by_path_phase_and_iteration() {
        let a = user_name("direct", "l1", 0);
        assert_ne!(a, user_name("nginx", "l1", 0));
        assert_ne!(a, user_name("direct", "w1", 0));
        assert_ne!(a, user_name("direct", "l1", 1));
    }

    #[test]
    fn every_operation_has_its_own_name() {
        let mut names: Vec<&str> = OPS.iter().map(|op| op.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPS.len());
        assert!(
            matches!(OPS[0], crate::scim::Op::Create),
            "the workload creates the user first"
        );
    }
}
