//! The server under load: one the tool starts itself (a `vigil serve` on a
//! temporary data dir) or one already running at a URL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vigil_proto::events::CreateExam;
use vigil_proto::{ExamSettings, ExamWindow};

pub struct Target {
    pub base: String,
    pub admin_token: String,
    /// For CPU and memory readings; known when we started it, or given.
    pub pid: Option<u32>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Debug, Clone, Copy)]
pub struct SfuPackets {
    pub received: u64,
    pub forwarded: u64,
}

pub struct Roster {
    pub students: Vec<String>,
    pub proctors: Vec<String>,
}

impl Target {
    pub fn remote(base: String, admin_token: String, pid: Option<u32>) -> Target {
        Target { base, admin_token, pid, child: None, _dir: None }
    }

    /// Starts `vigil serve` on loopback with a fresh data dir.
    pub async fn spawn(vigil_bin: &Path) -> Result<Target> {
        let dir = tempfile::tempdir()?;
        let admin_token = format!("load-{}", rand::random::<u64>());
        let mut child = Command::new(vigil_bin)
            .args(["serve", "--http", "127.0.0.1:0", "--admin-token", &admin_token, "--data-dir"])
            .arg(dir.path())
            .arg("--web-dir")
            .arg(dir.path().join("no-web"))
            // Every simulated student comes from this one loopback address,
            // which stands for a thousand homes: no per-address budget.
            .args(["--address-handshakes", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", vigil_bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("vigil listening on ") {
                    return Ok(url.trim().to_owned());
                }
            }
            Err(anyhow!("vigil exited before it listened"))
        })
        .await
        .context("waiting for vigil to listen")??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Target { base, admin_token, pid: child.id(), child: Some(child), _dir: Some(dir) })
    }

    async fn admin(&self, http: &reqwest::Client, path: &str, body: Value) -> Result<Value> {
        let res =
            http.post(format!("{}/api/v1{path}", self.base)).bearer_auth(&self.admin_token).json(&body).send().await?;
        let status = res.status();
        let value: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: HTTP {status}: {value}");
        }
        Ok(value)
    }

    /// Creates an exam with `students` students `s0…` and `proctors` proctors `p0…`; returns their tokens.
    pub async fn roster(&self, students: u32, proctors: u32) -> Result<Roster> {
        let http = reqwest::Client::new();
        let exam = format!("load-{}", rand::random::<u32>());
        let now = crate::sim::now_ms();
        let window = ExamWindow { opens_at: now - 3_600_000, closes_at: now + 12 * 3_600_000 };
        let create = CreateExam {
            id: Some(exam.parse()?),
            title: "load test".into(),
            settings: Some(ExamSettings::with_window(window)),
        };
        self.admin(&http, "/exams", serde_json::to_value(&create)?).await?;
        let mut out = Roster { students: Vec::new(), proctors: Vec::new() };
        for (role, plural, prefix, n) in
            [("student", "students", "s", students), ("proctor", "proctors", "p", proctors)]
        {
            for i in 0..n {
                let id = format!("{prefix}{i}");
                self.admin(&http, &format!("/exams/{exam}/{plural}"), json!({ "id": id, "name": id })).await?;
                let link =
                    self.admin(&http, &format!("/exams/{exam}/links"), json!({ "role": role, "subject": id })).await?;
                let token = link["token"].as_str().ok_or_else(|| anyhow!("link without a token"))?.to_owned();
                if role == "student" { out.students.push(token) } else { out.proctors.push(token) }
            }
        }
        Ok(out)
    }

    /// The SFU's RTP packet counters from `/metrics`, summed over peers:
    /// `None` if the server has no SFU or did not answer.
    pub async fn sfu_packets(&self) -> Option<SfuPackets> {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.ok()?.text().await.ok()?;
        let sum = |name: &str| -> Option<u64> {
            let values: Vec<f64> = text
                .lines()
                .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() as u64)
        };
        Some(SfuPackets {
            received: sum("vigil_sfu_rtp_in_packets_total")?,
            forwarded: sum("vigil_sfu_rtp_out_packets_total").unwrap_or(0),
        })
    }

    /// The server's own histogram of incident stored → score handed to the
    /// proctors' sockets, for scores sent at once (not coalesced): pairs of
    /// (bucket upper bound in seconds, cumulative count). Separates the
    /// server's share of the latency from the network and the generator.
    pub async fn fanout_buckets(&self) -> Option<Vec<(f64, u64)>> {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.ok()?.text().await.ok()?;
        let buckets: Vec<(f64, u64)> = text
            .lines()
            .filter(|l| l.starts_with("vigil_fanout_latency_seconds_bucket{") && l.contains("edge=\"leading\""))
            .filter_map(|l| {
                let le = l.split("le=\"").nth(1)?.split('"').next()?;
                let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                let count = l.rsplit(' ').next()?.parse::<f64>().ok()? as u64;
                Some((le, count))
            })
            .collect();
        (!buckets.is_empty()).then_some(buckets)
    }

    pub async fn stop(mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                // SIGTERM for a graceful stop; kill_on_drop is the backstop.
                let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
    }
}

/// The `vigil` binary next to this one (both are built into the same target dir).
pub fn sibling_vigil() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_owned()))
        .map(|d| if d.ends_with("deps") { d.parent().map(Path::to_owned).unwrap_or(d) } else { d })
        .unwrap_or_default()
        .join("vigil")
}
