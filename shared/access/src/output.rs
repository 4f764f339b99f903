//! The reports as documents (JSON, with their evidence, gaps and live-state
//! differences), and their rows as CSV and JSON Lines, shared by `scimgw access` and the
//! audit API so both answer alike.

use std::borrow::Borrow;
use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::evidence::Evidence;
use crate::history::Gap;
use crate::live::Difference;
use crate::report::{AccessChange, AccessRow, Leaver};

/// Who could reach what, as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    /// The instant.
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// Where the rows come from: `trail` (rebuilt from the audit trail) or `live`
    /// (Identity Center now, "since" from the trail).
    pub source: String,
    /// The access.
    pub rows: Vec<AccessRow>,
    /// For a live report: where the trail and Identity Center disagree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<Difference>>,
    /// What live state could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live_problems: Vec<String>,
    /// What the trail leaves unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// What it was computed from.
    pub evidence: Evidence,
}

/// What changed between two instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffReport {
    /// The earlier instant.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// The later instant.
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// The changes: lost, then gained.
    pub changes: Vec<AccessChange>,
    /// What the trail leaves unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// What it was computed from.
    pub evidence: Evidence,
}

/// The leavers of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaversReport {
    /// The period's start.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The period's end, exclusive.
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    /// The threshold, in seconds.
    pub threshold_seconds: i64,
    /// Each leaver.
    pub leavers: Vec<Leaver>,
    /// What the trail leaves unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
    /// What it was computed from.
    pub evidence: Evidence,
}

/// The CSV columns of an access row: (header, JSON pointer into the row).
pub const ROW_COLUMNS: &[(&str, &str)] = &[
    ("user_id", "/user_id"),
    ("okta_user_id", "/okta_user_id"),
    ("user_name", "/user_name"),
    ("account_id", "/account_id"),
    ("permission_set_name", "/permission_set_name"),
    ("permission_set_arn", "/permission_set_arn"),
    ("path", "/path"),
    ("group_id", "/group_id"),
    ("group_name", "/group_name"),
    ("okta_group_id", "/okta_group_id"),
    ("since", "/since"),
    ("since_record", "/since_record"),
];

/// Columns a diff adds before the row's.
pub const CHANGE_COLUMNS: &[(&str, &str)] = &[
    ("change", "/change"),
    ("cause_record", "/cause/id"),
    ("cause_time", "/cause/time"),
];

/// Columns of a leaver's access line (one line per access; a leaver without access
/// has one line with the access columns empty).
pub const LEAVER_COLUMNS: &[(&str, &str)] = &[
    ("okta_user_id", "/okta_user_id"),
    ("user_id", "/user_id"),
    ("user_name", "/user_name"),
    ("started_at", "/started_at"),
    ("start", "/start"),
    ("start_record", "/start_record"),
    ("deactivated_at", "/deactivated_at"),
    ("deactivation_seconds", "/deactivation_seconds"),
    ("deactivation_record", "/deactivation_record"),
    ("leaver_over_threshold", "/over_threshold"),
    ("account_id", "/access/account_id"),
    ("permission_set_name", "/access/permission_set_name"),
    ("permission_set_arn", "/access/permission_set_arn"),
    ("group_name", "/access/group_name"),
    ("removed_at", "/access/removed_at"),
    ("removal_seconds", "/access/seconds"),
    ("removed_by", "/access/removed_by"),
    ("access_over_threshold", "/access/over_threshold"),
];

/// Makes a cell safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return, which some spreadsheets skip before such a sign) gets
/// a leading `'`, so that it is shown as text and never evaluated as a formula (OWASP
/// "CSV Injection"). Names come from Okta and from SCIM clients, so any of them could
/// carry `=HYPERLINK(…)`.
pub fn csv_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn cell(value: &Value, pointer: &str) -> String {
    csv_safe(match value.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    })
}

/// Lines as CSV (RFC 4180, CRLF), a header first.
pub fn write_csv<W: Write, V: Borrow<Value>>(
    out: W,
    columns: &[(&str, &str)],
    lines: impl IntoIterator<Item = V>,
) -> std::io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(columns.iter().map(|(name, _)| *name))?;
    for line in lines {
        let line = line.borrow();
        writer.write_record(columns.iter().map(|(_, pointer)| cell(line, pointer)))?;
    }
    writer.flush()
}

/// Lines as JSON Lines.
pub fn write_json_lines<W: Write, V: Borrow<Value>>(
    mut out: W,
    lines: impl IntoIterator<Item = V>,
) -> std::io::Result<()> {
    for line in lines {
        serde_json::to_writer(&mut out, line.borrow())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn to_value<T: Serialize>(item: &T) -> Value {
    serde_json::to_value(item).unwrap_or(Value::Null)
}

impl AccessReport {
    /// One line per row, made as they are read (a report can hold 200 000 rows).
    pub fn lines(&self) -> impl Iterator<Item = Value> + '_ {
        self.rows.iter().map(to_value)
    }
}

impl DiffReport {
    /// One line per change, made as they are read.
    pub fn lines(&self) -> impl Iterator<Item = Value> + '_ {
        self.changes.iter().map(to_value)
    }

    /// The CSV columns: the change's, then the row's.
    pub fn columns() -> Vec<(&'static str, &'static str)> {
        CHANGE_COLUMNS.iter().chain(ROW_COLUMNS).copied().collect()
    }
}

impl LeaversReport {
    /// One line per leaver and access (`access` holding that one access).
    pub fn lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        for leaver in &self.leavers {
            let mut base = to_value(leaver);
            if leaver.access.is_empty() {
                if let Some(map) = base.as_object_mut() {
                    map.insert("access".into(), Value::Null);
                }
                lines.push(base);
                continue;
            }
            for access in &leaver.access {
                let mut line = base.clone();
                if let Some(map) = line.as_object_mut() {
                    map.insert("access".into(), to_value(access));
                }
                lines.push(line);
            }
        }
        lines
    }
}
