//! The soak's end checks: Identity Center's state against the state the inputs make,
//! duplicates, the dead-letter queue and the event ledger, the replay, and the audit
//! trail (one outcome for every intent, one final record per event, `scimgw audit
//! verify`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::Value;

use super::Run;
use super::procs::scimgw;
use super::workload::{Expected, ExpectedGroup, ExpectedUser};

/// Identity Center's state against the expected one: every difference, and every
/// duplicate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StateCheck {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    /// Users inactive in Okta that the event path rightly never created.
    pub absent_inactive: usize,
    pub differences: Vec<String>,
    pub duplicates: Vec<String>,
}

fn s(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Reads Identity Center through its emulator's admin state and compares.
pub(super) async fn state(run: &Run, expected: &Expected) -> anyhow::Result<StateCheck> {
    let state = run
        .ic_admin_call(reqwest::Method::GET, "state", None)
        .await?;
    let users = state["users"].as_array().cloned().unwrap_or_default();
    let groups = state["groups"].as_array().cloned().unwrap_or_default();
    let mut check = StateCheck {
        users: users.len(),
        groups: groups.len(),
        ..StateCheck::default()
    };
    let mut seen = BTreeMap::<String, usize>::new();
    let mut names_by_id = BTreeMap::new();
    let mut actual_users = BTreeMap::new();
    for user in &users {
        let resource = &user["resource"];
        let email = resource["emails"]
            .as_array()
            .and_then(|e| e.first())
            .map(|e| s(&e["value"]))
            .unwrap_or_default();
        let actual = ExpectedUser {
            user_name: s(&user["user_name"]),
            external_id: s(&user["external_id"]),
            given_name: s(&resource["name"]["givenName"]),
            family_name: s(&resource["name"]["familyName"]),
            display_name: s(&user["display_name"]),
            email,
            active: user["active"].as_bool().unwrap_or(false),
        };
        *seen
            .entry(format!("user userName {}", actual.user_name.to_lowercase()))
            .or_default() += 1;
        *seen
            .entry(format!("user externalId {}", actual.external_id))
            .or_default() += 1;
        names_by_id.insert(s(&user["id"]), actual.user_name.clone());
        actual_users.insert(actual.external_id.clone(), actual);
    }
    let mut actual_groups = BTreeMap::new();
    for group in &groups {
        let display_name = s(&group["display_name"]);
        let external_id = group["external_id"].as_str().map(str::to_owned);
        *seen
            .entry(format!("group displayName {}", display_name.to_lowercase()))
            .or_default() += 1;
        if let Some(x) = &external_id {
            *seen.entry(format!("group externalId {x}")).or_default() += 1;
        }
        let members: BTreeSet<String> = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                names_by_id
                    .get(&s(m))
                    .cloned()
                    .unwrap_or_else(|| format!("(unknown user {})", s(m)))
            })
            .collect();
        check.memberships += members.len();
        let key = external_id.unwrap_or_else(|| format!("name:{display_name}"));
        actual_groups.insert(
            key,
            ExpectedGroup {
                display_name,
                members,
            },
        );
    }
    check.duplicates = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(what, n)| format!("{what} appears {n} times"))
        .collect();
    let differences = &mut check.differences;
    // The event path never creates a user Okta holds inactive: one deactivated before
    // its creation was applied is rightly absent, and so are its memberships.
    let absent_inactive: BTreeSet<&String> = expected
        .users
        .iter()
        .filter(|(key, want)| !want.active && !actual_users.contains_key(*key))
        .map(|(_, want)| &want.user_name)
        .collect();
    check.absent_inactive = absent_inactive.len();
    for (key, want) in &expected.users {
        match actual_users.get(key) {
            None if !want.active => {}
            None => differences.push(format!("user {} ({key}) is missing", want.user_name)),
            Some(got) if got != want => {
                differences.push(format!("user {key}: expected {want:?}, found {got:?}"));
            }
            Some(_) => {}
        }
    }
    for (key, got) in &actual_users {
        if !expected.users.contains_key(key) {
            differences.push(format!("user {} ({key}) is not expected", got.user_name));
        }
    }
    for (key, want) in &expected.groups {
        match actual_groups.get(key) {
            None => differences.push(format!("group {} ({key}) is missing", want.display_name)),
            Some(got) => {
                if got.display_name != want.display_name {
                    differences.push(format!(
                        "group {key}: named {:?}, expected {:?}",
                        got.display_name, want.display_name
                    ));
                }
                for missing in want
                    .members
                    .difference(&got.members)
                    .filter(|m| !absent_inactive.contains(m))
                {
                    differences.push(format!("group {key}: member {missing} is missing"));
                }
                for extra in got.members.difference(&want.members) {
                    differences.push(format!("group {key}: member {extra} is not expected"));
                }
            }
        }
    }
    for (key, got) in &actual_groups {
        if !expected.groups.contains_key(key) {
            differences.push(format!(
                "group {} ({key}) is not expected",
                got.display_name
            ));
        }
    }
    Ok(check)
}

/// The event uuids in the dead-letter queue, as `scimgw events dlq list` shows them.
pub(super) fn dead_letters(run: &Run) -> anyhow::Result<Vec<String>> {
    let mut args: Vec<String> = ["events", "dlq", "list", "--json", "--max", "100000"]
        .map(str::to_owned)
        .to_vec();
    args.extend(run.dev.events_place());
    let (code, out) = scimgw(&run.config.scimgw, &args)?;
    anyhow::ensure!(code == 0, "scimgw events dlq list exited {code}");
    Ok(out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| s(&l["uuid"]))
        .collect())
}

/// What `scimgw events dlq replay` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Replay {
    pub exit_code: i32,
    pub output: String,
}

/// Replays every dead letter onto the events queue.
pub(super) fn replay(run: &Run) -> anyhow::Result<Replay> {
    let mut args: Vec<String> = ["events", "dlq", "replay"].map(str::to_owned).to_vec();
    args.extend(run.dev.events_place());
    let (exit_code, output) = scimgw(&run.config.scimgw, &args)?;
    Ok(Replay {
        exit_code,
        output: output.trim().to_owned(),
    })
}

/// Every event uuid in the state table's ledger, with its state.
pub(super) async fn ledger(
    run: &Run,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<BTreeMap<String, String>> {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    let mut states = BTreeMap::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(run.dev.s("state_table"))
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S("EVENT#".into()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            let uuid = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .map(|pk| pk.trim_start_matches("EVENT#").to_owned());
            let state = item.get("state").and_then(|v| v.as_s().ok()).cloned();
            if let (Some(uuid), Some(state)) = (uuid, state) {
                states.insert(uuid, state);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return Ok(states);
        }
    }
}

/// Accepted events neither applied (nor skipped) in the ledger nor in `dead_letters`.
pub fn unaccounted(
    accepted: &[String],
    ledger: &BTreeMap<String, String>,
    dead_letters: &[String],
) -> Vec<String> {
    let dead: BTreeSet<&String> = dead_letters.iter().collect();
    accepted
        .iter()
        .filter(|uuid| {
            let done = matches!(
                ledger.get(*uuid).map(String::as_str),
                Some("applied" | "skipped")
            );
            !done && !dead.contains(uuid)
        })
        .map(|uuid| {
            format!(
                "{uuid}: {}",
                ledger.get(uuid).map_or("not in the ledger", String::as_str)
            )
        })
        .collect()
}

/// The audit trail's counts and what is wrong with it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditCheck {
    pub records: usize,
    pub by_outcome: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
    /// Intents followed by one outcome: the changes.
    pub changes: usize,
    pub problems: Vec<String>,
    pub verify_exit: i32,
    pub verify_intact: bool,
    pub verify_checked: u64,
}

/// Reads the whole trail from the table, checks that every intent has exactly one
/// outcome and every accepted event exactly one final record (and every accepted SCIM
/// write one success), then runs `scimgw audit verify`.
pub(super) async fn audit(
    run: &Run,
    aws: &aws_config::SdkConfig,
    accepted_events: &[String],
    scim_writes: &[String],
) -> anyhow::Result<AuditCheck> {
    let ddb = aws_sdk_dynamodb::Client::new(aws);
    let mut records: Vec<(String, Value)> = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(run.dev.s("audit_table"))
            .filter_expression("begins_with(sk, :r)")
            .expression_attribute_values(":r", AttributeValue::S("REC#".into()))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            // Time, then when it was written (an intent and its outcome can share
            // their time), then the record id.
            let text = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let time_sk = text("time_sk");
            let (time, id) = time_sk.split_once('#').unwrap_or((&time_sk, ""));
            let order = format!("{time}|{}|{id}", text("written_at"));
            let record = item
                .get("record")
                .and_then(|v| v.as_s().ok())
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .unwrap_or(Value::Null);
            records.push((order, record));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    records.sort_by(|a, b| a.0.cmp(&b.0));
    // The whole trail beside the run's logs, for reading what went wrong.
    let lines: Vec<String> = records.iter().map(|(_, r)| r.to_string()).collect();
    let _ = std::fs::write(run.config.work_dir.join("audit.jsonl"), lines.join("\n"));
    let mut check = AuditCheck {
        records: records.len(),
        ..AuditCheck::default()
    };
    let mut by_correlation: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for (_, record) in &records {
        *check.by_outcome.entry(s(&record["outcome"])).or_default() += 1;
        *check
            .by_source
            .entry(s(&record["source"]["kind"]))
            .or_default() += 1;
        by_correlation
            .entry(s(&record["correlation_id"]))
            .or_default()
            .push(record);
    }
    // Every intent is followed by exactly one outcome before the next intent (records
    // in the order they were written: an intent and its outcome share their time).
    for (correlation, records) in &by_correlation {
        let mut open = false;
        let mut unpaired = 0;
        for record in records {
            if record["outcome"] == "intent" {
                unpaired += usize::from(open);
                open = true;
            } else if std::mem::take(&mut open) {
                check.changes += 1;
            }
        }
        unpaired += usize::from(open);
        for _ in 0..unpaired {
            check
                .problems
                .push(format!("{correlation}: an intent without its outcome"));
        }
    }
    // Every accepted event ends in exactly one success or skip: none lost, none
    // applied twice.
    let finals = |correlation: &str| {
        by_correlation.get(correlation).map_or(0, |records| {
            records
                .iter()
                .filter(|r| {
                    r["source"]["kind"] == "event"
                        && matches!(r["outcome"].as_str(), Some("success" | "skipped"))
                })
                .count()
        })
    };
    for uuid in accepted_events {
        let n = finals(uuid);
        if n != 1 {
            check
                .problems
                .push(format!("event {uuid}: {n} final records, expected 1"));
        }
    }
    for correlation in scim_writes {
        let successes = by_correlation.get(correlation).map_or(0, |records| {
            records.iter().filter(|r| r["outcome"] == "success").count()
        });
        if successes != 1 {
            check.problems.push(format!(
                "SCIM write {correlation}: {successes} success records, expected 1"
            ));
        }
    }
    let mut args: Vec<String> = ["audit", "verify", "--format", "json"]
        .map(str::to_owned)
        .to_vec();
    args.extend(run.dev.audit_place());
    let (code, out) = scimgw(&run.config.scimgw, &args)?;
    let report: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    check.verify_exit = code;
    check.verify_intact = report["intact"].as_bool().unwrap_or(false);
    check.verify_checked = report["checked"].as_u64().unwrap_or(0);
    if code != 0 || !check.verify_intact {
        check.problems.push(format!(
            "scimgw audit verify exited {code}: {}",
            out.chars().take(2000).collect::<String>()
        ));
    }
    Ok(check)
}
