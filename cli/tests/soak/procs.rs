//! The processes a soak runs: moto's server behind a listener that can be restarted
//! (`infra/test-services/moto_restartable.py`) and `scimgw dev` over it, each started on
//! a free loopback port and stopped by its own process id when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// The credentials every AWS client of the soak sends to moto.
pub const AWS_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// A child process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Owned {
    child: Child,
}

impl Owned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if self.exited().is_none() {
            signal(self.pid(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Sends `SIG<name>` to one process, by its id.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// moto's server whose listener goes down on SIGUSR1 for `down` and comes back with its
/// state.
pub struct Moto {
    pub process: Owned,
    pub url: String,
    pub log: PathBuf,
}

impl Moto {
    pub async fn start(
        python: &Path,
        script: &Path,
        down: Duration,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = dir.join("moto.log");
        let out = std::fs::File::create(&log).context("creating moto's log")?;
        let child = Command::new(python)
            .arg(script)
            .args(["--port", &port.to_string()])
            .args(["--down-seconds", &format!("{:.1}", down.as_secs_f64())])
            .stdout(out.try_clone()?)
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let mut moto = Self {
            process: Owned { child },
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !moto.answers(&http).await {
            if let Some(status) = moto.process.exited() {
                bail!(
                    "moto exited on start ({status}); see {}",
                    moto.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "moto did not answer within 60 s; see {}",
                    moto.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(moto)
    }

    /// Whether moto answers an HTTP request now.
    pub async fn answers(&self, http: &reqwest::Client) -> bool {
        http.get(format!("{}/moto-api/", self.url))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok()
    }

    /// The listener's outages as moto's wrapper printed them: (down, up) in epoch
    /// seconds.
    pub fn outages(&self) -> Vec<(f64, f64)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut downs = Vec::new();
        let mut outages = Vec::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("down ") {
                downs.push(t.trim().parse::<f64>().unwrap_or(0.0));
            } else if let Some(t) = line.strip_prefix("up ")
                && let Some(down) = downs.pop()
            {
                outages.push((down, t.trim().parse::<f64>().unwrap_or(0.0)));
            }
        }
        outages
    }
}

/// A running `scimgw dev --aws-endpoint`, and what its `--info-json` holds.
pub struct Dev {
    pub process: Owned,
    pub info: Value,
    pub log: PathBuf,
}

impl Dev {
    pub async fn start(
        scimgw: &Path,
        moto: &str,
        rules: &Path,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let info_path = dir.join("dev-info.json");
        let log = dir.join("scimgw-dev.log");
        let err = std::fs::File::create(&log).context("creating scimgw dev's log")?;
        let child = Command::new(scimgw)
            .args(["dev", "--listen", "127.0.0.1:0", "--info-json"])
            .arg(&info_path)
            .args(["--aws-endpoint", moto, "--aws-prefix", "soak", "--rules"])
            .arg(rules)
            .envs(AWS_ENV)
            .env("RUST_LOG", "warn")
            .env_remove("SCIMGW_DEV_SCIM_TOKEN")
            .env_remove("SCIMGW_DEV_TARGET_TOKEN")
            .env_remove("SCIMGW_DEV_HOOK_SECRET")
            .stdout(Stdio::null())
            .stderr(err)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", scimgw.display()))?;
        let mut process = Owned { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(info) = std::fs::read_to_string(&info_path)
                .ok()
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            {
                return Ok(Self { process, info, log });
            }
            if let Some(status) = process.exited() {
                bail!(
                    "scimgw dev exited on start ({status}); see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "scimgw dev did not start within 120 s; see {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A string of its info.
    pub fn s(&self, key: &str) -> String {
        self.info[key].as_str().unwrap_or_default().to_owned()
    }

    /// The arguments that point `scimgw events` at dev's queues, ledger and trail.
    pub fn events_place(&self) -> Vec<String> {
        [
            ("--queue-url", "events_queue_url"),
            ("--dlq-url", "events_dlq_url"),
            ("--table", "state_table"),
            ("--audit-table", "audit_table"),
            ("--audit-mac-key", "audit_mac_key"),
            ("--aws-endpoint", "aws_endpoint"),
            ("--region", "region"),
        ]
        .iter()
        .flat_map(|(flag, key)| [(*flag).to_owned(), self.s(key)])
        .collect()
    }

    /// The arguments that point `scimgw audit` at dev's trail.
    pub fn audit_place(&self) -> Vec<String> {
        [
            ("--table", "audit_table"),
            ("--mac-key-ids", "audit_mac_key"),
            ("--seal-key-ids", "audit_seal_key"),
            ("--anchor-bucket", "seal_bucket"),
            ("--reads-queue", "audit_reads_queue_url"),
            ("--aws-endpoint", "aws_endpoint"),
            ("--region", "region"),
        ]
        .iter()
        .flat_map(|(flag, key)| [(*flag).to_owned(), self.s(key)])
        .collect()
    }
}

/// Runs `scimgw ARGS…` to its end: the exit code and its stdout; its stderr is printed
/// when it fails (and otherwise dropped: it shows progress bars).
pub fn scimgw(binary: &Path, args: &[String]) -> anyhow::Result<(i32, String)> {
    let started = std::time::Instant::now();
    let output = Command::new(binary)
        .args(args)
        .envs(AWS_ENV)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running scimgw {}", args.first().map_or("", |a| a)))?;
    let code = output.status.code().unwrap_or(-1);
    let elapsed = started.elapsed();
    if code != 0 {
        // Why it failed, beside the test's own report of the exit code.
        eprintln!(
            "scimgw {}: exited {code} after {elapsed:.1?}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok((code, String::from_utf8_lossy(&output.stdout).into_owned()))
}
