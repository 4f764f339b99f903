//! What `scimgw audit` prints for people: the records of `query` as aligned columns, and
//! `verify`'s report as a summary with one line per problem, every cell made terminal-safe.

use std::io::Write;

use gateway::audit_store::{StoredAuditRecord, VerifyReport};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A terminal-safe cell: control characters (an ANSI escape in a userName sent by an
/// IdP could rewrite the auditor's screen) are shown as `?`.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `query`'s records as aligned columns under a header, or `(no records)`.
pub(super) fn write_table(
    records: &[StoredAuditRecord],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let header = [
        "TIME",
        "OUTCOME",
        "OPERATION",
        "STATUS",
        "TARGET",
        "ACTOR",
        "CORRELATION ID",
    ];
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|stored| {
            let r = &stored.record;
            let target = &r.subject;
            let kind = target
                .resource_type
                .map(|k| format!("{k:?}"))
                .unwrap_or_default();
            let name = target
                .name
                .as_deref()
                .or(target.target_id.as_deref())
                .or(target.external_id.as_deref())
                .unwrap_or("-");
            [
                r.time.format(&Rfc3339).unwrap_or_default(),
                format!("{:?}", r.outcome).to_lowercase(),
                format!("{:?}", r.operation).to_lowercase(),
                r.status.to_string(),
                shown(
                    &format!("{kind} {name}")
                        .trim()
                        .chars()
                        .take(48)
                        .collect::<String>(),
                ),
                shown(&r.actor.credential),
                shown(&r.correlation_id),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(&header.map(str::to_owned)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    if rows.is_empty() {
        writeln!(out, "(no records)")?;
    }
    Ok(())
}

/// `verify`'s report: a summary line, then one line per problem and per note.
pub(super) fn write_report(
    report: &VerifyReport,
    since: OffsetDateTime,
    until: OffsetDateTime,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let when = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    writeln!(
        out,
        "{}: {} records in {} chains checked, from {} to {}",
        if report.intact {
            "INTACT"
        } else {
            "NOT INTACT"
        },
        report.checked,
        report.chains,
        when(since),
        when(until)
    )?;
    if !report.problems.is_empty() {
        writeln!(out, "{} problems:", report.problems.len())?;
    }
    for problem in &report.problems {
        let kind = serde_json::to_value(problem.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let subject = serde_json::to_value(problem.subject)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut what = vec![format!("{:<12}", kind.to_uppercase()), subject];
        if let Some(id) = &problem.record_id {
            what.push(id.clone());
        } else if let Some(chain) = &problem.chain {
            what.push(format!(
                "chain {chain}{}",
                problem.seq.map(|s| format!(" seq {s}")).unwrap_or_default()
            ));
        }
        if let Some(seal) = &problem.seal {
            what.push(format!("seal {seal}"));
        }
        if let Some(at) = problem.belongs_at {
            what.push(format!("(belongs at seq {at})"));
        }
        if let Some(location) = &problem.location {
            what.push(format!("at {location}"));
        }
        writeln!(
            out,
            "  {}: {}",
            shown(&what.join(" ")),
            shown(&problem.detail)
        )?;
    }
    for note in &report.notes {
        let kind = serde_json::to_value(note.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        writeln!(out, "  note ({kind}): {}", shown(&note.detail))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_cells_never_carry_control_characters() {
        assert_eq!(shown("ada\u{1b}[31mred\n"), "ada?[31mred?");
    }
}
