//! JSON report and SVG chart.

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::bench::{Calibration, EncodeSummary, PacedRun, median};

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu_model: String,
    pub libvpx_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub sizes: Vec<String>,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub clip_seconds: f64,
    pub keyframe_interval_frames: u32,
    pub cpu_used: i32,
    pub streams: Vec<usize>,
    pub step_seconds: f64,
    pub repeats: usize,
    pub threads: usize,
    pub rgb: bool,
    pub forward_cpu_per_stream: Option<f64>,
}

/// Medians over the calibration repeats, plus every repeat.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationSummary {
    pub decode_ms_per_frame_p50: f64,
    pub decode_ms_per_frame_p99: f64,
    pub keyframe_decode_ms_p50: f64,
    pub delta_frame_decode_ms_p50: f64,
    pub cpu_cores_per_stream: f64,
    pub rgb_convert_ms_per_frame_p50: Option<f64>,
    pub cpu_cores_per_stream_with_rgb: Option<f64>,
    pub runs: Vec<Calibration>,
}

impl CalibrationSummary {
    pub fn from_runs(runs: Vec<Calibration>) -> Self {
        let m = |f: fn(&Calibration) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        let mo = |f: fn(&Calibration) -> Option<f64>| {
            let v: Vec<f64> = runs.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| median(&v))
        };
        Self {
            decode_ms_per_frame_p50: m(|c| c.decode_ms_per_frame_p50),
            decode_ms_per_frame_p99: m(|c| c.decode_ms_per_frame_p99),
            keyframe_decode_ms_p50: m(|c| c.keyframe_decode_ms_p50),
            delta_frame_decode_ms_p50: m(|c| c.delta_frame_decode_ms_p50),
            cpu_cores_per_stream: m(|c| c.cpu_cores_per_stream),
            rgb_convert_ms_per_frame_p50: mo(|c| c.rgb_convert_ms_per_frame_p50),
            cpu_cores_per_stream_with_rgb: mo(|c| c.cpu_cores_per_stream_with_rgb),
            runs,
        }
    }
}

/// One concurrency level: medians over its repeats, plus every repeat.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub streams: usize,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub decode_ms_per_frame_p50: f64,
    pub decode_ms_per_frame_p99: f64,
    pub cpu_cores_used: f64,
    pub cpu_cores_per_stream: f64,
    /// streams x cpu_cores_per_stream: what this many streams would need,
    /// even when the machine could not supply it.
    pub cpu_cores_demanded: f64,
    pub realtime_fraction: f64,
    pub late_tick_fraction: f64,
    /// Decoded >= 99% of due frames with <= 5% of ticks late.
    pub kept_up: bool,
    /// Median cores other processes used meanwhile (see PacedRun).
    pub other_processes_cores: Option<f64>,
    pub runs: Vec<PacedRun>,
}

impl Step {
    pub fn from_runs(width: u32, height: u32, fps: u32, bitrate_kbps: u32, runs: Vec<PacedRun>) -> Self {
        let m = |f: fn(&PacedRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        let streams = runs.first().map(|r| r.streams).unwrap_or(0);
        let per_stream = m(|r| r.cpu_cores_per_stream);
        let realtime_fraction = m(|r| r.realtime_fraction);
        let late_tick_fraction = m(|r| r.late_tick_fraction);
        Self {
            streams,
            width,
            height,
            fps,
            bitrate_kbps,
            decode_ms_per_frame_p50: m(|r| r.decode_ms_per_frame_p50),
            decode_ms_per_frame_p99: m(|r| r.decode_ms_per_frame_p99),
            cpu_cores_used: m(|r| r.cpu_cores_used),
            cpu_cores_per_stream: per_stream,
            cpu_cores_demanded: per_stream * streams as f64,
            realtime_fraction,
            late_tick_fraction,
            kept_up: realtime_fraction >= 0.99 && late_tick_fraction <= 0.05,
            other_processes_cores: {
                let v: Vec<f64> = runs.iter().filter_map(|r| r.other_processes_cores).collect();
                (!v.is_empty()).then(|| median(&v))
            },
            runs,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeResult {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub encode: EncodeSummary,
    pub calibration: CalibrationSummary,
    pub steps: Vec<Step>,
    /// floor(cores / cores-per-stream measured under the heaviest tested
    /// load); the headline number.
    pub max_realtime_streams_on_this_machine: u64,
    /// The same from the isolated, single-thread calibration (optimistic).
    pub max_realtime_streams_isolated: u64,
    /// Largest tested stream count that actually kept up in real time.
    pub largest_tested_streams_kept_up: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub method: &'static str,
    pub machine: Machine,
    pub config: Config,
    pub results: Vec<SizeResult>,
}

pub const METHOD: &str = "A synthetic webcam clip is encoded once with libvpx VP8 (realtime, CBR). \
Calibration: one thread decodes the clip with a fresh decoder per pass as fast as it can; each \
vpx_codec_decode call is timed in thread CPU time; cores per stream = mean CPU per frame x fps. \
Steps: N streams, each with its own decoder, starting on different keyframes, are decoded paced \
in real time at the clip fps by min(N, threads) threads; cores used = process CPU time / wall time, \
cores per stream = process CPU per decoded frame x fps. A step that cannot keep up decodes fewer \
frames than due (realtime_fraction < 1). Each figure is the median over the repeats. \
cpu_cores_per_stream is CPU time per frame and so holds on a shared machine; cpu_cores_used and \
realtime_fraction also depend on what other processes leave free (other_processes_cores), so the \
cliff is derived from the per-stream cost: floor(cores / cpu_cores_per_stream).";

pub fn cores_limit(cores: usize, per_stream: f64) -> u64 {
    if per_stream > 0.0 { (cores as f64 / per_stream).floor() as u64 } else { 0 }
}

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct ChartError(String);

fn chart_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(e.to_string())
}

/// Flags runs where other processes held a sizeable share of the machine,
/// since the measured dots then sit below what decoding alone would reach.
fn other_load_note(steps: &[Step]) -> String {
    let v: Vec<f64> = steps.iter().filter_map(|s| s.other_processes_cores).collect();
    match v.is_empty() {
        false if median(&v) >= 0.2 => format!("; other processes used ~{:.1} cores", median(&v)),
        _ => String::new(),
    }
}

const PALETTE: [RGBColor; 3] = [RGBColor(200, 40, 40), RGBColor(230, 140, 20), RGBColor(140, 40, 160)];

/// Cores used vs concurrent streams: per-size decode demand (line) and
/// measured cores busy (dots), the machine's cores, and optionally vigil's
/// forwarding cost.
pub fn draw_chart(path: &Path, report: &Report) -> Result<(), ChartError> {
    let cores = report.machine.cores as f64;
    let forward = report.config.forward_cpu_per_stream;
    let max_streams = report.config.streams.iter().copied().max().unwrap_or(1).max(1) as f64;
    // Extend the x axis so the cliff shows even if every tested step fit.
    let cliff_x = report.results.iter().map(|r| r.max_realtime_streams_on_this_machine as f64).fold(0.0, f64::max);
    let x_max = max_streams.max((cliff_x * 1.15).min(max_streams * 4.0)).ceil();
    let y_demand =
        report.results.iter().flat_map(|r| r.steps.iter().map(|s| s.cpu_cores_per_stream * x_max)).fold(0.0, f64::max);
    let y_max = (y_demand.max(cores * 1.25) * 1.05).max(0.5);

    let root = SVGBackend::new(path, (860, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_err)?;
    let title = format!(
        "Server CPU vs concurrent students (VP8 {} fps, {} kbps) on {} cores",
        report.config.fps, report.config.bitrate_kbps, report.machine.cores
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_desc("concurrent student streams")
        .y_desc("CPU cores busy")
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(chart_err)?;

    let core_color = RGBColor(60, 60, 60);
    chart
        .draw_series(LineSeries::new([(0.0, cores), (x_max, cores)], core_color.stroke_width(2)))
        .map_err(chart_err)?
        .label(format!("this machine: {} cores", report.machine.cores))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], core_color.stroke_width(2)));

    for (i, r) in report.results.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // Per-stream cost measured under the heaviest load: the straight
        // line is what N streams demand, the dots what the box delivered.
        let per_stream = r.steps.last().map(|s| s.cpu_cores_per_stream).unwrap_or(r.calibration.cpu_cores_per_stream);
        let demand: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
            .chain(r.steps.iter().map(|s| (s.streams as f64, s.cpu_cores_demanded)))
            .chain(std::iter::once((x_max, per_stream * x_max)))
            .collect();
        chart
            .draw_series(LineSeries::new(demand, color.stroke_width(2)))
            .map_err(chart_err)?
            .label(format!(
                "decode every frame {}x{}: {:.3} cores/stream, cliff at {} streams",
                r.width, r.height, per_stream, r.max_realtime_streams_on_this_machine
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(r.steps.iter().map(|s| Circle::new((s.streams as f64, s.cpu_cores_used), 4, color.filled())))
            .map_err(chart_err)?
            .label(format!("measured cores busy {}x{} (paced, median){}", r.width, r.height, other_load_note(&r.steps)))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        // Mark the cliff itself where the demand line crosses the cores line.
        let cliff = r.max_realtime_streams_on_this_machine as f64;
        if cliff > 0.0 && cliff <= x_max {
            chart
                .draw_series(LineSeries::new([(cliff, 0.0), (cliff, cores)], color.mix(0.5).stroke_width(1)))
                .map_err(chart_err)?;
        }
    }

    if let Some(f) = forward {
        let green = RGBColor(20, 140, 60);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (x_max, f * x_max)], green.stroke_width(3)))
            .map_err(chart_err)?
            .label(format!("vigil SFU forwarding: {f:.4} cores/stream"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], green.stroke_width(3)));
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(chart_err)?;
    root.present().map_err(chart_err)?;
    Ok(())
}
