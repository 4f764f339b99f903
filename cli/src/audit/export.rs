//! `scimgw audit export`: a whole period written to a file (JSON Lines or CSV) page by
//! page, resumable: a state file beside the output remembers the filters, the next
//! cursor and how many bytes are complete, and a progress bar shows the share of the
//! period done.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use edge::audit::{csv_cells, csv_writer, write_csv_header};
use gateway::audit_store::{AuditStore, StoredAuditRecord};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{ExportArgs, FilterArgs, OperationArg, OutcomeArg, store_error};

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExportFormat {
    JsonLines,
    Csv,
}

impl ExportFormat {
    fn of(path: &Path) -> anyhow::Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("jsonl" | "ndjson") => Ok(Self::JsonLines),
            Some("csv") => Ok(Self::Csv),
            _ => bail!(
                "--out {}: name the file .jsonl (JSON Lines) or .csv",
                path.display()
            ),
        }
    }
}

/// What an unfinished export remembers, in `<out>.export-state.json`: the filters (so
/// a resume with other filters is refused), where the next page starts, and how many
/// bytes of the output are complete (anything after them is a torn page, cut on resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ExportState {
    version: u32,
    format: ExportFormat,
    filters: StateFilters,
    cursor: Option<String>,
    records: u64,
    bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateFilters {
    target: Option<String>,
    actor: Option<String>,
    since: Option<String>,
    until: Option<String>,
    outcome: Option<OutcomeArg>,
    operation: Option<OperationArg>,
}

impl StateFilters {
    fn of(filters: &FilterArgs) -> Self {
        let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
        Self {
            target: filters.target.clone(),
            actor: filters.actor.clone(),
            since: time(filters.since),
            until: time(filters.until),
            outcome: filters.outcome,
            operation: filters.operation,
        }
    }
}

/// The state file of an export to `out`.
fn state_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".export-state.json");
    out.with_file_name(name)
}

fn read_state(path: &Path) -> anyhow::Result<Option<ExportState>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| {
            format!(
                "{} is not an export state file; remove it or use --restart",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Replaces the state file atomically (write a sibling, then rename over it), so that
/// an interruption leaves the old state or the new one, never half of one.
fn write_state(path: &Path, state: &ExportState) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state).context("serializing the export state")?;
    let mut file = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Runs `export` against `store`: a new export, or the resumption of an unfinished one.
pub(super) async fn run_export(store: &dyn AuditStore, args: &ExportArgs) -> anyhow::Result<()> {
    let format = ExportFormat::of(&args.out)?;
    let state_file = state_path(&args.out);
    let filters = StateFilters::of(&args.filters);
    if args.restart {
        let _ = std::fs::remove_file(&state_file);
        let _ = std::fs::remove_file(&args.out);
    }

    let (mut state, file) = match read_state(&state_file)? {
        Some(state) => {
            if state.filters != filters || state.format != format {
                bail!(
                    "{} belongs to an export with other filters; run it with the same filters, or use --restart",
                    state_file.display()
                );
            }
            let file = OpenOptions::new()
                .write(true)
                .open(&args.out)
                .with_context(|| format!("resuming: opening {}", args.out.display()))?;
            let length = file.metadata()?.len();
            if length < state.bytes {
                bail!(
                    "{} is shorter than its state says; use --restart",
                    args.out.display()
                );
            }
            // Cut a page that was written but not recorded as done: it is fetched again.
            file.set_len(state.bytes)?;
            eprintln!(
                "resuming the export to {} after {} records",
                args.out.display(),
                state.records
            );
            (state, file)
        }
        None => {
            if args.out.exists() {
                bail!(
                    "{} exists; choose another file, remove it, or use --restart",
                    args.out.display()
                );
            }
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?;
            let state = ExportState {
                version: 1,
                format,
                filters,
                cursor: None,
                records: 0,
                bytes: 0,
            };
            (state, file)
        }
    };

    let mut out = BufWriter::new(file);
    std::io::Seek::seek(&mut out, std::io::SeekFrom::End(0))?;
    if state.bytes == 0 && format == ExportFormat::Csv {
        let mut writer = csv_writer(Vec::new());
        write_csv_header(&mut writer)?;
        let header = writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("writing the CSV header: {e}"))?;
        out.write_all(&header)?;
        state.bytes = commit(&mut out)?;
    }
    write_state(&state_file, &state)?;

    let progress = Progress::new(args.filters.since, args.filters.until, state.records);
    let mut pages = 0u64;
    loop {
        let query = args.filters.query(args.page_size, state.cursor.clone());
        let page = store.query(&query).await.map_err(store_error)?;
        let mut bytes = Vec::new();
        match format {
            ExportFormat::JsonLines => {
                for record in &page.records {
                    serde_json::to_writer(&mut bytes, record)?;
                    bytes.push(b'\n');
                }
            }
            ExportFormat::Csv => {
                let mut writer = csv_writer(&mut bytes);
                for record in &page.records {
                    writer.write_record(csv_cells(record))?;
                }
                writer.flush()?;
            }
        }
        out.write_all(&bytes)?;
        state.bytes = commit(&mut out)?;
        state.records += page.records.len() as u64;
        state.cursor = page.next_cursor.clone();
        write_state(&state_file, &state)?;
        progress.advance(page.records.last(), state.records);
        pages += 1;
        if state.cursor.is_none() {
            break;
        }
        if args.stop_after_pages.is_some_and(|stop| pages >= stop) {
            progress.abandon();
            eprintln!(
                "stopped after {pages} pages ({} records); run the same command again to resume",
                state.records
            );
            return Ok(());
        }
    }
    progress.finish(state.records);
    std::fs::remove_file(&state_file)
        .with_context(|| format!("removing {}", state_file.display()))?;
    eprintln!(
        "exported {} records to {}",
        state.records,
        args.out.display()
    );
    Ok(())
}

/// Flushes and syncs the output, and answers its length: the bytes now safe on disk.
fn commit(out: &mut BufWriter<File>) -> anyhow::Result<u64> {
    out.flush()?;
    out.get_ref().sync_data()?;
    Ok(out.get_ref().metadata()?.len())
}

/// The export's progress bar: records come oldest first, so the share of the period
/// already covered is the progress (a spinner with a count when the period is open).
struct Progress {
    bar: ProgressBar,
    period: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl Progress {
    const STEPS: u64 = 1000;

    fn new(since: Option<OffsetDateTime>, until: Option<OffsetDateTime>, done: u64) -> Self {
        let until = until.unwrap_or_else(OffsetDateTime::now_utc);
        let period = since.filter(|s| *s < until).map(|s| (s, until));
        let bar = if period.is_some() {
            let bar = ProgressBar::new(Self::STEPS);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
                bar.set_style(style);
            }
            bar
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message(format!("{done} records"));
        Self { bar, period }
    }

    fn advance(&self, last: Option<&StoredAuditRecord>, records: u64) {
        if let (Some((since, until)), Some(last)) = (self.period, last) {
            let total = (until - since).as_seconds_f64();
            let done = (last.record.time - since).as_seconds_f64();
            let share = if total > 0.0 {
                (done / total).clamp(0.0, 1.0)
            } else {
                1.0
            };
            // A share in [0, 1] times 1000 fits a u64 exactly.
            self.bar.set_position((share * Self::STEPS as f64) as u64);
        }
        self.bar.set_message(format!("{records} records"));
    }

    fn finish(&self, records: u64) {
        self.bar.set_position(Self::STEPS);
        self.bar.finish_with_message(format!("{records} records"));
    }

    fn abandon(&self) {
        self.bar.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_format_follows_the_extension_and_the_state_sits_next_to_the_output() {
        assert_eq!(
            ExportFormat::of(Path::new("a/b.CSV")).unwrap(),
            ExportFormat::Csv
        );
        assert_eq!(
            ExportFormat::of(Path::new("b.jsonl")).unwrap(),
            ExportFormat::JsonLines
        );
        assert!(ExportFormat::of(Path::new("b.txt")).is_err());
        assert_eq!(
            state_path(Path::new("/tmp/x/audit.csv")),
            Path::new("/tmp/x/audit.csv.export-state.json")
        );
    }
}
