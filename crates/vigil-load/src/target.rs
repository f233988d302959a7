//! The server under load: one the tool starts itself (a `vigil serve` on a
//! temporary data dir), several it starts as a cluster (sharing PostgreSQL
//! and Redis), or nodes already running at URLs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use vigil_proto::events::CreateExam;
use vigil_proto::{ExamSettings, ExamWindow, PrivacyTier};

pub struct Target {
    /// The first node: the admin API's.
    pub base: String,
    pub admin_token: String,
    /// For CPU and memory readings; known when we started it, or given.
    pub pid: Option<u32>,
    /// Every node, the first included.
    pub nodes: Vec<Node>,
    _dirs: Vec<tempfile::TempDir>,
}

/// One vigil process of the target.
pub struct Node {
    pub base: String,
    pub pid: Option<u32>,
    child: Option<Child>,
}

/// What the nodes of a cluster the tool starts share.
#[derive(Debug, Clone)]
pub struct ClusterServices {
    /// `postgres://…`
    pub database: String,
    /// `redis://…`
    pub redis: String,
}

#[derive(Debug, Clone, Copy)]
pub struct SfuPackets {
    pub received: u64,
    pub forwarded: u64,
    /// Recording: packets the recorder could not take in time, segments
    /// and bytes stored.
    pub record_dropped: u64,
    pub recording_segments: u64,
    pub recording_bytes: u64,
}

pub struct Roster {
    pub students: Vec<String>,
    pub proctors: Vec<String>,
}

impl Target {
    pub fn remote(base: String, admin_token: String, pid: Option<u32>) -> Target {
        Target::remote_nodes(vec![base], admin_token, vec![pid])
    }

    /// Nodes already running (a cluster); the admin API is the first's.
    pub fn remote_nodes(bases: Vec<String>, admin_token: String, pids: Vec<Option<u32>>) -> Target {
        let nodes: Vec<Node> = bases
            .into_iter()
            .enumerate()
            .map(|(i, base)| Node { base, pid: pids.get(i).copied().flatten(), child: None })
            .collect();
        Target {
            base: nodes.first().map(|n| n.base.clone()).unwrap_or_default(),
            admin_token,
            pid: nodes.first().and_then(|n| n.pid),
            nodes,
            _dirs: Vec::new(),
        }
    }

    /// Starts `vigil serve` on loopback with a fresh data dir.
    pub async fn spawn(vigil_bin: &Path) -> Result<Target> {
        Target::spawn_nodes(vigil_bin, 1, None, None).await
    }

    /// Starts `n` nodes on loopback; more than one needs `cluster`, which
    /// they share (each has its own data dir, holding the same server key).
    /// `web_dir` is what they serve as the web apps (none by default).
    pub async fn spawn_nodes(
        vigil_bin: &Path,
        n: usize,
        cluster: Option<&ClusterServices>,
        web_dir: Option<&Path>,
    ) -> Result<Target> {
        if n > 1 && cluster.is_none() {
            bail!("several nodes need --database postgres://… and --redis redis://…");
        }
        let admin_token = format!("load-{}", rand::random::<u64>());
        let cluster_name = format!("load{}", rand::random::<u32>());
        let mut dirs: Vec<tempfile::TempDir> = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..n.max(1) {
            let dir = tempfile::tempdir()?;
            if let Some(first) = dirs.first() {
                // Every node verifies the same tokens.
                std::fs::copy(first.path().join("server.key"), dir.path().join("server.key"))
                    .context("copying the first node's server.key")?;
            }
            let mut cmd = Command::new(vigil_bin);
            if let Some(c) = cluster {
                cmd.env("VIGIL_DATABASE", &c.database)
                    .env("VIGIL_REDIS", &c.redis)
                    .env("VIGIL_CLUSTER_NAME", &cluster_name);
            }
            let web = web_dir.map_or_else(|| dir.path().join("no-web"), Path::to_owned);
            let node =
                Target::spawn_one(cmd, dir.path(), &web, &admin_token).await.with_context(|| format!("node {i}"))?;
            nodes.push(node);
            dirs.push(dir);
        }
        Ok(Target { base: nodes[0].base.clone(), admin_token, pid: nodes[0].pid, nodes, _dirs: dirs })
    }

    async fn spawn_one(mut cmd: Command, dir: &Path, web_dir: &Path, admin_token: &str) -> Result<Node> {
        let mut child = cmd
            .args(["serve", "--http", "127.0.0.1:0", "--admin-token", admin_token, "--data-dir"])
            .arg(dir)
            .arg("--web-dir")
            .arg(web_dir)
            // Every simulated student comes from this one loopback address,
            // which stands for a thousand homes: no per-address budget.
            .args(["--address-handshakes", "off"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting vigil")?;
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
        Ok(Node { base, pid: child.id(), child: Some(child) })
    }

    /// Where student `idx` connects: the nodes in turn, as a load balancer
    /// would spread them.
    pub fn student_base(&self, idx: u32) -> &str {
        &self.nodes[idx as usize % self.nodes.len()].base
    }

    /// Where proctor `idx` connects: from the last node down, so that with
    /// several nodes proctors sit on another node than the first students.
    pub fn proctor_base(&self, idx: u32) -> &str {
        let n = self.nodes.len();
        &self.nodes[n - 1 - idx as usize % n].base
    }

    /// Every node's `/metrics`, concatenated (the sums below add them up).
    async fn metrics_text(&self) -> Option<String> {
        let mut all = String::new();
        for node in &self.nodes {
            all.push_str(&reqwest::get(format!("{}/metrics", node.base)).await.ok()?.text().await.ok()?);
            all.push('\n');
        }
        Some(all)
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

    /// Creates an exam with `students` students `s0…` and `proctors` proctors `p0…`, with the
    /// privacy tier `privacy`; returns their tokens.
    pub async fn roster(&self, students: u32, proctors: u32, privacy: PrivacyTier) -> Result<Roster> {
        let http = reqwest::Client::new();
        let exam = format!("load-{}", rand::random::<u32>());
        let now = crate::sim::now_ms();
        let window = ExamWindow { opens_at: now - 3_600_000, closes_at: now + 12 * 3_600_000 };
        let mut settings = ExamSettings::with_window(window);
        settings.privacy = privacy;
        let create = CreateExam { id: Some(exam.parse()?), title: "load test".into(), settings: Some(settings) };
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
        let text = self.metrics_text().await?;
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
            record_dropped: sum("vigil_sfu_record_dropped_total").unwrap_or(0),
            recording_segments: sum("vigil_recording_segments_stored_total").unwrap_or(0),
            recording_bytes: sum("vigil_recording_bytes_stored_total").unwrap_or(0),
        })
    }

    /// The server's own histogram of incident stored → score handed to the
    /// proctors' sockets, for scores sent at once (not coalesced): pairs of
    /// (bucket upper bound in seconds, cumulative count). Separates the
    /// server's share of the latency from the network and the generator.
    pub async fn fanout_buckets(&self) -> Option<Vec<(f64, u64)>> {
        let text = self.metrics_text().await?;
        buckets(&text, |l| l.starts_with("vigil_fanout_latency_seconds_bucket{") && l.contains("edge=\"leading\""))
    }

    /// The same for relayed socket messages (a cluster's cross-node round
    /// trip through Redis), over every node.
    pub async fn relay_buckets(&self) -> Option<Vec<(f64, u64)>> {
        let text = self.metrics_text().await?;
        buckets(&text, |l| l.starts_with("vigil_relay_latency_seconds_bucket{"))
    }

    pub async fn stop(mut self) {
        for node in &mut self.nodes {
            let Some(child) = node.child.as_mut() else { continue };
            if let Some(pid) = child.id() {
                // SIGTERM for a graceful stop; kill_on_drop is the backstop.
                let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        }
    }
}

/// A histogram's cumulative buckets, summed by bound over every series the
/// filter keeps (one per node).
fn buckets(text: &str, keep: impl Fn(&str) -> bool) -> Option<Vec<(f64, u64)>> {
    let mut summed: Vec<(f64, u64)> = Vec::new();
    for l in text.lines().filter(|l| keep(l)) {
        let Some(le) = l.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else { continue };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else if let Ok(v) = le.parse() {
            v
        } else {
            continue;
        };
        let Some(count) = l.rsplit(' ').next().and_then(|c| c.parse::<f64>().ok()) else { continue };
        match summed.iter_mut().find(|b| b.0 == le) {
            Some(b) => b.1 += count as u64,
            None => summed.push((le, count as u64)),
        }
    }
    (!summed.is_empty()).then_some(summed)
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
