//! The full fault soak (`docs/reliability.md`), as `scripts/soak` runs it: drives a real
//! `scimgw dev` over a restartable moto server (`cli/tests/soak/`, the driver the test
//! suite's small soak shares), then writes the plots and the figures between the
//! `soak:start`/`soak:end` markers of the doc, and the whole report as JSON.
//!
//! `cargo run -p scimgw --example soak -- --scimgw target/debug/scimgw --python
//! .venv/bin/python --work-dir DIR [--events 5000] [--scim-calls 2000] [--seed 1]
//! [--doc docs/reliability.md --plots docs/reliability --command CMD --machine TEXT]`
//!
//! Exits 0 when every target was met, 1 when one was missed, 2 when it could not run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/soak/mod.rs"]
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;

fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(name: &str, default: u64) -> u64 {
    flag(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} {v}: expected a number"))
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut config = soak::Config::new(
        number("--events", 5000) as usize,
        number("--scim-calls", 2000) as usize,
        number("--seed", 1),
    );
    config.scimgw = PathBuf::from(flag("--scimgw").expect("--scimgw PATH: the scimgw binary"));
    config.python = PathBuf::from(flag("--python").expect("--python PATH: Python with moto"));
    config.moto_script = root.join("infra/test-services/moto_restartable.py");
    config.work_dir = PathBuf::from(flag("--work-dir").expect("--work-dir DIR"));
    let report = match soak::run(config.clone()).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("soak: could not run: {error:#}");
            return ExitCode::from(2);
        }
    };
    let json = serde_json::to_string_pretty(&report).unwrap();
    std::fs::write(config.work_dir.join("report.json"), json).unwrap();
    if let (Some(doc), Some(plots)) = (flag("--doc"), flag("--plots")) {
        let doc = PathBuf::from(doc);
        let plots_dir = PathBuf::from(plots);
        std::fs::create_dir_all(&plots_dir).unwrap();
        let made = soak::plot::plots(&report);
        let relative = plots_dir
            .strip_prefix(doc.parent().unwrap())
            .unwrap_or(&plots_dir)
            .to_path_buf();
        let mut links = Vec::new();
        for (file, caption, svg) in &made {
            std::fs::write(plots_dir.join(file), svg).unwrap();
            links.push((format!("{}/{file}", relative.display()), *caption));
        }
        let links: Vec<(&str, &str)> = links.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        let block = report.markdown(
            &flag("--command").unwrap_or_else(|| "scripts/soak".to_owned()),
            &flag("--machine").unwrap_or_else(|| "unknown".to_owned()),
            &links,
        );
        let text = std::fs::read_to_string(&doc).unwrap_or_default();
        let (start, end) = ("<!-- soak:start -->", "<!-- soak:end -->");
        let replaced = match (text.find(start), text.find(end)) {
            (Some(a), Some(b)) if a < b => {
                format!("{}{start}\n{block}{}", &text[..a], &text[b..])
            }
            _ => format!("{text}\n{start}\n{block}{end}\n"),
        };
        std::fs::write(&doc, replaced).unwrap();
    }
    for failure in &report.failures {
        eprintln!("soak: missed: {failure}");
    }
    println!(
        "soak: {} events, {} SCIM calls, {:.0} s: {}",
        report.accepted_events,
        report.scim_calls,
        report.total_s,
        if report.passed() {
            "every target met"
        } else {
            "targets missed"
        }
    );
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
