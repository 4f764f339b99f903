//! The Okta replay suite: Okta's SCIM request sequences (`docs/okta-client.md`), kept as
//! JSON fixtures in `fixtures/okta-scim/` (format in its README), run through the gateway's
//! real router and target client against two real targets:
//!
//! - the Identity Center emulator, where the gateway must translate, and where every
//!   body the target received is also checked for Okta's passwords;
//! - scim2-server, a third-party RFC 7644 server, with the generic dialect.
//!
//! Each fixture asserts the answers Okta expects and the final state of the target.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use clients::TargetDialect;
use http::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::scim_support::{RecordingEmulator, TARGET_TOKEN, TestGateway, init_test_log};
use ic_emulator::{EmulatorConfig, Knobs};

/// Every fixture, compiled in so the suite does not depend on the working directory.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "create-user",
        include_str!("fixtures/okta-scim/create-user.json"),
    ),
    (
        "link-existing-user",
        include_str!("fixtures/okta-scim/link-existing-user.json"),
    ),
    (
        "profile-update",
        include_str!("fixtures/okta-scim/profile-update.json"),
    ),
    (
        "deactivate-user",
        include_str!("fixtures/okta-scim/deactivate-user.json"),
    ),
    (
        "reactivate-user",
        include_str!("fixtures/okta-scim/reactivate-user.json"),
    ),
    (
        "import-paging",
        include_str!("fixtures/okta-scim/import-paging.json"),
    ),
    (
        "group-push",
        include_str!("fixtures/okta-scim/group-push.json"),
    ),
    (
        "group-replace-members",
        include_str!("fixtures/okta-scim/group-replace-members.json"),
    ),
    (
        "group-put",
        include_str!("fixtures/okta-scim/group-put.json"),
    ),
    (
        "group-delete",
        include_str!("fixtures/okta-scim/group-delete.json"),
    ),
];

// ---------------------------------------------------------------------------------------
// The fixture format

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[allow(dead_code)]
    description: String,
    #[allow(dead_code)]
    source: String,
    steps: Vec<Step>,
    final_state: FinalState,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    name: String,
    /// Targets the step runs against (`ic`, `scim2`); all when absent.
    #[serde(default)]
    only: Option<Vec<String>>,
    /// Sent straight to the target, bypassing the gateway (state made outside Okta).
    #[serde(default)]
    seed: bool,
    /// Runs the step this many times, with `{{i}}` = 1, 2, …
    #[serde(default)]
    repeat: Option<usize>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    expect_status: Option<u16>,
    #[serde(default)]
    expect: Option<Value>,
    #[serde(default)]
    expect_headers: Option<Map<String, Value>>,
    #[serde(default)]
    expect_empty_body: bool,
    /// Variable name → JSON pointer into the answer; a name ending in `[]` appends.
    #[serde(default)]
    capture: BTreeMap<String, String>,
    /// Okta's import loop instead of a single request.
    #[serde(default)]
    import: Option<Import>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    path: String,
    count: u64,
    collect: String,
    #[serde(default = "one")]
    passes: usize,
}

fn one() -> usize {
    1
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FinalState {
    #[serde(default)]
    user_count: Option<usize>,
    #[serde(default)]
    users: Vec<Value>,
    #[serde(default)]
    group_count: Option<usize>,
    #[serde(default)]
    groups: Vec<Value>,
    #[serde(default)]
    imported_includes: Option<ImportedIncludes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedIncludes {
    collected: String,
    all_of: String,
}

// ---------------------------------------------------------------------------------------
// Targets

/// Where the replay provisions into.
pub enum Target {
    /// A fresh emulator per fixture.
    Emulator(RecordingEmulator),
    /// The shared scim2-server; fixtures are told apart by their run id.
    Scim2 {
        /// Its base URL.
        url: String,
        /// Its bearer token.
        token: String,
    },
}

impl Target {
    /// The emulator, or scim2-server from the test services.
    pub async fn start(name: &str) -> Self {
        match name {
            "ic" => Target::Emulator(RecordingEmulator::start().await),
            // Identity Center's two undocumented behaviours, the other way round from
            // the emulator's defaults: case-sensitive user names, and a new resource
            // that reads stay blind to for a while (a peer saw a 404 50 ms after a create).
            "ic-knobs" => {
                let knobs = Knobs {
                    case_sensitive_usernames: true,
                    read_after_create_lag_ms: 60,
                    ..Knobs::default()
                };
                let config = EmulatorConfig::new(TARGET_TOKEN).with_knobs(knobs);
                Target::Emulator(RecordingEmulator::start_with(config).await)
            }
            _ => {
                let (url, token) = test_services::scim2_server();
                Target::Scim2 { url, token }
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Emulator(_) => "ic",
            Target::Scim2 { .. } => "scim2",
        }
    }

    /// A gateway in front of this target.
    pub fn gateway(&self) -> TestGateway {
        match self {
            Target::Emulator(emulator) => TestGateway::over(emulator),
            Target::Scim2 { url, token } => TestGateway::new(url, token, TargetDialect::Rfc7644),
        }
    }

    fn url_and_token(&self) -> (String, String) {
        match self {
            Target::Emulator(e) => (e.url.clone(), TARGET_TOKEN.to_owned()),
            Target::Scim2 { url, token } => (url.clone(), token.clone()),
        }
    }

    async fn direct(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (url, token) = self.url_and_token();
        let mut request = reqwest::Client::new()
            .request(method, format!("{url}{path}"))
            .bearer_auth(token)
            .header("content-type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(serde_json::to_vec(body).expect("json"));
        }
        let response = request.send().await.expect("target reachable");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// The users and groups of this run (their names contain `run`), as JSON: users as
    /// the target returns them plus `groups` (group ids) where the target keeps them;
    /// groups with `members` as a sorted list of user ids.
    async fn state(&self, run: &str) -> (Vec<Value>, Vec<Value>) {
        match self {
            Target::Emulator(e) => {
                let users = e
                    .emulator
                    .users()
                    .into_iter()
                    .filter(|u| u.user_name.contains(run))
                    .map(|u| {
                        let mut resource = u.resource.clone();
                        resource["groups"] = json!(u.groups);
                        resource
                    })
                    .collect();
                let groups = e
                    .emulator
                    .groups()
                    .into_iter()
                    .filter(|g| g.display_name.contains(run))
                    .map(|g| {
                        json!({"id": g.id, "displayName": g.display_name, "externalId": g.external_id, "members": g.members})
                    })
                    .collect();
                (users, groups)
            }
            Target::Scim2 { .. } => {
                let users = self
                    .list_all("/Users")
                    .await
                    .into_iter()
                    .filter(|u| u["userName"].as_str().is_some_and(|n| n.contains(run)))
                    .collect();
                let groups = self
                    .list_all("/Groups")
                    .await
                    .into_iter()
                    .filter(|g| g["displayName"].as_str().is_some_and(|n| n.contains(run)))
                    .map(|mut g| {
                        let members: BTreeSet<String> = g["members"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|m| m["value"].as_str().map(str::to_owned))
                            .collect();
                        g["members"] = json!(members);
                        g
                    })
                    .collect();
                (users, groups)
            }
        }
    }

    async fn list_all(&self, path: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut start = 1;
        loop {
            let (status, page) = self
                .direct(
                    Method::GET,
                    &format!("{path}?startIndex={start}&count=100"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "listing {path} on the target: {page}");
            let resources = page["Resources"].as_array().cloned().unwrap_or_default();
            let total = page["totalResults"].as_u64().unwrap_or(0);
            start += resources.len() as u64;
            let empty = resources.is_empty();
            all.extend(resources);
            if empty || start > total {
                return all;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The runner

/// The variables of one run: `run`, `RUN`, captures, and `i`/`item`/`index` in loops.
#[derive(Debug, Default, Clone)]
struct Vars(HashMap<String, Value>);

impl Vars {
    fn text(&self, template: &str) -> Value {
        // A string that is exactly one placeholder takes the variable's JSON value.
        if let Some(name) = template
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            && !name.contains("{{")
            && let Some(value) = self.0.get(name)
        {
            return value.clone();
        }
        let mut out = template.to_owned();
        for (name, value) in &self.0 {
            let needle = format!("{{{{{name}}}}}");
            if out.contains(&needle) {
                let replacement = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out = out.replace(&needle, &replacement);
            }
        }
        assert!(!out.contains("{{"), "unknown placeholder in {out:?}");
        Value::String(out)
    }

    /// Substitutes placeholders in every string, and expands `{"$each": list, "template": t}`.
    fn fill(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => self.text(s),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill(v)).collect()),
            Value::Object(map) if map.contains_key("$each") => {
                let list = map["$each"].as_str().expect("$each names a list variable");
                let items = self
                    .0
                    .get(list)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let template = map.get("template").cloned().unwrap_or(json!("{{item}}"));
                Value::Array(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(index, item)| {
                            let mut inner = self.clone();
                            inner.0.insert("item".into(), item);
                            inner
                                .0
                                .insert("index".into(), json!((index + 1).to_string()));
                            inner.fill(&template)
                        })
                        .collect(),
                )
            }
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect())
            }
            other => other.clone(),
        }
    }
}

/// Checks `actual` against a partial `expected` (format in the fixtures' README).
fn check(expected: &Value, actual: Option<&Value>, at: &str, errors: &mut Vec<String>) {
    let present = actual.filter(|v| !v.is_null());
    match expected {
        Value::String(s) if s == "$absent" => {
            if let Some(v) = present {
                errors.push(format!("{at}: expected absent, got {v}"));
            }
        }
        Value::String(s) if s == "$any" => {
            if present.is_none() {
                errors.push(format!("{at}: expected a value"));
            }
        }
        Value::String(s) if s == "$integer" => {
            if !present.is_some_and(|v| v.is_i64() || v.is_u64()) {
                errors.push(format!("{at}: expected an integer, got {actual:?}"));
            }
        }
        Value::String(s) if s == "$string" => {
            if present.and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push(format!("{at}: expected a non-empty string, got {actual:?}"));
            }
        }
        Value::Object(map) if map.contains_key("$len") => {
            let len = present.and_then(Value::as_array).map(Vec::len);
            if len != map["$len"].as_u64().map(|n| n as usize) {
                errors.push(format!("{at}: expected {} items, got {len:?}", map["$len"]));
            }
        }
        Value::Object(map) if map.contains_key("$contains") => {
            let items = present
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for wanted in map["$contains"].as_array().into_iter().flatten() {
                let found = items.iter().any(|item| {
                    let mut inner = Vec::new();
                    check(wanted, Some(item), at, &mut inner);
                    inner.is_empty()
                });
                if !found {
                    errors.push(format!("{at}: no item matches {wanted} in {items:?}"));
                }
            }
        }
        Value::Object(map) => match present {
            Some(Value::Object(object)) => {
                for (key, wanted) in map {
                    check(wanted, object.get(key), &format!("{at}/{key}"), errors);
                }
            }
            other => errors.push(format!("{at}: expected an object, got {other:?}")),
        },
        Value::Array(wanted) => match present {
            Some(Value::Array(items)) if items.len() == wanted.len() => {
                for (i, (w, a)) in wanted.iter().zip(items).enumerate() {
                    check(w, Some(a), &format!("{at}/{i}"), errors);
                }
            }
            other => errors.push(format!(
                "{at}: expected {} items, got {other:?}",
                wanted.len()
            )),
        },
        scalar => {
            if present != Some(scalar) {
                errors.push(format!("{at}: expected {scalar}, got {actual:?}"));
            }
        }
    }
}

/// What a replay left behind, for the tests that look beyond the answers.
pub struct Replay {
    /// Every `password` value the fixtures sent.
    pub passwords: Vec<String>,
}

/// Runs the fixture `name` against `target` through `gateway`; panics with every
/// mismatch of the failing step.
pub async fn replay(name: &str, text: &str, target: &Target, gateway: &TestGateway) -> Replay {
    replay_under(name, text, target, gateway, None).await
}

/// [`replay`] with `rules` active in the gateway: the target's final state is compared
/// as Okta sees it (its read-back names translated back through the rules).
pub async fn replay_under(
    name: &str,
    text: &str,
    target: &Target,
    gateway: &TestGateway,
    rules: Option<&rules::RuleSet>,
) -> Replay {
    let fixture: Fixture =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: malformed fixture: {e}"));
    let run = format!("r{:08x}", rand::random::<u32>());
    let mut vars = Vars::default();
    vars.0.insert("run".into(), json!(run));
    vars.0.insert("RUN".into(), json!(run.to_uppercase()));
    let mut passwords = Vec::new();
    let mut collected: HashMap<String, Vec<String>> = HashMap::new();

    for step in &fixture.steps {
        if step
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|t| t == target.name()))
        {
            continue;
        }
        let label = format!("{name} [{}] step `{}`", target.name(), step.name);
        if let Some(import) = &step.import {
            let ids = import_loop(import, gateway, &label).await;
            collected.insert(import.collect.clone(), ids);
            continue;
        }
        for i in 1..=step.repeat.unwrap_or(1) {
            let mut vars_i = vars.clone();
            vars_i.0.insert("i".into(), json!(i.to_string()));
            let body = step.body.as_ref().map(|b| vars_i.fill(b));
            if let Some(body) = &body {
                passwords.extend(gateway::audit::secrets_in(body));
            }
            let method: Method = step
                .method
                .as_deref()
                .unwrap_or("GET")
                .parse()
                .expect("method");
            let path = vars_i.text(step.path.as_deref().unwrap_or("/"));
            let path = path.as_str().expect("path is a string");
            let (status, answer, headers) = if step.seed {
                let (status, answer) = target.direct(method, path, body.as_ref()).await;
                // What another party made at the target shows only after the target's
                // own lag; in life Okta's next call comes long after it.
                if let Target::Emulator(emulator) = target {
                    let lag = emulator.emulator.knobs().read_after_create_lag_ms;
                    tokio::time::sleep(std::time::Duration::from_millis(lag)).await;
                }
                (status, Some(answer), http::HeaderMap::new())
            } else {
                let answer = gateway.call(method, path, body.as_ref()).await;
                (answer.status.as_u16(), answer.body, answer.headers)
            };
            let mut errors = Vec::new();
            if let Some(expected) = step.expect_status
                && expected != status
            {
                errors.push(format!("status: expected {expected}, got {status}"));
            }
            if let Some(expect) = &step.expect {
                check(&vars_i.fill(expect), answer.as_ref(), "", &mut errors);
            }
            for (header, wanted) in step.expect_headers.iter().flatten() {
                let value = headers
                    .get(header)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| json!(v));
                check(
                    &vars_i.fill(wanted),
                    value.as_ref(),
                    &format!("header {header}"),
                    &mut errors,
                );
            }
            if step.expect_empty_body && answer.is_some() {
                errors.push(format!("expected no body, got {answer:?}"));
            }
            assert!(
                errors.is_empty(),
                "{label} (i = {i}):\n  {}\nanswer: {answer:#?}",
                errors.join("\n  ")
            );
            for (var, pointer) in &step.capture {
                let value = answer
                    .as_ref()
                    .and_then(|a| a.pointer(pointer))
                    .cloned()
                    .unwrap_or_else(|| panic!("{label}: nothing at {pointer} to capture"));
                match var.strip_suffix("[]") {
                    Some(list) => {
                        let entry = vars.0.entry(list.to_owned()).or_insert_with(|| json!([]));
                        entry.as_array_mut().expect("list variable").push(value);
                    }
                    None => {
                        vars.0.insert(var.clone(), value);
                    }
                }
            }
        }
    }

    check_final_state(
        name,
        &fixture.final_state,
        target,
        &run,
        &vars,
        &collected,
        rules,
    )
    .await;
    Replay { passwords }
}

/// Okta's import (`docs/okta-client.md` §3): pages of `count` from `startIndex=1` until
/// `totalResults`, each with integer paging values; `passes` times, in the same order.
async fn import_loop(import: &Import, gateway: &TestGateway, label: &str) -> Vec<String> {
    let mut passes: Vec<Vec<String>> = Vec::new();
    for pass in 0..import.passes {
        let mut ids = Vec::new();
        let mut start = 1u64;
        loop {
            let path = format!("{}?startIndex={start}&count={}", import.path, import.count);
            let answer = gateway.call(Method::GET, &path, None).await;
            let body = answer.body.unwrap_or(Value::Null);
            assert_eq!(answer.status, 200, "{label}: {path}: {body}");
            let mut errors = Vec::new();
            let expected = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": "$integer", "itemsPerPage": "$integer", "startIndex": start
            });
            check(&expected, Some(&body), "", &mut errors);
            assert!(errors.is_empty(), "{label}: {path}: {errors:?}");
            let resources = body["Resources"].as_array().cloned().unwrap_or_default();
            assert_eq!(
                body["itemsPerPage"].as_u64(),
                Some(resources.len() as u64),
                "{label}: {path}"
            );
            assert!(
                resources.len() as u64 <= import.count,
                "{label}: {path}: page over count"
            );
            ids.extend(
                resources
                    .iter()
                    .map(|r| r["id"].as_str().expect("id").to_owned()),
            );
            let total = body["totalResults"].as_u64().unwrap_or(0);
            start += import.count;
            if start > total {
                assert_eq!(
                    ids.len() as u64,
                    total,
                    "{label}: pass {pass} listed a different number of users than totalResults"
                );
                break;
            }
        }
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{label}: pass {pass} listed a user twice"
        );
        passes.push(ids);
    }
    for later in passes.iter().skip(1) {
        assert_eq!(
            later, &passes[0],
            "{label}: the order changed between imports"
        );
    }
    passes.into_iter().next().unwrap_or_default()
}

async fn check_final_state(
    name: &str,
    expected: &FinalState,
    target: &Target,
    run: &str,
    vars: &Vars,
    collected: &HashMap<String, Vec<String>>,
    rules: Option<&rules::RuleSet>,
) {
    let label = format!("{name} [{}] final state", target.name());
    let (mut users, mut groups) = target.state(run).await;
    if let Some(rules) = rules {
        as_okta_sees(rules, scim_core::ResourceKind::User, "userName", &mut users);
        as_okta_sees(
            rules,
            scim_core::ResourceKind::Group,
            "displayName",
            &mut groups,
        );
    }
    let mut errors = Vec::new();
    if let Some(count) = expected.user_count
        && users.len() != count
    {
        errors.push(format!("expected {count} users, found {}", users.len()));
    }
    if let Some(count) = expected.group_count
        && groups.len() != count
    {
        errors.push(format!("expected {count} groups, found {}", groups.len()));
    }
    let keeps_user_groups = matches!(target, Target::Emulator(_));
    for wanted in &expected.users {
        let mut wanted = vars.fill(wanted);
        if !keeps_user_groups && let Some(object) = wanted.as_object_mut() {
            // scim2-server does not maintain a user's `groups` attribute; the
            // memberships are checked from the groups' side instead.
            object.remove("groups");
        }
        let id = wanted["id"].clone();
        match users
            .iter()
            .find(|u| u["id"] == id || (id.is_null() && u["userName"] == wanted["userName"]))
        {
            Some(user) => compare_as_sets(
                &wanted,
                user,
                &["groups"],
                &format!("user {id}"),
                &mut errors,
            ),
            None => errors.push(format!("no user {id} in the target")),
        }
    }
    for wanted in &expected.groups {
        let wanted = vars.fill(wanted);
        let id = wanted["id"].clone();
        match groups.iter().find(|g| g["id"] == id) {
            Some(group) => compare_as_sets(
                &wanted,
                group,
                &["members"],
                &format!("group {id}"),
                &mut errors,
            ),
            None => errors.push(format!("no group {id} in the target")),
        }
    }
    if let Some(includes) = &expected.imported_includes {
        let imported: BTreeSet<&String> = collected
            .get(&includes.collected)
            .into_iter()
            .flatten()
            .collect();
        let wanted = vars
            .0
            .get(&includes.all_of)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert!(
            !wanted.is_empty(),
            "{label}: `{}` is empty",
            includes.all_of
        );
        let missing: Vec<&Value> = wanted
            .iter()
            .filter(|id| {
                !id.as_str()
                    .is_some_and(|id| imported.contains(&id.to_owned()))
            })
            .collect();
        if !missing.is_empty() {
            errors.push(format!(
                "the import missed {} users, e.g. {:?}",
                missing.len(),
                missing.first()
            ));
        }
    }
    assert!(errors.is_empty(), "{label}:\n  {}", errors.join("\n  "));
}

/// Resources as Okta sees them under `rules`: their read-back `attribute` translated back.
fn as_okta_sees(
    rules: &rules::RuleSet,
    kind: scim_core::ResourceKind,
    attribute: &str,
    resources: &mut [Value],
) {
    for resource in resources {
        let okta = resource[attribute]
            .as_str()
            .and_then(|stored| rules.inbound_value(kind, attribute, stored));
        if let Some(okta) = okta {
            resource[attribute] = json!(okta);
        }
    }
}

/// `check`, with the string lists under `set_keys` compared as sets.
fn compare_as_sets(
    wanted: &Value,
    actual: &Value,
    set_keys: &[&str],
    at: &str,
    errors: &mut Vec<String>,
) {
    let mut wanted = wanted.clone();
    for key in set_keys {
        if let Some(list) = wanted.get(*key).and_then(Value::as_array).cloned() {
            let want: BTreeSet<String> = list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let have: BTreeSet<String> = actual[*key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            if want != have {
                let missing: Vec<_> = want.difference(&have).take(3).collect();
                let extra: Vec<_> = have.difference(&want).take(3).collect();
                errors.push(format!(
                    "{at}/{key}: expected {} ids, found {} (missing e.g. {missing:?}, extra e.g. {extra:?})",
                    want.len(),
                    have.len()
                ));
            }
            if let Some(object) = wanted.as_object_mut() {
                object.remove(*key);
            }
        }
    }
    check(&wanted, Some(actual), at, errors);
}

// ---------------------------------------------------------------------------------------
// The tests: one per fixture and target

/// scim2-server is shared by every test; offset paging over it is only stable while no
/// other fixture writes to it, so its replays run one at a time: this lock within one
/// process (`cargo test`), the `scim2-server` test group of `.config/nextest.toml`
/// across nextest's processes.
static SCIM2: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn replay_on(target_name: &str, fixture: &str) {
    init_test_log();
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == fixture)
        .expect("fixture listed");
    let _serial = if target_name == "scim2" {
        Some(SCIM2.lock().await)
    } else {
        None
    };
    let started = Instant::now();
    let (target_name, example) = match target_name.split_once('+') {
        Some((target, example)) => (target, Some(example)),
        None => (target_name, None),
    };
    let rule_set = example.map(example_rules);
    let target = Target::start(target_name).await;
    let gateway = match (&target, &rule_set) {
        (Target::Emulator(emulator), Some((yaml, _))) => {
            TestGateway::with_rules(emulator, yaml, "example")
        }
        _ => target.gateway(),
    };
    let rules = rule_set.as_ref().map(|(_, rules)| rules);
    let replay = replay_under(fixture, text, &target, &gateway, rules).await;
    if let (Target::Emulator(emulator), Some("group-prefix")) = (&target, example) {
        // Identity Center holds the names the rules made, whatever Okta was answered.
        for group in emulator.emulator.groups() {
            assert!(
                group.display_name.starts_with("okta-"),
                "{fixture}: {group:?}"
            );
        }
    }
    if let Target::Emulator(emulator) = &target {
        // No password Okta sent ever reached Identity Center, in any request body.
        let bodies = emulator.received_bodies();
        for password in &replay.passwords {
            assert!(
                !bodies.iter().any(|b| b.contains(password.as_str())),
                "{fixture}: a password reached the target"
            );
        }
        assert!(
            bodies
                .iter()
                .all(|b| !b.to_ascii_lowercase().contains("\"password\""))
        );
    }
    eprintln!("{fixture} [{target_name}]: {:?}", started.elapsed());
}

/// An example rule set (`examples/rules/`), as text and loaded.
fn example_rules(name: &str) -> (&'static str, rules::RuleSet) {
    let yaml = match name {
        "lowercase-username" => include_str!("../examples/rules/lowercase-username.yaml"),
        "display-name-from-names" => {
            include_str!("../examples/rules/display-name-from-names.yaml")
        }
        "group-prefix" => include_str!("../examples/rules/group-prefix.yaml"),
        "exclude-contractors" => include_str!("../examples/rules/exclude-contractors.yaml"),
        "cost-center" => include_str!("../examples/rules/cost-center.yaml"),
        other => panic!("no example rule set {other}"),
    };
    let loaded = rules::RuleSet::load(yaml).expect("the example is valid");
    (yaml, loaded.rule_set)
}

macro_rules! replay_tests {
    ($($test:ident => $fixture:literal),* $(,)?) => {
        mod against_identity_center_emulator {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic", $fixture).await;
                }
            )*
        }
        mod against_identity_center_emulator_with_undocumented_behaviours {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic-knobs", $fixture).await;
                }
            )*
        }
        mod with_lowercase_usernames {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic+lowercase-username", $fixture).await;
                }
            )*
        }
        mod with_display_names_from_names {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic+display-name-from-names", $fixture).await;
                }
            )*
        }
        mod with_group_prefix {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic+group-prefix", $fixture).await;
                }
            )*
        }
        mod with_contractors_excluded {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic+exclude-contractors", $fixture).await;
                }
            )*
        }
        mod with_cost_center {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("ic+cost-center", $fixture).await;
                }
            )*
        }
        mod against_scim2_server {
            $(
                #[tokio::test]
                async fn $test() {
                    super::replay_on("scim2", $fixture).await;
                }
            )*
        }
    };
}

replay_tests! {
    create_user => "create-user",
    link_existing_user => "link-existing-user",
    profile_update => "profile-update",
    deactivate_user => "deactivate-user",
    reactivate_user => "reactivate-user",
    import_paging_over_250_users => "import-paging",
    group_push => "group-push",
    group_replace_of_150_members => "group-replace-members",
    group_put => "group-put",
    group_delete => "group-delete",
}

#[test]
fn every_fixture_file_is_listed_and_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/okta-scim");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(on_disk, listed);
    for (name, text) in FIXTURES {
        let fixture: Fixture = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!fixture.steps.is_empty(), "{name}");
    }
}
