//! The fault soak (`docs/reliability.md`): a real `scimgw dev --aws-endpoint` over moto's
//! server takes Okta event deliveries and Okta SCIM pushes while both emulators fail,
//! drop and throttle requests and moto's listener is restarted once; then the soak checks
//! that Identity Center holds what the inputs say, that every accepted event was applied
//! or waits in the dead-letter queue (and that `scimgw events dlq replay` completes it),
//! that the audit trail pairs every intent with one outcome and verifies, and that
//! nothing is duplicated. `cargo run -p scimgw --example soak` (`scripts/soak`) runs it
//! at full size; the test suite runs it small (`soak::a_small_soak…`).

#![allow(dead_code)] // The test and the example each use part of it.

pub mod checks;
pub mod plot;
pub mod procs;
pub mod report;
pub mod workload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};

use procs::{Dev, Moto};
use workload::{Expected, OktaAdmin, ScimLane, ScimOp};

/// The soak's size, faults and places.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub events: usize,
    pub scim_calls: usize,
    pub seed: u64,
    /// Events in one delivery, at most (each delivery holds 1 to this many).
    pub max_batch: usize,
    /// Lanes of Okta's SCIM client running at once, each over its own users and groups.
    pub scim_lanes: usize,
    pub ic_fail_rate: f64,
    pub ic_drop_rate: f64,
    pub ic_rate_limit: u32,
    pub okta_error_rate: f64,
    pub okta_drop_rate: f64,
    pub okta_rate_limit: u32,
    /// How long moto's listener stays down.
    pub moto_down: Duration,
    /// The share of events accepted when moto's listener is restarted.
    pub restart_at: f64,
    /// How long the events queue may take to empty once the inputs are sent.
    pub drain_timeout: Duration,
    #[serde(skip)]
    pub scimgw: PathBuf,
    #[serde(skip)]
    pub python: PathBuf,
    #[serde(skip)]
    pub moto_script: PathBuf,
    #[serde(skip)]
    pub work_dir: PathBuf,
}

impl Config {
    /// The faults every soak runs under: 10% 500s and 10% dropped connections at
    /// Identity Center, 20% failed reads of Okta (10% 500s, 10% drops), both held to 50
    /// requests a second; moto's listener down for 5 s once, half-way through the events.
    pub fn new(events: usize, scim_calls: usize, seed: u64) -> Self {
        Self {
            events,
            scim_calls,
            seed,
            max_batch: 10,
            scim_lanes: 4,
            ic_fail_rate: 0.1,
            ic_drop_rate: 0.1,
            ic_rate_limit: 50,
            okta_error_rate: 0.1,
            okta_drop_rate: 0.1,
            okta_rate_limit: 50,
            moto_down: Duration::from_secs(5),
            restart_at: 0.5,
            drain_timeout: Duration::from_secs(900),
            scimgw: PathBuf::new(),
            python: PathBuf::new(),
            moto_script: PathBuf::new(),
            work_dir: PathBuf::new(),
        }
    }
}

/// Which of the driver's requests an answer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Hook,
    Scim,
}

/// One answer the driver got: when (seconds into the run), to what, and the status (0:
/// no answer: refused, dropped or timed out).
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub at: f64,
    pub channel: Channel,
    pub status: u16,
    pub retry: bool,
}

/// Counters read once a second.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    pub at: f64,
    pub ic_requests: u64,
    pub ic_throttled: u64,
    pub ic_failed: u64,
    pub ic_dropped: u64,
    pub okta_requests: u64,
    pub okta_throttled: u64,
    pub okta_failed: u64,
    pub okta_dropped: u64,
    pub queued: Option<u64>,
    pub events_accepted: usize,
    pub scim_done: usize,
}

/// What the run shares between its tasks.
struct Run {
    started: Instant,
    http: reqwest::Client,
    dev: Dev,
    answers: Mutex<Vec<Answer>>,
    accepted_events: Mutex<Vec<String>>,
    scim_first_calls: AtomicUsize,
    scim_done: AtomicUsize,
    scim_correlations: Mutex<Vec<String>>,
    failures: Mutex<Vec<String>>,
    config: Config,
}

impl Run {
    fn at(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn answered(&self, channel: Channel, status: u16, retry: bool) {
        let at = self.at();
        self.answers.lock().unwrap().push(Answer {
            at,
            channel,
            status,
            retry,
        });
    }

    fn fail(&self, what: String) {
        eprintln!("soak: {what}");
        self.failures.lock().unwrap().push(what);
    }

    fn ic_admin(&self) -> String {
        let url = self.dev.s("emulator_url");
        let root = url.find("/scim/").map_or(url.as_str(), |i| &url[..i]);
        format!("{root}/_emulator")
    }

    fn okta_admin(&self) -> String {
        format!("{}/_emulator", self.dev.s("okta_url"))
    }

    async fn ic_admin_call(
        &self,
        method: reqwest::Method,
        what: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/{what}", self.ic_admin());
        let auth = format!("Bearer {}", self.dev.s("emulator_token"));
        self.admin_call(method, &url, &auth, body.as_ref()).await
    }

    async fn okta_admin_call(
        &self,
        method: reqwest::Method,
        what: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/{what}", self.okta_admin());
        let auth = format!("SSWS {}", self.dev.s("okta_token"));
        self.admin_call(method, &url, &auth, body).await
    }

    /// An emulator's control endpoint, which injects no faults; a few tries all the
    /// same, as a pooled connection can close as it is reused.
    async fn admin_call(
        &self,
        method: reqwest::Method,
        url: &str,
        auth: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut tries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .header("authorization", auth)
                .timeout(Duration::from_secs(30));
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = async { request.send().await?.error_for_status() };
            match sent.await {
                Ok(response) => return Ok(response.json().await.unwrap_or(Value::Null)),
                Err(error) if tries >= 4 => {
                    let what = url.split("/_emulator").nth(1).unwrap_or_default();
                    return Err(anyhow::Error::new(error).context(format!("{method} {what}")));
                }
                Err(_) => tries += 1,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs the soak to its end and answers the report; `Err` only when it could not run.
pub async fn run(config: Config) -> anyhow::Result<report::Report> {
    std::fs::create_dir_all(&config.work_dir).context("creating the work directory")?;
    let rules = config.work_dir.join("soak-rules.yaml");
    // Groups deleted in Okta are deleted in Identity Center, so that the end state is
    // Okta's whatever order the events are applied in.
    std::fs::write(&rules, "scope:\n  delete: [groups]\n").context("writing the rules")?;
    let moto = Moto::start(
        &config.python,
        &config.moto_script,
        config.moto_down,
        &config.work_dir,
    )
    .await?;
    let dev = Dev::start(&config.scimgw, &moto.url, &rules, &config.work_dir).await?;
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "soak",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await;
    let run = Arc::new(Run {
        started: Instant::now(),
        http,
        dev,
        answers: Mutex::new(Vec::new()),
        accepted_events: Mutex::new(Vec::new()),
        scim_first_calls: AtomicUsize::new(0),
        scim_done: AtomicUsize::new(0),
        scim_correlations: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        config: config.clone(),
    });

    // Faults on, reproducibly: both emulators' dice seeded, then their knobs set.
    run.ic_admin_call(
        reqwest::Method::PUT,
        "seed",
        Some(json!({"seed": config.seed})),
    )
    .await
    .context("seeding the Identity Center emulator's faults")?;
    faults(&run, true).await?;

    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = run.dev.s("events_queue_url");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = tokio::spawn(sample(
        run.clone(),
        sqs.clone(),
        queue_url.clone(),
        sampling.clone(),
    ));

    // The inputs: Okta's deliveries, its SCIM client's lanes, and moto's restart.
    let admin = Arc::new(tokio::sync::Mutex::new(OktaAdmin::new(
        config.seed,
        config.events,
        config.max_batch,
    )));
    let deliveries = tokio::spawn(deliver_all(run.clone(), admin.clone()));
    let lanes: Vec<_> = (0..config.scim_lanes)
        .map(|lane| tokio::spawn(scim_lane(run.clone(), ScimLane::new(config.seed, lane))))
        .collect();
    let restart = tokio::spawn(restart_moto(
        run.clone(),
        moto.process.pid(),
        moto.url.clone(),
    ));
    deliveries.await.context("the deliveries' task")?;
    let mut finished_lanes = Vec::new();
    for lane in lanes {
        finished_lanes.push(lane.await.context("a SCIM lane")?);
    }
    let restart = restart.await.context("the restart's task")?;
    let inputs_done = run.at();

    // The end: the queue drained, then every check.
    let drained = drain(&run, &sqs, &queue_url).await;
    let drained_at = run.at();
    let mut expected = admin.lock().await.expected();
    let by_type = admin.lock().await.by_type.clone();
    for lane in &finished_lanes {
        lane.expected(&mut expected);
    }
    let checks_before = checks::state(&run, &expected).await?;
    let dlq_before = checks::dead_letters(&run)?;
    let ledger_before = checks::ledger(&run, &aws).await?;
    let accepted = run.accepted_events.lock().unwrap().clone();
    let unaccounted = checks::unaccounted(&accepted, &ledger_before, &dlq_before);

    // Faults off, as an admin would fix the cause, then the dead letters replayed.
    faults(&run, false).await?;
    let replay = checks::replay(&run)?;
    let drained_after_replay = drain(&run, &sqs, &queue_url).await;
    sampling.store(false, Ordering::Relaxed);
    let timeline = sampler.await.context("the sampler")?;
    let dlq_after = checks::dead_letters(&run)?;
    let ledger_after = checks::ledger(&run, &aws).await?;
    let unfinished = checks::unaccounted(&accepted, &ledger_after, &[]);
    let state_after = checks::state(&run, &expected).await?;
    let scim_correlations = run.scim_correlations.lock().unwrap().clone();
    let audit = checks::audit(&run, &aws, &accepted, &scim_correlations).await?;
    let ic_stats = run
        .ic_admin_call(reqwest::Method::GET, "stats", None)
        .await?;
    let okta_stats = run
        .okta_admin_call(reqwest::Method::GET, "stats", None)
        .await?;

    let answers = run.answers.lock().unwrap().clone();
    let failures = run.failures.lock().unwrap().clone();
    let report = report::Report::new(report::Parts {
        config,
        by_type,
        inputs_done,
        drained,
        drained_at,
        drained_after_replay,
        total: run.at(),
        answers,
        accepted_events: accepted.len(),
        scim_calls: run.scim_first_calls.load(Ordering::Relaxed),
        scim_ops: run.scim_done.load(Ordering::Relaxed),
        restart,
        outages: moto.outages(),
        timeline,
        checks_before,
        dlq_before: dlq_before.len(),
        unaccounted,
        replay,
        dlq_after: dlq_after.len(),
        unfinished,
        ledger: ledger_after,
        state_after,
        audit,
        ic_stats,
        okta_stats,
        driver_failures: failures,
    });
    drop(run);
    drop(moto);
    Ok(report)
}

/// Turns the emulators' faults and rate limits on or off.
async fn faults(run: &Run, on: bool) -> anyhow::Result<()> {
    let c = &run.config;
    let ic = if on {
        json!({"fail_rate": c.ic_fail_rate, "drop_rate": c.ic_drop_rate,
               "rate_limit": c.ic_rate_limit, "fault_phase": "either"})
    } else {
        json!({"fail_rate": 0.0, "drop_rate": 0.0, "rate_limit": null})
    };
    run.ic_admin_call(reqwest::Method::PATCH, "knobs", Some(ic))
        .await
        .context("setting the Identity Center emulator's knobs")?;
    let okta = if on {
        json!({"error_rate": c.okta_error_rate, "drop_rate": c.okta_drop_rate,
               "rate_limit": c.okta_rate_limit, "seed": c.seed})
    } else {
        json!({"error_rate": 0.0, "drop_rate": 0.0, "rate_limit": null})
    };
    run.okta_admin_call(reqwest::Method::PATCH, "knobs", Some(&okta))
        .await
        .context("setting the Okta emulator's knobs")?;
    Ok(())
}

/// How long the driver waits before re-sending, after `failures` failed tries.
fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = Duration::from_millis(250 << failures.min(5)).min(Duration::from_secs(5));
    retry_after
        .map(|r| r.min(Duration::from_secs(5)))
        .unwrap_or(exponential)
}

/// How long one input may keep failing before the driver gives it up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(300);

/// Okta's deliveries, one after the other: the org changed first (loaded whole into the
/// Okta emulator), then the delivery, re-sent until it is answered 2xx within Okta's 3 s.
async fn deliver_all(run: Arc<Run>, admin: Arc<tokio::sync::Mutex<OktaAdmin>>) {
    loop {
        let Some(delivery) = admin.lock().await.next_delivery() else {
            return;
        };
        let mut failures = 0u32;
        while let Err(error) = run
            .okta_admin_call(reqwest::Method::PUT, "seed-data", Some(&delivery.org))
            .await
        {
            failures += 1;
            if failures > 20 {
                run.fail(format!("the Okta org could not be changed: {error}"));
                return;
            }
            tokio::time::sleep(backoff(failures, None)).await;
        }
        let started = Instant::now();
        let mut tries = 0u32;
        loop {
            let sent = run
                .http
                .post(run.dev.s("hook_url"))
                .header("authorization", run.dev.s("hook_secret"))
                .timeout(Duration::from_secs(3))
                .json(&delivery.envelope)
                .send()
                .await;
            let status = sent.as_ref().map_or(0, |r| r.status().as_u16());
            run.answered(Channel::Hook, status, tries > 0);
            if (200..300).contains(&status) {
                run.accepted_events
                    .lock()
                    .unwrap()
                    .extend(delivery.uuids.iter().cloned());
                break;
            }
            tries += 1;
            if started.elapsed() > GIVE_UP_AFTER {
                run.fail(format!(
                    "a delivery of {} events was never accepted (last status {status})",
                    delivery.uuids.len()
                ));
                break;
            }
            tokio::time::sleep(backoff(tries, None)).await;
        }
    }
}

/// One answer of the gateway's SCIM API.
struct Scim {
    status: u16,
    body: Value,
    correlation: Option<String>,
    retry_after: Option<Duration>,
}

impl Scim {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One lane of Okta's SCIM client, until the soak's SCIM calls are spent.
async fn scim_lane(run: Arc<Run>, mut lane: ScimLane) -> ScimLane {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    while run.scim_first_calls.load(Ordering::Relaxed) < run.config.scim_calls {
        let op = lane.next_op();
        let mut client = ScimClient {
            run: &run,
            retry: false,
        };
        match client.perform(&lane, &mut ids, &op).await {
            Ok(()) => {
                lane.accepted(&op);
                run.scim_done.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                // Not knowing whether it took effect, the lane cannot say what Identity
                // Center should hold: the run fails.
                run.fail(format!(
                    "a SCIM operation was never accepted: {op:?}: {why}"
                ));
                return lane;
            }
        }
    }
    lane
}

struct ScimClient<'a> {
    run: &'a Run,
    /// Whether the operation has failed once: what it sends from then on are retries.
    retry: bool,
}

impl ScimClient<'_> {
    async fn send(&mut self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Scim {
        if !self.retry {
            self.run.scim_first_calls.fetch_add(1, Ordering::Relaxed);
        }
        let mut request = self
            .run
            .http
            .request(method, format!("{}{path}", self.run.dev.s("scim_url")))
            .bearer_auth(self.run.dev.s("scim_token"))
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json; charset=utf-8")
                .body(body.to_string());
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let correlation = header("x-correlation-id");
                let retry_after = header("retry-after")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = response.json().await.unwrap_or(Value::Null);
                Scim {
                    status,
                    body,
                    correlation,
                    retry_after,
                }
            }
            Err(_) => Scim {
                status: 0,
                body: Value::Null,
                correlation: None,
                retry_after: None,
            },
        };
        self.run.answered(Channel::Scim, answer.status, self.retry);
        answer
    }

    /// Sends until answered 2xx (or, for `ok_also`, that status), waiting between tries.
    async fn until_ok(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        ok_also: Option<u16>,
    ) -> Result<Scim, String> {
        let started = Instant::now();
        let mut failures = 0;
        loop {
            let answer = self.send(method.clone(), path, body).await;
            if answer.ok() || (self.retry && ok_also == Some(answer.status)) {
                if method != reqwest::Method::GET
                    && let Some(correlation) = &answer.correlation
                {
                    self.run
                        .scim_correlations
                        .lock()
                        .unwrap()
                        .push(correlation.clone());
                }
                return Ok(answer);
            }
            // A refusal (4xx but 429) is final: Okta does not send it again.
            if (400..500).contains(&answer.status) && answer.status != 429 {
                return Err(format!("refused with {}: {}", answer.status, answer.body));
            }
            self.retry = true;
            failures += 1;
            if started.elapsed() > GIVE_UP_AFTER {
                return Err(format!("last status {}", answer.status));
            }
            tokio::time::sleep(backoff(failures, answer.retry_after)).await;
        }
    }

    /// Looks a resource up by an `eq` filter until the look-up is answered; its id when
    /// found with `external_id` (or, for groups, found at all).
    async fn look_up(
        &mut self,
        path: &str,
        filter: &str,
        external_id: Option<&str>,
    ) -> Result<Option<String>, String> {
        let query = format!("{path}?filter={}&startIndex=1&count=100", percent(filter));
        let answer = self
            .until_ok(reqwest::Method::GET, &query, None, None)
            .await?;
        let found = answer.body["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| external_id.is_none_or(|x| r["externalId"] == x));
        Ok(found.and_then(|r| r["id"].as_str()).map(str::to_owned))
    }

    /// Okta's create task: POSTs `body` to `path` until it is answered, looking the
    /// resource up by `filter` before every try after a failure (and before the first
    /// too with `look_up_first`), so a POST whose answer was lost is linked, not made
    /// twice. The resource's id.
    async fn create_or_link(
        &mut self,
        path: &str,
        body: &Value,
        filter: &str,
        external_id: Option<&str>,
        look_up_first: bool,
    ) -> Result<String, String> {
        let started = Instant::now();
        let mut failures = 0;
        loop {
            if (look_up_first || self.retry)
                && let Some(found) = self.look_up(path, filter, external_id).await?
            {
                return Ok(found);
            }
            let answer = self.send(reqwest::Method::POST, path, Some(body)).await;
            if answer.ok() {
                if let Some(correlation) = answer.correlation {
                    self.run.scim_correlations.lock().unwrap().push(correlation);
                }
                return Ok(answer.body["id"].as_str().unwrap_or_default().to_owned());
            }
            self.retry = true;
            failures += 1;
            if started.elapsed() > GIVE_UP_AFTER {
                return Err(format!("last status {}", answer.status));
            }
            tokio::time::sleep(backoff(failures, answer.retry_after)).await;
        }
    }

    async fn perform(
        &mut self,
        lane: &ScimLane,
        ids: &mut BTreeMap<String, String>,
        op: &ScimOp,
    ) -> Result<(), String> {
        let id = |key: &str| ids.get(key).cloned().unwrap_or_default();
        let patch = |operations: Value| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": operations})
        };
        match op {
            ScimOp::CreateUser { key } => {
                let user = lane.new_user(key);
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user.user_name, "externalId": user.external_id,
                    "name": {"givenName": user.given_name, "familyName": user.family_name},
                    "displayName": user.display_name, "locale": "en-US",
                    "emails": [{"primary": true, "value": user.email, "type": "work"}],
                    "groups": [], "password": format!("Soak-Pw-{key}!1"), "active": true});
                // Okta's create task: the look-up, then the POST; after a failure the
                // whole task again, which links a user an unanswered POST made.
                let filter = format!("userName eq \"{}\"", user.user_name);
                let created = self
                    .create_or_link("/Users", &body, &filter, Some(&user.external_id), true)
                    .await?;
                ids.insert(key.clone(), created);
                Ok(())
            }
            ScimOp::UpdateUser { key, version } => {
                let path = format!("/Users/{}", id(key));
                let current = self
                    .until_ok(reqwest::Method::GET, &path, None, None)
                    .await?;
                let mut user = lane.users[key].clone();
                user.given_name = format!("Given{version}");
                user.display_name = format!("Given{version} {}", user.family_name);
                user.email = format!("scim.{key}.v{version}@example.com");
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "id": current.body["id"], "userName": user.user_name,
                    "externalId": user.external_id,
                    "name": {"givenName": user.given_name, "familyName": user.family_name},
                    "displayName": user.display_name,
                    "emails": [{"primary": true, "value": user.email, "type": "work"}],
                    "active": user.active});
                self.until_ok(reqwest::Method::PUT, &path, Some(&body), None)
                    .await
                    .map(drop)
            }
            ScimOp::SetActive { key, active } => {
                let body = patch(json!([{"op": "replace", "value": {"active": active}}]));
                self.until_ok(
                    reqwest::Method::PATCH,
                    &format!("/Users/{}", id(key)),
                    Some(&body),
                    None,
                )
                .await
                .map(drop)
            }
            ScimOp::CreateGroup { key } => {
                let name = lane.group_name(key, 0);
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                  "displayName": name, "members": []});
                let filter = format!("displayName eq \"{name}\"");
                let created = self
                    .create_or_link("/Groups", &body, &filter, None, false)
                    .await?;
                ids.insert(key.clone(), created);
                Ok(())
            }
            ScimOp::RenameGroup { key, version } => {
                let gid = id(key);
                let body = patch(json!([{"op": "replace",
                    "value": {"id": gid, "displayName": lane.group_name(key, *version)}}]));
                self.until_ok(
                    reqwest::Method::PATCH,
                    &format!("/Groups/{gid}"),
                    Some(&body),
                    None,
                )
                .await
                .map(drop)
            }
            ScimOp::AddMember { group, user } => {
                let gid = id(group);
                let body = patch(json!([
                    {"op": "replace", "value": {"id": gid, "displayName": lane.groups[group].display_name}},
                    {"op": "add", "path": "members",
                     "value": [{"value": id(user), "display": lane.users[user].user_name}]}]));
                self.until_ok(
                    reqwest::Method::PATCH,
                    &format!("/Groups/{gid}"),
                    Some(&body),
                    None,
                )
                .await
                .map(drop)
            }
            ScimOp::RemoveMember { group, user } => {
                let gid = id(group);
                let body = patch(json!([
                    {"op": "replace", "value": {"id": gid, "displayName": lane.groups[group].display_name}},
                    {"op": "remove", "path": format!("members[value eq \"{}\"]", id(user))}]));
                self.until_ok(
                    reqwest::Method::PATCH,
                    &format!("/Groups/{gid}"),
                    Some(&body),
                    None,
                )
                .await
                .map(drop)
            }
            ScimOp::DeleteGroup { key } => {
                // A retried delete that meets 404: the unanswered one deleted it.
                self.until_ok(
                    reqwest::Method::DELETE,
                    &format!("/Groups/{}", id(key)),
                    None,
                    Some(404),
                )
                .await
                .map(drop)
            }
        }
    }
}

/// A query-string value, percent-encoded.
fn percent(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Restarts moto's listener once, when `restart_at` of the events are accepted: what it
/// took, as the driver saw it.
async fn restart_moto(run: Arc<Run>, pid: u32, url: String) -> Option<report::Restart> {
    let target = (run.config.events as f64 * run.config.restart_at) as usize;
    loop {
        let accepted = run.accepted_events.lock().unwrap().len();
        if accepted >= target {
            break;
        }
        if accepted >= run.config.events || !run.failures.lock().unwrap().is_empty() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let signalled = run.at();
    procs::signal(pid, "USR1");
    let http = reqwest::Client::new();
    let answers = |http: reqwest::Client, url: String| async move {
        http.get(format!("{url}/moto-api/"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok()
    };
    // Down first (the wrapper acts within 0.2 s), then up again.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut down_seen = None;
    while Instant::now() < deadline {
        let up = answers(http.clone(), url.clone()).await;
        match (up, down_seen) {
            (false, None) => down_seen = Some(run.at()),
            (true, Some(down)) => {
                return Some(report::Restart {
                    signalled,
                    down_seen: down,
                    up_seen: run.at(),
                });
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.fail("moto's listener did not come back within 120 s".to_owned());
    None
}

/// How many events the queue holds (visible, in flight or delayed).
async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .ok()?;
    let attributes = out.attributes()?;
    Some(
        attributes
            .values()
            .filter_map(|v| v.parse::<u64>().ok())
            .sum(),
    )
}

/// Waits until the events queue has been empty for 3 s in a row; answers whether it was
/// within the drain timeout.
async fn drain(run: &Run, sqs: &aws_sdk_sqs::Client, url: &str) -> bool {
    let deadline = Instant::now() + run.config.drain_timeout;
    let mut empty_since: Option<Instant> = None;
    while Instant::now() < deadline {
        match queued(sqs, url).await {
            Some(0) => {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(3) {
                    return true;
                }
            }
            _ => empty_since = None,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// Reads the counters once a second until told to stop.
async fn sample(
    run: Arc<Run>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    going: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    while going.load(Ordering::Relaxed) {
        let tick = Instant::now();
        let ic = run
            .ic_admin_call(reqwest::Method::GET, "stats", None)
            .await
            .unwrap_or(Value::Null);
        let okta = run
            .okta_admin_call(reqwest::Method::GET, "stats", None)
            .await
            .unwrap_or(Value::Null);
        let queued = tokio::time::timeout(Duration::from_millis(800), queued(&sqs, &queue_url))
            .await
            .ok()
            .flatten();
        samples.push(Sample {
            at: run.at(),
            ic_requests: n(&ic, "requests"),
            ic_throttled: n(&ic, "throttled"),
            ic_failed: n(&ic, "failed"),
            ic_dropped: n(&ic, "dropped"),
            okta_requests: n(&okta, "requests"),
            okta_throttled: n(&okta, "throttled"),
            okta_failed: n(&okta, "failed"),
            okta_dropped: n(&okta, "dropped"),
            queued,
            events_accepted: run.accepted_events.lock().unwrap().len(),
            scim_done: run.scim_done.load(Ordering::Relaxed),
        });
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed())).await;
    }
    samples
}

/// Expected state, re-exported for the checks.
pub type ExpectedState = Expected;
