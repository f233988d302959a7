//! vigil-cliff: what would it cost to decode every student's video on the
//! server? Encodes a synthetic webcam clip with libvpx VP8, then decodes it
//! for 1..N concurrent students and reports CPU cores, the point where this
//! machine runs out (the cliff), JSON and an SVG chart.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;

use vigil_cliff::EncoderConfig;
use vigil_cliff::bench::{Clip, calibrate, machine, run_paced};
use vigil_cliff::report::{self, CalibrationSummary, Config, Machine, Report, SizeResult, Step, cores_limit};
use vigil_cliff::sys::vpx::library_version;

#[derive(Debug, Parser)]
#[command(version, about = "Measure the CPU cost of decoding every student's VP8 stream on the server")]
struct Args {
    /// Frame sizes to test, WIDTHxHEIGHT, comma separated (even numbers).
    #[arg(long, value_delimiter = ',', default_value = "640x480", value_parser = parse_size)]
    sizes: Vec<(u32, u32)>,
    /// Frames per second of each student's stream.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,
    /// Target bitrate of each student's stream.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(20..=20_000))]
    bitrate_kbps: u32,
    /// Length of the encoded clip; streams loop over it.
    #[arg(long, default_value_t = 10.0)]
    clip_seconds: f64,
    /// Seconds between forced keyframes.
    #[arg(long, default_value_t = 2.0)]
    keyframe_seconds: f64,
    /// libvpx VP8E_SET_CPUUSED; WebRTC uses -6 on desktop.
    #[arg(long, default_value_t = -6, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-16..=16))]
    cpu_used: i32,
    /// Concurrent stream counts to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50,100,150")]
    streams: Vec<usize>,
    /// Wall-clock seconds each paced step runs.
    #[arg(long, default_value_t = 10.0)]
    step_seconds: f64,
    /// Repeats of every measurement; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    repeats: u32,
    /// Decode threads for paced steps (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip measuring the I420 -> RGB conversion an inference model needs.
    #[arg(long)]
    no_rgb: bool,
    /// Cores per stream the SFU spends forwarding (from vigil's own
    /// benchmark), drawn on the chart for comparison.
    #[arg(long)]
    forward_cpu_per_stream: Option<f64>,
    /// Write the JSON report here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the SVG chart here.
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// Passes over the clip per calibration repeat: one pass of a 10 s clip is
/// only ~0.2 s of decoding, too short to average out a noisy neighbour.
const CALIBRATION_PASSES: usize = 3;

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width in {s:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height in {s:?}"))?;
    if w < 16 || h < 16 || w > 4096 || h > 4096 || !w.is_multiple_of(2) || !h.is_multiple_of(2) {
        return Err(format!("{s:?}: width and height must be even and within 16..=4096"));
    }
    Ok((w, h))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let fps = f64::from(args.fps);
    if !(args.clip_seconds.is_finite() && (1.0..=600.0).contains(&args.clip_seconds)) {
        bail!("--clip-seconds must be within 1..=600");
    }
    if !(args.step_seconds.is_finite() && (0.5..=3600.0).contains(&args.step_seconds)) {
        bail!("--step-seconds must be within 0.5..=3600");
    }
    if !(args.keyframe_seconds.is_finite() && args.keyframe_seconds > 0.0 && args.keyframe_seconds <= 60.0) {
        bail!("--keyframe-seconds must be within (0, 60]");
    }
    if args.streams.is_empty() || args.streams.iter().any(|&s| s == 0 || s > 5000) {
        bail!("--streams must be a list of counts within 1..=5000");
    }
    if let Some(f) = args.forward_cpu_per_stream
        && !(f.is_finite() && f >= 0.0)
    {
        bail!("--forward-cpu-per-stream must be a non-negative number");
    }
    let mut streams = args.streams.clone();
    streams.sort_unstable();
    streams.dedup();

    let (cpu_model, cores) = machine();
    let threads = args.threads.unwrap_or(cores);
    if threads == 0 || threads > 1024 {
        bail!("--threads must be within 1..=1024");
    }
    let keyframe_interval = ((args.keyframe_seconds * fps).round() as u32).max(1);
    let frame_count = (args.clip_seconds * fps).round() as usize;
    let repeats = args.repeats as usize;
    eprintln!("machine: {cores} cores, {cpu_model}, libvpx {}", library_version());

    let mut results = Vec::new();
    for &(width, height) in &args.sizes {
        let config = EncoderConfig {
            width,
            height,
            fps: args.fps,
            bitrate_kbps: args.bitrate_kbps,
            keyframe_interval,
            cpu_used: args.cpu_used,
        };
        let clip = Clip::encode(config, frame_count).with_context(|| format!("encoding the {width}x{height} clip"))?;
        let encode = clip.summary();
        eprintln!(
            "{width}x{height}: encoded {} frames ({} keyframes), {:.1} kbps achieved for {} kbps target",
            encode.frames, encode.keyframes, encode.achieved_bitrate_kbps, encode.target_bitrate_kbps
        );

        let runs = (0..repeats)
            .map(|_| calibrate(&clip, CALIBRATION_PASSES, !args.no_rgb))
            .collect::<Result<Vec<_>, _>>()
            .context("calibration decode")?;
        let calibration = CalibrationSummary::from_runs(runs);
        eprintln!(
            "  isolated decode: p50 {:.3} ms/frame, p99 {:.3} ms, {:.4} cores/stream",
            calibration.decode_ms_per_frame_p50, calibration.decode_ms_per_frame_p99, calibration.cpu_cores_per_stream
        );

        let mut steps = Vec::new();
        for &n in &streams {
            let mut runs = Vec::new();
            for rep in 0..repeats {
                let r = run_paced(&clip, n, threads, args.step_seconds)
                    .with_context(|| format!("paced decode of {n} streams"))?;
                eprintln!(
                    "  {n:>4} streams, run {}: {:.2} cores busy, {:.4} cores/stream, p50 {:.3} ms, p99 {:.3} ms, {:.1}% of frames on time{}",
                    rep + 1,
                    r.cpu_cores_used,
                    r.cpu_cores_per_stream,
                    r.decode_ms_per_frame_p50,
                    r.decode_ms_per_frame_p99,
                    100.0 * r.realtime_fraction,
                    r.other_processes_cores.map(|o| format!(", other processes {o:.2} cores")).unwrap_or_default()
                );
                runs.push(r);
            }
            steps.push(Step::from_runs(width, height, args.fps, args.bitrate_kbps, runs));
        }
        // The heaviest load is the most honest per-stream cost: it includes
        // cache and scheduler contention the isolated calibration misses.
        let loaded = steps.last().map(|s| s.cpu_cores_per_stream).unwrap_or(calibration.cpu_cores_per_stream);
        let result = SizeResult {
            width,
            height,
            fps: args.fps,
            bitrate_kbps: args.bitrate_kbps,
            max_realtime_streams_on_this_machine: cores_limit(cores, loaded),
            max_realtime_streams_isolated: cores_limit(cores, calibration.cpu_cores_per_stream),
            largest_tested_streams_kept_up: steps.iter().filter(|s| s.kept_up).map(|s| s.streams).max(),
            encode,
            calibration,
            steps,
        };
        eprintln!(
            "  cliff: ~{} streams decodable in real time on {cores} cores ({} by isolated calibration)",
            result.max_realtime_streams_on_this_machine, result.max_realtime_streams_isolated
        );
        results.push(result);
    }

    let report = Report {
        tool: "vigil-cliff",
        version: env!("CARGO_PKG_VERSION"),
        method: report::METHOD,
        machine: Machine { cores, cpu_model, libvpx_version: library_version() },
        config: Config {
            sizes: args.sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect(),
            fps: args.fps,
            bitrate_kbps: args.bitrate_kbps,
            clip_seconds: args.clip_seconds,
            keyframe_interval_frames: keyframe_interval,
            cpu_used: args.cpu_used,
            streams,
            step_seconds: args.step_seconds,
            repeats,
            threads,
            rgb: !args.no_rgb,
            forward_cpu_per_stream: args.forward_cpu_per_stream,
        },
        results,
    };
    let json = serde_json::to_string_pretty(&report)?;
    match &args.out {
        Some(p) => std::fs::write(p, json + "\n").with_context(|| format!("writing {}", p.display()))?,
        None => println!("{json}"),
    }
    if let Some(p) = &args.svg {
        report::draw_chart(p, &report).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
