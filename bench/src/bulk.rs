//! Bulk: a whole directory (users, groups, memberships) arriving at a running `scimgw dev`
//! either as Okta event hook deliveries or as Okta SCIM pushes, while its Identity Center
//! emulator admits a fixed number of requests per second. Samples the emulator's counters
//! every second, then checks the emulator holds exactly the directory: nothing lost,
//! nothing twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use reqwest::{Client, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::latency::Admin;
use crate::scim::{Target, send};

/// How the directory arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// Okta event hook deliveries: user, group and membership events.
    Events,
    /// Okta's SCIM client: look-up then create for every user and group, then the
    /// members of each group in one PATCH add.
    Scim,
}

/// What to send and where.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `scimgw dev --info-json` of the running gateway.
    #[arg(long)]
    info: PathBuf,
    /// How the directory arrives.
    #[arg(long, value_enum)]
    via: Via,
    #[command(flatten)]
    directory: DirectoryArgs,
    /// Requests per second the emulator admits (429 beyond).
    #[arg(long, default_value_t = 200)]
    rate_limit: u32,
    /// Events per hook delivery.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// SCIM requests in flight at once (the pushing client's concurrency).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Give up waiting for the directory to arrive after this many seconds.
    #[arg(long, default_value_t = 3600)]
    limit_seconds: u64,
    /// Where to write the results (JSON).
    #[arg(long)]
    out: PathBuf,
}

/// The parts of `scimgw dev --info-json` the benchmark uses.
#[derive(Debug, Deserialize)]
struct Info {
    scim_url: String,
    scim_token: String,
    emulator_url: String,
    emulator_token: String,
    hook_url: String,
    hook_secret: String,
}

/// The directory: Okta ids, names, and which users each group holds.
struct Directory {
    users: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    members: Vec<Vec<usize>>,
}

impl Directory {
    /// Group g holds users g×members … g×members + members − 1 (modulo the user count),
    /// so every user is in the same number of groups and no pair repeats.
    fn new(users: usize, groups: usize, members: usize) -> Self {
        Directory {
            users: (0..users)
                .map(|u| {
                    (
                        format!("00ubench{u:07}"),
                        format!("bulk.{u:05}@example.com"),
                    )
                })
                .collect(),
            groups: (0..groups)
                .map(|g| (format!("00gbench{g:07}"), format!("bulk-group-{g:04}")))
                .collect(),
            members: (0..groups)
                .map(|g| (0..members).map(|j| (g * members + j) % users).collect())
                .collect(),
        }
    }

    fn memberships(&self) -> usize {
        self.members.iter().map(Vec::len).sum()
    }

    /// The Okta API emulator's seed: users, groups, memberships in Okta's shapes.
    fn okta_seed(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|(id, login)| {
                json!({
                    "id": id, "status": "ACTIVE",
                    "profile": {"login": login, "email": login, "firstName": "Bulk",
                                "lastName": id},
                })
            })
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|(id, name)| json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": name}}))
            .collect();
        let memberships: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .zip(&self.members)
            .map(|((id, _), members)| {
                let ids: Vec<&str> = members.iter().map(|&u| self.users[u].0.as_str()).collect();
                (id.clone(), json!(ids))
            })
            .collect();
        json!({"users": users, "groups": groups, "memberships": memberships})
    }
}

/// The directory's size, shared by the seed and the run so that they agree.
#[derive(Debug, clap::Args)]
pub struct DirectoryArgs {
    /// Users in the directory.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Groups in the directory.
    #[arg(long, default_value_t = 500)]
    groups: usize,
    /// Members of each group (each user ends in groups × members / users groups).
    #[arg(long, default_value_t = 100)]
    members: usize,
}

impl DirectoryArgs {
    fn directory(&self) -> Directory {
        Directory::new(self.users, self.groups, self.members)
    }
}

/// Writes the Okta seed for `scimgw dev --okta-seed`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    #[command(flatten)]
    directory: DirectoryArgs,
    /// Where to write the seed (JSON).
    #[arg(long)]
    out: PathBuf,
}

/// Writes the seed file.
pub fn seed(args: SeedArgs) -> Result<()> {
    let directory = args.directory.directory();
    std::fs::write(&args.out, serde_json::to_vec(&directory.okta_seed())?)?;
    Ok(())
}

/// The emulator's counters, read once a second while the run lasts.
async fn sample(client: &Client, emulator: &Admin) -> Result<Value> {
    Ok(client
        .get(format!("{}/_emulator/stats", emulator.url))
        .bearer_auth(&emulator.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Runs the bulk benchmark and writes its results.
pub async fn run(args: Args) -> Result<()> {
    let info: Info = serde_json::from_slice(&std::fs::read(&args.info)?)?;
    let client = Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()?;
    let emulator = Admin {
        url: info
            .emulator_url
            .split("/scim/v2")
            .next()
            .unwrap_or_default()
            .to_owned(),
        token: info.emulator_token.clone(),
    };
    let directory = args.directory.directory();
    client
        .patch(format!("{}/_emulator/knobs", emulator.url))
        .bearer_auth(&emulator.token)
        .json(&json!({"rate_limit": args.rate_limit}))
        .send()
        .await?
        .error_for_status()
        .context("setting the emulator's rate limit")?;

    let started = Instant::now();
    let before = sample(&client, &emulator).await?;
    let timeline = Arc::new(tokio::sync::Mutex::new(Vec::<Value>::new()));
    let sampler = {
        let (client, emulator, timeline) = (client.clone(), emulator.clone(), timeline.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Ok(mut stats) = sample(&client, &emulator).await {
                    // The per-second plot needs the totals only.
                    if let Some(stats) = stats.as_object_mut() {
                        stats.remove("by_answer");
                    }
                    stats["t"] = json!(started.elapsed().as_secs_f64());
                    timeline.lock().await.push(stats);
                }
            }
        })
    };

    let retries = Arc::new(AtomicU64::new(0));
    let sent = match args.via {
        Via::Events => send_events(&client, &info, &directory, &args, &retries).await?,
        Via::Scim => push(&client, &info, &directory, &args, &retries).await?,
    };
    let sent_seconds = started.elapsed().as_secs_f64();
    // One Identity Center request per write Okta asks for: each user and group created,
    // each membership added (one PATCH per membership event; one per group's members,
    // at most 100, for a SCIM push), plus Okta's look-up before each SCIM create.
    let minimum = match args.via {
        Via::Events => directory.users.len() + directory.groups.len() + directory.memberships(),
        Via::Scim => {
            2 * (directory.users.len() + directory.groups.len())
                + directory
                    .members
                    .iter()
                    .map(|m| m.len().div_ceil(100))
                    .sum::<usize>()
        }
    } as f64;
    let check = wait_for_directory(&client, &emulator, &directory, &args, started, minimum).await?;
    let seconds = check.at_seconds;
    sampler.abort();
    let after = sample(&client, &emulator).await?;

    let counter =
        |name: &str| after[name].as_u64().unwrap_or(0) - before[name].as_u64().unwrap_or(0);
    let requests = counter("requests");
    let by_answer = answers_between(&before, &after);
    let throttled = counter("throttled");
    // The rate limit's bound on the requests the gateway made, and on the fewest it
    // could have made.
    let rate = f64::from(args.rate_limit);
    let bound = (requests - throttled) as f64 / rate;
    let minimum_bound = minimum / rate;
    let results = json!({
        "via": match args.via { Via::Events => "events", Via::Scim => "scim" },
        "users": directory.users.len(),
        "groups": directory.groups.len(),
        "memberships": directory.memberships(),
        "rate_limit": args.rate_limit,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "okta_requests": sent,
        "okta_retries": retries.load(Ordering::SeqCst),
        "sent_seconds": sent_seconds,
        "seconds": seconds,
        "target_calls": requests,
        "target_throttled": throttled,
        "target_admitted": requests - throttled,
        "target_by_answer": by_answer,
        "minimum_requests": minimum,
        "bound_seconds": bound,
        "ratio_to_bound": seconds / bound,
        "minimum_bound_seconds": minimum_bound,
        "ratio_to_minimum_bound": seconds / minimum_bound,
        "check": check.report,
        "timeline": *timeline.lock().await,
    });
    std::fs::write(&args.out, serde_json::to_vec_pretty(&results)?)?;
    if !check.exact {
        bail!(
            "the emulator does not hold exactly the directory: {}",
            check.report
        );
    }
    Ok(())
}

/// The emulator's requests by route and answer between two samples of its stats.
fn answers_between(before: &Value, after: &Value) -> BTreeMap<String, u64> {
    let count = |stats: &Value, key: &str| stats["by_answer"][key].as_u64().unwrap_or(0);
    after["by_answer"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| (key.clone(), count(after, key) - count(before, key)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Sends a request, re-sending after 429 and 5xx as Okta would, counting the retries.
async fn okta_send(
    client: &Client,
    target: &Target,
    method: Method,
    path: &str,
    body: Option<Value>,
    retries: &AtomicU64,
) -> Result<Value> {
    for attempt in 0..20u32 {
        match send(client, target, method.clone(), path, body.clone()).await {
            Ok((status, answer)) if status < 300 => return Ok(answer),
            Ok((status, answer)) if status == 429 || status >= 500 => {
                tracing_retry(attempt, &format!("{method} {path}: {status} {answer}"));
            }
            Ok((status, answer)) => bail!("{method} {path}: {status} {answer}"),
            Err(error) => tracing_retry(attempt, &format!("{method} {path}: {error:#}")),
        }
        retries.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
    }
    bail!("{method} {path}: still failing after 20 attempts")
}

fn tracing_retry(attempt: u32, what: &str) {
    if attempt == 0 {
        eprintln!("bulk: retrying {what}");
    }
}

/// The directory as Okta event hook deliveries: every user's create, every group's
/// create, then every membership's add, `batch` events a delivery.
async fn send_events(
    client: &Client,
    info: &Info,
    directory: &Directory,
    args: &Args,
    retries: &AtomicU64,
) -> Result<u64> {
    let template: Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/okta-events/event-hook-user-deactivate.json"
    ))?;
    let event = |kind: &str, n: usize, targets: Vec<Value>| {
        let mut event = template["data"]["events"][0].clone();
        event["eventType"] = json!(kind);
        event["uuid"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
        event["target"] = json!(targets);
        event
    };
    let user = |u: usize| {
        let (id, login) = &directory.users[u];
        json!({"id": id, "type": "User", "alternateId": login, "displayName": login})
    };
    let group = |g: usize| {
        let (id, name) = &directory.groups[g];
        json!({"id": id, "type": "UserGroup", "alternateId": name, "displayName": name})
    };
    let mut events = Vec::new();
    for u in 0..directory.users.len() {
        events.push(event("user.lifecycle.create", events.len(), vec![user(u)]));
    }
    for g in 0..directory.groups.len() {
        events.push(event(
            "group.lifecycle.create",
            events.len(),
            vec![group(g)],
        ));
    }
    for (g, members) in directory.members.iter().enumerate() {
        for &u in members {
            let n = events.len();
            events.push(event(
                "group.user_membership.add",
                n,
                vec![user(u), group(g)],
            ));
        }
    }
    let hook = Target {
        name: "hook".into(),
        scim: info.hook_url.clone(),
        token: String::new(),
    };
    let mut deliveries = 0;
    for (i, chunk) in events.chunks(args.batch.max(1)).enumerate() {
        let mut envelope = template.clone();
        envelope["eventId"] = json!(format!("10000000-0000-4000-8000-{i:012}"));
        envelope["data"]["events"] = json!(chunk);
        hook_post(client, &hook, &info.hook_secret, &envelope, retries).await?;
        deliveries += 1;
    }
    Ok(deliveries)
}

/// Posts one delivery with the hook's shared secret as Okta's Authorization value.
async fn hook_post(
    client: &Client,
    hook: &Target,
    secret: &str,
    envelope: &Value,
    retries: &AtomicU64,
) -> Result<()> {
    for attempt in 0..20u32 {
        let answer = client
            .post(&hook.scim)
            .header("authorization", secret)
            .header("content-type", "application/json")
            .body(envelope.to_string())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) if response.status().is_client_error() => {
                bail!("the hook refused a delivery: {}", response.status())
            }
            Ok(response) => tracing_retry(attempt, &format!("hook: {}", response.status())),
            Err(error) => tracing_retry(attempt, &format!("hook: {error}")),
        }
        retries.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("the hook failed a delivery 20 times")
}

/// The directory as Okta's SCIM client pushes it: each user looked up then created;
/// each group looked up, created, then its members added in one PATCH (at most 100 a
/// PATCH), `concurrency` requests in flight.
async fn push(
    client: &Client,
    info: &Info,
    directory: &Directory,
    args: &Args,
    retries: &AtomicU64,
) -> Result<u64> {
    let target = Target {
        name: "scimgw".into(),
        scim: info.scim_url.clone(),
        token: info.scim_token.clone(),
    };
    let requests = AtomicU64::new(0);
    let user_ids: BTreeMap<usize, String> = futures::stream::iter(0..directory.users.len())
        .map(|u| {
            let (target, requests) = (&target, &requests);
            async move {
                let (okta_id, login) = &directory.users[u];
                look_up(client, target, "Users", "userName", login, retries).await?;
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": login, "externalId": okta_id,
                    "name": {"givenName": "Bulk", "familyName": okta_id},
                    "emails": [{"primary": true, "value": login, "type": "work"}],
                    "displayName": format!("Bulk {okta_id}"),
                    "groups": [], "active": true,
                });
                let created =
                    okta_send(client, target, Method::POST, "/Users", Some(body), retries).await?;
                requests.fetch_add(2, Ordering::SeqCst);
                let id = created["id"]
                    .as_str()
                    .context("created user without id")?
                    .to_owned();
                Ok::<_, anyhow::Error>((u, id))
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;

    futures::stream::iter(0..directory.groups.len())
        .map(|g| {
            let (target, requests, user_ids) = (&target, &requests, &user_ids);
            async move {
                let (okta_id, name) = &directory.groups[g];
                look_up(client, target, "Groups", "displayName", name, retries).await?;
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name, "externalId": okta_id, "members": [],
                });
                let created =
                    okta_send(client, target, Method::POST, "/Groups", Some(body), retries).await?;
                requests.fetch_add(2, Ordering::SeqCst);
                let id = created["id"]
                    .as_str()
                    .context("created group without id")?
                    .to_owned();
                for chunk in directory.members[g].chunks(100) {
                    let value: Vec<Value> = chunk
                        .iter()
                        .map(|u| json!({"value": user_ids[u], "display": directory.users[*u].1}))
                        .collect();
                    let patch = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [
                            {"op": "replace", "value": {"id": id, "displayName": name}},
                            {"op": "add", "path": "members", "value": value},
                        ],
                    });
                    okta_send(
                        client,
                        target,
                        Method::PATCH,
                        &format!("/Groups/{id}"),
                        Some(patch),
                        retries,
                    )
                    .await?;
                    requests.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>>>()?;
    Ok(requests.load(Ordering::SeqCst))
}

/// Okta's look-up before a create: `GET /{resource}?filter={attribute} eq "{value}"`.
async fn look_up(
    client: &Client,
    target: &Target,
    resource: &str,
    attribute: &str,
    value: &str,
    retries: &AtomicU64,
) -> Result<Value> {
    let filter = format!("{attribute} eq \"{value}\"");
    let query = percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
    let path = format!("/{resource}?filter={query}&startIndex=1&count=100");
    okta_send(client, target, Method::GET, &path, None, retries).await
}

/// What the emulator held when the directory had arrived (or the limit passed).
struct Check {
    exact: bool,
    at_seconds: f64,
    report: Value,
}

/// Polls the emulator's state until it holds every user, group and membership, then
/// compares it with the directory exactly.
async fn wait_for_directory(
    client: &Client,
    emulator: &Admin,
    directory: &Directory,
    args: &Args,
    started: Instant,
    minimum: f64,
) -> Result<Check> {
    let limit = started + Duration::from_secs(args.limit_seconds);
    let mut last_read = Instant::now();
    loop {
        // The full state is large; read it once the emulator has admitted nearly the
        // minimum number of requests, and otherwise every 10 s.
        let stats = sample(client, emulator).await?;
        let admitted = stats["requests"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(stats["throttled"].as_u64().unwrap_or(0)) as f64;
        if admitted < 0.98 * minimum && last_read.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        last_read = Instant::now();
        let state: Value = client
            .get(format!("{}/_emulator/state", emulator.url))
            .bearer_auth(&emulator.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let at_seconds = started.elapsed().as_secs_f64();
        let report = compare(&state, directory);
        let complete = report["memberships"] == json!(directory.memberships())
            && report["users"] == json!(directory.users.len())
            && report["groups"] == json!(directory.groups.len());
        if complete || Instant::now() > limit {
            let exact = complete && report["problems"] == json!([]);
            return Ok(Check {
                exact,
                at_seconds,
                report,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Counts what the emulator holds and lists every way it differs from the directory:
/// missing or duplicated users and groups, memberships missing or extra.
fn compare(state: &Value, directory: &Directory) -> Value {
    let empty = Vec::new();
    let users = state["users"].as_array().unwrap_or(&empty);
    let groups = state["groups"].as_array().unwrap_or(&empty);
    let mut problems = Vec::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for user in users {
        let name = user["user_name"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let id = user["id"].as_str().unwrap_or_default().to_owned();
        if by_name.insert(name.clone(), id).is_some() {
            problems.push(format!("user {name} twice"));
        }
    }
    let mut group_members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for group in groups {
        let name = group["display_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let members: BTreeSet<String> = group["members"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        if group_members.insert(name.clone(), members).is_some() {
            problems.push(format!("group {name} twice"));
        }
    }
    let mut memberships = 0;
    for (u, (_, login)) in directory.users.iter().enumerate() {
        if !by_name.contains_key(login) && problems.len() < 50 {
            problems.push(format!("user {login} (#{u}) missing"));
        }
    }
    for ((_, name), members) in directory.groups.iter().zip(&directory.members) {
        let Some(held) = group_members.get(name) else {
            problems.push(format!("group {name} missing"));
            continue;
        };
        let want: BTreeSet<String> = members
            .iter()
            .filter_map(|&u| by_name.get(&directory.users[u].1).cloned())
            .collect();
        memberships += held.intersection(&want).count();
        let extra = held.difference(&want).count();
        if extra > 0 {
            problems.push(format!("group {name}: {extra} members it should not have"));
        }
    }
    problems.truncate(50);
    json!({
        "users": users.len(),
        "groups": groups.len(),
        "memberships": memberships,
        "problems": problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_of_a_run_are_the_growth_of_each_count_between_samples() {
        let before = json!({"by_answer": {"POST /Users 201": 3, "GET /Users 200": 1}});
        let after = json!({"by_answer": {"POST /Users 201": 10, "GET /Users 200": 1,
                                         "POST /Users 409": 2}});
        let run = answers_between(&before, &after);
        let expected = BTreeMap::from([
            ("POST /Users 201".to_owned(), 7),
            ("POST /Users 409".to_owned(), 2),
        ]);
        assert_eq!(run, expected);
    }

    #[test]
    fn every_user_is_in_the_same_number_of_groups_and_no_pair_repeats() {
        let directory = Directory::new(100, 10, 50);
        let mut per_user = vec![0; 100];
        for members in &directory.members {
            let distinct: BTreeSet<_> = members.iter().collect();
            assert_eq!(distinct.len(), members.len(), "a member twice in one group");
            for &u in members {
                per_user[u] += 1;
            }
        }
        assert!(per_user.iter().all(|&n| n == 5), "{per_user:?}");
        assert_eq!(directory.memberships(), 500);
    }

    #[test]
    fn the_comparison_names_missing_users_and_extra_members() {
        let directory = Directory::new(2, 1, 1);
        let state = json!({
            "users": [{"id": "a", "user_name": "bulk.00000@example.com"}],
            "groups": [{"display_name": "bulk-group-0000", "members": ["x"]}],
        });
        let report = compare(&state, &directory);
        assert_eq!(report["memberships"], json!(0));
        let problems = report["problems"].to_string();
        assert!(problems.contains("bulk.00001@example.com"), "{problems}");
        assert!(
            problems.contains("1 members it should not have"),
            "{problems}"
        );
    }
}
