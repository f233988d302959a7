//! `vigil-load`: see the crate docs and docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use vigil_load::{ClusterServices, LoadConfig, Target, report, sim};

// Every RTP packet and Socket.IO frame allocates somewhere (str0m, tungstenite);
// under load glibc's malloc and free were a tenth of the CPU profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "vigil-load", about = "Simulated students and proctors against a vigil server, measured per step")]
struct Cli {
    /// Students (ignored when --ramp is given).
    #[arg(long, default_value_t = 200)]
    students: u32,
    /// Measure at each of these student counts, e.g. 100,200,500,1000.
    #[arg(long, value_delimiter = ',')]
    ramp: Vec<u32>,
    #[arg(long, default_value_t = 2)]
    proctors: u32,
    /// Students each proctor watches over the SFU.
    #[arg(long, default_value_t = 4)]
    watch: u32,
    /// Students publish no camera (events and evidence only).
    #[arg(long)]
    no_video: bool,
    /// Each camera's bitrate.
    #[arg(long, default_value_t = 300)]
    video_kbps: u32,
    #[arg(long, default_value_t = 15)]
    video_fps: u32,
    /// Periodic keyframes (PLIs get one at once).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    keyframe_every: Duration,
    /// Measured time per step, e.g. 30s or 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Incidents per second per student (default: the reference 80/s at 200 students).
    #[arg(long, default_value_t = 0.4)]
    incident_rate: f64,
    /// Share of incidents that upload an evidence frame.
    #[arg(long, default_value_t = 0.1)]
    evidence_share: f64,
    /// A running server to target; without it the tool starts its own `vigil serve`.
    #[arg(long, requires = "admin_token", conflicts_with = "servers")]
    server: Option<String>,
    /// The running nodes of a cluster, e.g. http://10.0.0.1:8080,http://10.0.0.2:8080:
    /// students and proctors are spread across them, the admin API is the first's.
    #[arg(long, value_delimiter = ',', requires = "admin_token")]
    servers: Vec<String>,
    /// PIDs of --servers, in order, for their CPU and memory readings.
    #[arg(long, value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Start this many nodes of a cluster on loopback (needs --database and --redis).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    nodes: u32,
    /// PostgreSQL the started nodes share (`postgres://…`).
    #[arg(long, env = "VIGIL_LOAD_DATABASE")]
    database: Option<String>,
    /// Redis the started nodes share (`redis://…`).
    #[arg(long, env = "VIGIL_LOAD_REDIS")]
    redis: Option<String>,
    #[arg(long)]
    admin_token: Option<String>,
    /// PID of --server, for its CPU and memory readings.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The vigil binary to start (default: the one built next to this tool).
    #[arg(long)]
    vigil_bin: Option<PathBuf>,
    #[arg(long, default_value = "vigil-load.json")]
    out: PathBuf,
    /// Run the load generator at this nice value (0–19) once the server is
    /// started, so that the server gets the CPU first on a shared machine.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=19))]
    nice: i32,
    /// Run the students' cameras and the proctors' video (threads of their
    /// own) at this nice value (0–19), so that on a shared machine the
    /// server and the clients that time the scores get the CPU first.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=19))]
    media_nice: i32,
    /// Make the exam record every student's camera (privacy tier
    /// `recording`), to measure what recording costs.
    #[arg(long)]
    record: bool,
    /// SVG chart of server CPU and p99 latency against students.
    #[arg(long, default_value = "vigil-load.svg")]
    svg: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) =
        s.trim().split_at(s.trim().find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.trim().len()));
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s}; use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let steps = if cli.ramp.is_empty() { vec![cli.students] } else { cli.ramp.clone() };
    if steps.windows(2).any(|w| w[1] < w[0]) {
        bail!("--ramp must not decrease");
    }
    if cli.no_video && cli.watch > 0 {
        bail!("--watch needs video: drop --no-video or pass --watch 0");
    }
    let target = match (&cli.server, &cli.admin_token) {
        (Some(url), Some(token)) => Target::remote(url.trim_end_matches('/').to_owned(), token.clone(), cli.server_pid),
        (None, Some(token)) if !cli.servers.is_empty() => Target::remote_nodes(
            cli.servers.iter().map(|u| u.trim_end_matches('/').to_owned()).collect(),
            token.clone(),
            cli.server_pids.iter().map(|p| Some(*p)).collect(),
        ),
        _ => {
            let bin = cli.vigil_bin.clone().unwrap_or_else(vigil_load::target_vigil);
            let cluster = match (&cli.database, &cli.redis) {
                (Some(database), Some(redis)) => {
                    Some(ClusterServices { database: database.clone(), redis: redis.clone() })
                }
                _ if cli.nodes > 1 => bail!("--nodes above 1 needs --database postgres://… and --redis redis://…"),
                _ => None,
            };
            Target::spawn_nodes(&bin, cli.nodes as usize, cluster.as_ref())
                .await
                .with_context(|| format!("starting {} (build it with cargo build --release -p vigil)", bin.display()))?
        }
    };
    if cli.nice > 0 {
        report::renice_self(cli.nice).context("lowering the load generator's priority")?;
    }
    let video = (!cli.no_video).then(|| vigil_load::media::VideoConfig {
        bitrate_bps: cli.video_kbps.saturating_mul(1000),
        fps: cli.video_fps.max(1),
        keyframe_every: cli.keyframe_every,
    });
    let cfg = LoadConfig {
        steps,
        proctors: cli.proctors,
        watch: cli.watch,
        duration: cli.duration,
        student: sim::StudentConfig {
            incident_rate: cli.incident_rate,
            evidence_share: cli.evidence_share,
            heartbeat_every: Duration::from_secs(2),
            signals_every: Duration::from_secs(1),
            video,
        },
        show_progress: true,
        loadgen_nice: cli.nice,
        media_nice: cli.media_nice,
        record: cli.record,
    };
    let outcome = vigil_load::run(&target, &cfg).await;
    target.stop().await;
    let outcome = outcome?;
    report::write_json(&cli.out, &outcome.steps)?;
    report::write_svg(&cli.svg, &outcome.steps)?;
    println!("{}", serde_json::to_string_pretty(&outcome.steps)?);
    if !outcome.errors.is_empty() {
        eprintln!("errors over the whole run (the ramp included): {:?}", outcome.errors);
    }
    eprintln!("wrote {} and {}", cli.out.display(), cli.svg.display());
    Ok(())
}
