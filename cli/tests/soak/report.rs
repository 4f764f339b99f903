//! What a soak found: its figures, the failures that make it fail, and the Markdown
//! block `docs/reliability.md` shows them in.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::checks::{AuditCheck, Replay, StateCheck};
use super::{Answer, Channel, Config, Sample};

/// When moto's listener was restarted, in seconds into the run, as the driver saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    pub signalled: f64,
    pub down_seen: f64,
    pub up_seen: f64,
}

/// Everything the run hands the report.
pub struct Parts {
    pub config: Config,
    pub by_type: BTreeMap<&'static str, usize>,
    pub inputs_done: f64,
    pub drained: bool,
    pub drained_at: f64,
    pub drained_after_replay: bool,
    pub total: f64,
    pub answers: Vec<Answer>,
    pub accepted_events: usize,
    pub scim_calls: usize,
    pub scim_ops: usize,
    pub restart: Option<Restart>,
    pub outages: Vec<(f64, f64)>,
    pub timeline: Vec<Sample>,
    pub checks_before: StateCheck,
    pub dlq_before: usize,
    pub unaccounted: Vec<String>,
    pub replay: Replay,
    pub dlq_after: usize,
    pub unfinished: Vec<String>,
    pub ledger: BTreeMap<String, String>,
    pub state_after: StateCheck,
    pub audit: AuditCheck,
    pub ic_stats: Value,
    pub okta_stats: Value,
    pub driver_failures: Vec<String>,
}

/// The soak's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub config: Config,
    pub events_by_type: BTreeMap<String, usize>,
    pub inputs_done_s: f64,
    pub drained: bool,
    pub drained_at_s: f64,
    pub drained_after_replay: bool,
    pub total_s: f64,
    pub deliveries: usize,
    pub delivery_retries: usize,
    pub hook_answers: BTreeMap<String, usize>,
    pub accepted_events: usize,
    pub scim_calls: usize,
    pub scim_ops: usize,
    pub scim_retries: usize,
    pub scim_answers: BTreeMap<String, usize>,
    pub restart: Option<Restart>,
    /// The wrapper's own account of the outage: seconds the listener was down.
    pub listener_down_s: Option<f64>,
    pub hook_during_outage: BTreeMap<String, usize>,
    pub scim_during_outage: BTreeMap<String, usize>,
    pub timeline: Vec<Sample>,
    pub answers: Vec<Answer>,
    pub state_before_replay: StateCheck,
    pub dlq_before: usize,
    pub unaccounted: Vec<String>,
    pub replay: Replay,
    pub dlq_after: usize,
    pub unfinished: Vec<String>,
    pub ledger_states: BTreeMap<String, usize>,
    pub state: StateCheck,
    pub audit: AuditCheck,
    pub ic_stats: Value,
    pub okta_stats: Value,
    pub failures: Vec<String>,
}

fn status_name(status: u16) -> String {
    if status == 0 {
        "no answer".to_owned()
    } else {
        status.to_string()
    }
}

fn histogram<'a>(answers: impl Iterator<Item = &'a Answer>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        *counts.entry(status_name(answer.status)).or_default() += 1;
    }
    counts
}

impl Report {
    pub fn new(p: Parts) -> Self {
        let of = |channel: Channel| p.answers.iter().filter(move |a| a.channel == channel);
        let window = p
            .restart
            .as_ref()
            .map_or((f64::MAX, f64::MAX), |r| (r.signalled, r.up_seen));
        let in_outage = |a: &&Answer| a.at >= window.0 && a.at <= window.1;
        let mut ledger_states = BTreeMap::new();
        for state in p.ledger.values() {
            *ledger_states.entry(state.clone()).or_default() += 1;
        }
        let mut failures = p.driver_failures.clone();
        if p.restart.is_none() {
            failures.push("moto's listener was not restarted".to_owned());
        }
        if !p.drained {
            failures.push("the events queue did not drain in time".to_owned());
        }
        if !p.drained_after_replay {
            failures.push("the events queue did not drain after the replay".to_owned());
        }
        for uuid in &p.unaccounted {
            failures.push(format!(
                "accepted, neither applied nor dead-lettered: {uuid}"
            ));
        }
        if p.replay.exit_code != 0 {
            failures.push(format!(
                "scimgw events dlq replay exited {}",
                p.replay.exit_code
            ));
        }
        if p.dlq_after > 0 {
            failures.push(format!(
                "{} dead letters left after the replay",
                p.dlq_after
            ));
        }
        for uuid in &p.unfinished {
            failures.push(format!("accepted, not applied after the replay: {uuid}"));
        }
        for difference in &p.state_after.differences {
            failures.push(format!("Identity Center: {difference}"));
        }
        for duplicate in &p.state_after.duplicates {
            failures.push(format!("duplicated: {duplicate}"));
        }
        for problem in &p.audit.problems {
            failures.push(format!("audit: {problem}"));
        }
        Self {
            events_by_type: p
                .by_type
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            inputs_done_s: p.inputs_done,
            drained: p.drained,
            drained_at_s: p.drained_at,
            drained_after_replay: p.drained_after_replay,
            total_s: p.total,
            deliveries: of(Channel::Hook).filter(|a| !a.retry).count(),
            delivery_retries: of(Channel::Hook).filter(|a| a.retry).count(),
            hook_answers: histogram(of(Channel::Hook)),
            accepted_events: p.accepted_events,
            scim_calls: p.scim_calls,
            scim_ops: p.scim_ops,
            scim_retries: of(Channel::Scim).filter(|a| a.retry).count(),
            scim_answers: histogram(of(Channel::Scim)),
            listener_down_s: p.outages.first().map(|(down, up)| up - down),
            hook_during_outage: histogram(of(Channel::Hook).filter(in_outage)),
            scim_during_outage: histogram(of(Channel::Scim).filter(in_outage)),
            restart: p.restart,
            timeline: p.timeline,
            answers: p.answers,
            state_before_replay: p.checks_before,
            dlq_before: p.dlq_before,
            unaccounted: p.unaccounted,
            replay: p.replay,
            dlq_after: p.dlq_after,
            unfinished: p.unfinished,
            ledger_states,
            state: p.state_after,
            audit: p.audit,
            ic_stats: p.ic_stats,
            okta_stats: p.okta_stats,
            failures,
            config: p.config,
        }
    }

    /// Whether every target was met.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The figures as Markdown, with the plots at `plots` (paths relative to the doc).
    pub fn markdown(&self, command: &str, machine: &str, plots: &[(&str, &str)]) -> String {
        let c = &self.config;
        let mut m = String::new();
        let counts = |map: &BTreeMap<String, usize>| {
            if map.is_empty() {
                return "none".to_owned();
            }
            map.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
        let verdict = if self.passed() {
            "**every target met**".to_owned()
        } else {
            format!(
                "**targets missed**: {} failure(s) (listed below)",
                self.failures.len()
            )
        };
        let _ = writeln!(
            m,
            "Command: `{command}`. Machine: {machine}. Verdict: {verdict}.\n"
        );
        let _ = writeln!(
            m,
            "Inputs (seed {}): {} events in {} deliveries of 1 to {} (Okta's envelope; {}), \
             and {} SCIM calls ({} operations of Okta's SCIM client in {} lanes). Faults: \
             Identity Center {:.0}% 500s + {:.0}% dropped connections (before or after the \
             write), {} requests/s; Okta API {:.0}% 500s + {:.0}% dropped connections, {} \
             requests/s; moto's listener down {:.0} s once, when {:.0}% of the events were \
             accepted.\n",
            c.seed,
            c.events,
            self.deliveries,
            c.max_batch,
            counts(&self.events_by_type),
            self.scim_calls,
            self.scim_ops,
            c.scim_lanes,
            c.ic_fail_rate * 100.0,
            c.ic_drop_rate * 100.0,
            c.ic_rate_limit,
            c.okta_error_rate * 100.0,
            c.okta_drop_rate * 100.0,
            c.okta_rate_limit,
            c.moto_down.as_secs_f64(),
            c.restart_at * 100.0,
        );
        let changes_per_s = self.audit.changes as f64 / self.drained_at_s.max(1.0);
        let _ = writeln!(m, "| figure | value |\n|---|---:|");
        let rows: Vec<(String, String)> = vec![
            ("inputs sent (all deliveries and SCIM calls answered 2xx)".into(), format!("{:.1} s", self.inputs_done_s)),
            ("events queue drained".into(), format!("{:.1} s{}", self.drained_at_s, if self.drained { "" } else { " (timed out)" })),
            ("whole run, checks and replay included".into(), format!("{:.1} s", self.total_s)),
            ("events accepted (hook answered 2xx)".into(), format!("{} of {}", self.accepted_events, c.events)),
            ("throughput: events accepted per second while sending".into(), format!("{:.1}", self.accepted_events as f64 / self.inputs_done_s.max(1.0))),
            ("throughput: changes made (audited intent + outcome) per second until drained".into(), format!("{changes_per_s:.1}")),
            ("hook deliveries re-sent by the driver".into(), format!("{} ({})", self.delivery_retries, counts(&self.hook_answers))),
            ("SCIM requests re-sent by the driver".into(), format!("{} ({})", self.scim_retries, counts(&self.scim_answers))),
            ("Identity Center requests".into(), format!("{}", n(&self.ic_stats, "requests"))),
            ("… answered 429 / 500 / dropped".into(), format!("{} / {} / {}", n(&self.ic_stats, "throttled"), n(&self.ic_stats, "failed"), n(&self.ic_stats, "dropped"))),
            ("… answered otherwise (2xx, and 4xx such as 404 and 409)".into(), format!("{}", n(&self.ic_stats, "requests").saturating_sub(n(&self.ic_stats, "throttled") + n(&self.ic_stats, "failed") + n(&self.ic_stats, "dropped")))),
            ("Okta API requests (the worker's reads)".into(), format!("{}", n(&self.okta_stats, "requests"))),
            ("… answered 429 / 500 / dropped".into(), format!("{} / {} / {}", n(&self.okta_stats, "throttled"), n(&self.okta_stats, "failed"), n(&self.okta_stats, "dropped"))),
            ("moto's listener down (its wrapper's clock)".into(), self.listener_down_s.map_or("-".into(), |d| format!("{d:.1} s"))),
            ("moto unreachable, as the driver saw it".into(), self.restart.as_ref().map_or("-".into(), |r| format!("{:.1} s to {:.1} s into the run ({:.1} s)", r.down_seen, r.up_seen, r.up_seen - r.down_seen))),
            ("hook answers meanwhile".into(), counts(&self.hook_during_outage)),
            ("SCIM answers meanwhile".into(), counts(&self.scim_during_outage)),
            ("dead letters before the replay".into(), self.dlq_before.to_string()),
            ("accepted events neither applied nor dead-lettered".into(), self.unaccounted.len().to_string()),
            ("Identity Center differences before the replay".into(), self.state_before_replay.differences.len().to_string()),
            ("`scimgw events dlq replay`".into(), format!("exit {}: {}", self.replay.exit_code, self.replay.output.replace('\n', " "))),
            ("dead letters after the replay".into(), self.dlq_after.to_string()),
            ("event ledger after the replay".into(), counts(&self.ledger_states)),
            ("Identity Center at the end: users / groups / memberships".into(), format!("{} / {} / {}", self.state.users, self.state.groups, self.state.memberships)),
            ("users inactive in Okta, rightly never created".into(), self.state.absent_inactive.to_string()),
            ("differences from the state computed from the inputs".into(), self.state.differences.len().to_string()),
            ("duplicated users or groups".into(), self.state.duplicates.len().to_string()),
            ("audit records".into(), format!("{} ({})", self.audit.records, counts(&self.audit.by_outcome))),
            ("… by source".into(), counts(&self.audit.by_source)),
            ("changes: intents each followed by one outcome".into(), self.audit.changes.to_string()),
            ("audit problems (intent without outcome, event not recorded once, SCIM write not recorded once)".into(), self.audit.problems.len().to_string()),
            ("`scimgw audit verify`".into(), format!("exit {}, intact: {}, {} records checked", self.audit.verify_exit, self.audit.verify_intact, self.audit.verify_checked)),
        ];
        for (name, value) in rows {
            let _ = writeln!(m, "| {name} | {value} |");
        }
        m.push('\n');
        for (file, caption) in plots {
            let _ = writeln!(m, "![{caption}]({file})\n");
        }
        let missed = &self.failures;
        if !missed.is_empty() {
            let _ = writeln!(m, "Targets missed:\n");
            for failure in missed.iter().take(40) {
                let _ = writeln!(m, "- {failure}");
            }
            if missed.len() > 40 {
                let _ = writeln!(m, "- … and {} more", missed.len() - 40);
            }
            m.push('\n');
        }
        m
    }
}
