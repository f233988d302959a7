//! Readings from /proc, the progress bar, and the JSON and SVG outputs.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

use crate::{Quantiles, StepResult};

/// Clock ticks per second for /proc/<pid>/stat times; 100 on every Linux
/// configuration this tool targets (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process, in seconds.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields restart after its ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Lowers the priority of every thread of this process (threads started
/// later inherit it). Server and load generator share the machine; with
/// the generator niced the server gets the CPU it would have on a machine
/// of its own, and the generator's own delays show up on its side.
#[allow(unsafe_code)] // setpriority per thread: std has no safe wrapper
pub fn renice_self(nice: i32) -> std::io::Result<()> {
    for task in std::fs::read_dir("/proc/self/task")? {
        let Some(tid) = task?.file_name().to_str().and_then(|t| t.parse::<libc::id_t>().ok()) else { continue };
        // SAFETY: setpriority takes plain integers; on Linux PRIO_PROCESS
        // with a thread id sets that thread's nice value.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sets the calling thread's nice value (0 leaves it alone).
#[allow(unsafe_code)] // setpriority per thread: std has no safe wrapper
pub fn renice_this_thread(nice: i32) -> std::io::Result<()> {
    if nice == 0 {
        return Ok(());
    }
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    // SAFETY: setpriority takes plain integers and touches no memory of
    // ours; on Linux PRIO_PROCESS with a thread id sets that thread's nice.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn progress(students: u32, duration: Duration) -> ProgressBar {
    let bar = ProgressBar::new(duration.as_millis() as u64);
    let style = ProgressStyle::with_template("{prefix:>14} [{bar:30}] {elapsed:>3}/{duration:3} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{students} students"));
    bar
}

pub fn write_json(path: &Path, steps: &[StepResult]) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(steps)?)?;
    Ok(())
}

/// Two panels: server CPU (cores) and p99 score latency (ms) against students.
pub fn write_svg(path: &Path, steps: &[StepResult]) -> Result<()> {
    let root = SVGBackend::new(path, (720, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(280);
    let x_max = steps.iter().map(|s| s.students).max().unwrap_or(1) as f64 * 1.05;
    let panel = |area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
                 title: &str,
                 unit: &str,
                 points: Vec<(f64, f64)>,
                 color: RGBColor|
     -> Result<()> {
        let y_max = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1e-6) * 1.2;
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart.configure_mesh().x_desc("students").y_desc(unit).draw()?;
        chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        Ok(())
    };
    let cpu: Vec<(f64, f64)> =
        steps.iter().filter_map(|s| s.server_cpu_cores.map(|c| (f64::from(s.students), c))).collect();
    let p99: Vec<(f64, f64)> =
        steps.iter().filter_map(|s| s.score_latency_ms.as_ref().map(|q| (f64::from(s.students), q.p99))).collect();
    panel(&top, "server CPU", "cores", cpu, RGBColor(0, 114, 178))?;
    panel(&bottom, "incident sent → score at proctor, p99", "ms", p99, RGBColor(213, 94, 0))?;
    root.present()?;
    Ok(())
}

/// A join storm's chart: for each storm, students live and server CPU
/// second by second (top), and join-to-live p50, p95 and max against the
/// number of students (bottom).
pub fn write_storm_svg(path: &Path, storms: &[crate::storm::StormResult]) -> Result<()> {
    let root = SVGBackend::new(path, (760, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(300);
    let palette = [RGBColor(0, 114, 178), RGBColor(213, 94, 0), RGBColor(0, 158, 115), RGBColor(204, 121, 167)];
    let t_max = storms.iter().flat_map(|s| s.timeline.iter().map(|p| p.t_s)).fold(1.0f64, f64::max);
    let n_max = storms.iter().map(|s| s.students).max().unwrap_or(1) as f64;
    let mut chart = ChartBuilder::on(&top)
        .caption("students live (solid) and server CPU ×100 (dashed) during the storm", ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..t_max * 1.02, 0.0..n_max * 1.1)?;
    chart.configure_mesh().x_desc("seconds from the first possible arrival").y_desc("students").draw()?;
    for (i, s) in storms.iter().enumerate() {
        let color = palette[i % palette.len()];
        let live: Vec<(f64, f64)> = s.timeline.iter().map(|p| (p.t_s, f64::from(p.live))).collect();
        chart
            .draw_series(LineSeries::new(live, color.stroke_width(2)))?
            .label(format!("{} students", s.students))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        let cpu: Vec<(f64, f64)> =
            s.timeline.iter().filter_map(|p| p.server_cpu_cores.map(|c| (p.t_s, c * 100.0))).collect();
        chart.draw_series(DashedLineSeries::new(cpu, 4, 3, color.stroke_width(1)))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    let y_max =
        storms.iter().filter_map(|s| s.join_to_live_ms.as_ref().map(|q| q.max / 1000.0)).fold(1.0f64, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("arrival → camera live at a proctor", ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..n_max * 1.05, 0.0..y_max)?;
    chart.configure_mesh().x_desc("students arriving in the window").y_desc("seconds").draw()?;
    type Pick = fn(&Quantiles) -> f64;
    let lines: [(&str, Pick, RGBColor); 3] =
        [("p50", |q| q.p50, palette[0]), ("p95", |q| q.p95, palette[1]), ("max", |q| q.max, palette[2])];
    for (name, pick, color) in lines {
        let points: Vec<(f64, f64)> = storms
            .iter()
            .filter_map(|s| s.join_to_live_ms.as_ref().map(|q| (f64::from(s.students), pick(q) / 1000.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
