//! `vigil-load`: see the crate docs and docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use vigil_load::{ClusterServices, LoadConfig, Target, report, sim, storm};

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
    /// A join storm instead of a ramp: the students (or each --ramp step,
    /// each a new exam) arrive within --window, load the student page's
    /// real assets, connect, publish and are seen live by the proctors
    /// (docs/BENCHMARKS.md, "Exam start").
    #[arg(long)]
    join_storm: bool,
    /// The storm's arrival window.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    window: Duration,
    /// How long after the window a student may take to be live.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    grace: Duration,
    /// Parallel HTTP connections per student in a storm (a browser's 6;
    /// 1 for one flow per student under `tc fq maxrate`).
    #[arg(long, default_value_t = 6)]
    http_connections: usize,
    /// Receive slots per proctor in a storm.
    #[arg(long, default_value_t = 16)]
    slots: u32,
    /// A storm's students connect from consecutive addresses, FIRST:COUNT
    /// (e.g. 10.231.1.1:100), one each in turn, so that `tc` can shape each
    /// student's link (scripts/bench-storm-throttled).
    #[arg(long, value_parser = parse_source_ips)]
    source_ips: Option<SourceIps>,
    /// The web apps the started server serves (a storm loads web/student/dist).
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// SVG chart of server CPU and p99 latency against students.
    #[arg(long, default_value = "vigil-load.svg")]
    svg: PathBuf,
}

#[derive(Debug, Clone)]
struct SourceIps(Vec<std::net::IpAddr>);

fn parse_source_ips(s: &str) -> Result<SourceIps, String> {
    let (first, count) =
        s.split_once(':').ok_or_else(|| format!("{s:?}: expected FIRST:COUNT, e.g. 10.231.1.1:100"))?;
    let first: std::net::Ipv4Addr = first.parse().map_err(|_| format!("{first:?} is not an IPv4 address"))?;
    let count: u32 = count.parse().map_err(|_| format!("{count:?} is not a count"))?;
    let start = u32::from(first);
    if count == 0 || start.checked_add(count - 1).is_none() {
        return Err(format!("{s:?}: a count from 1 that stays within IPv4"));
    }
    Ok(SourceIps((0..count).map(|i| std::net::IpAddr::V4((start + i).into())).collect()))
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

/// Each step a storm of its own, on a new exam, the server idle between.
async fn storm(cli: &Cli, target: &Target, steps: Vec<u32>) -> Result<()> {
    if cli.no_video {
        bail!("a join storm publishes video: drop --no-video");
    }
    let media = vigil_load::media_runtime(cli.media_nice)?;
    let results = storms(cli, target, steps, media.handle()).await;
    // Dropping a runtime from async code would block this one's worker.
    media.shutdown_background();
    let results = results?;
    std::fs::write(&cli.out, serde_json::to_string_pretty(&results)?)?;
    report::write_storm_svg(&cli.svg, &results)?;
    eprintln!("wrote {} and {}", cli.out.display(), cli.svg.display());
    Ok(())
}

async fn storms(
    cli: &Cli,
    target: &Target,
    steps: Vec<u32>,
    media: &tokio::runtime::Handle,
) -> Result<Vec<storm::StormResult>> {
    let mut results = Vec::new();
    for (i, &students) in steps.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let cfg = storm::StormConfig {
            students,
            window: cli.window,
            proctors: cli.proctors,
            slots: cli.slots,
            http_connections: cli.http_connections,
            video: vigil_load::media::VideoConfig {
                bitrate_bps: cli.video_kbps.saturating_mul(1000),
                fps: cli.video_fps.max(1),
                keyframe_every: cli.keyframe_every,
            },
            grace: cli.grace,
            page: "/student/".into(),
            seed: u64::from(students),
            show_progress: true,
            source_ips: cli.source_ips.clone().map(|s| s.0).unwrap_or_default(),
        };
        let result = storm::run_storm(target, &cfg, media).await;
        let result = result.with_context(|| format!("the storm of {students}"))?;
        eprintln!(
            "{students} students: {} live, join-to-live p95 {:?} ms",
            result.live,
            result.join_to_live_ms.as_ref().map(|q| q.p95)
        );
        results.push(result);
    }
    Ok(results)
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
            Target::spawn_nodes(&bin, cli.nodes as usize, cluster.as_ref(), cli.web_dir.as_deref())
                .await
                .with_context(|| format!("starting {} (build it with cargo build --release -p vigil)", bin.display()))?
        }
    };
    if cli.nice > 0 {
        report::renice_self(cli.nice).context("lowering the load generator's priority")?;
    }
    if cli.join_storm {
        let outcome = storm(&cli, &target, steps).await;
        target.stop().await;
        return outcome;
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
