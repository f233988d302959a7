//! The measurements: encode one student's clip, then decode it the way a
//! decoding server would, and account for the CPU it takes.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::convert::i420_to_rgb24;
use crate::frame::{BadDimensions, I420Frame};
use crate::scene::Scene;
use crate::sys::cputime::{ProcessUsage, process_usage, thread_cpu_time};
use crate::sys::vpx::{Decoder, EncodedFrame, Encoder, EncoderConfig, VpxError};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Vpx(#[from] VpxError),
    #[error(transparent)]
    Dimensions(#[from] BadDimensions),
    #[error("reading a CPU clock failed: {0}")]
    Clock(#[from] std::io::Error),
    #[error("the encoder produced {got} frames for {want} inputs")]
    FrameCount { got: usize, want: usize },
    #[error("a decode thread panicked")]
    ThreadPanicked,
    #[error("nothing to measure: {0}")]
    Empty(&'static str),
}

/// One student's encoded clip, decoded over and over by the benchmark.
pub struct Clip {
    pub config: EncoderConfig,
    pub frames: Vec<EncodedFrame>,
    pub encode_cpu_ms_per_frame_p50: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EncodeSummary {
    pub frames: usize,
    pub keyframes: usize,
    pub keyframe_interval_frames: u32,
    pub cpu_used: i32,
    pub total_bytes: usize,
    pub target_bitrate_kbps: u32,
    pub achieved_bitrate_kbps: f64,
    pub mean_keyframe_bytes: f64,
    pub mean_delta_frame_bytes: f64,
    pub encode_cpu_ms_per_frame_p50: f64,
}

impl Clip {
    pub fn encode(config: EncoderConfig, frame_count: usize) -> Result<Self, BenchError> {
        if frame_count == 0 {
            return Err(BenchError::Empty("zero frames requested"));
        }
        let scene = Scene::new(config.width, config.height)?;
        let mut raw = I420Frame::new(config.width, config.height)?;
        let mut enc = Encoder::new(config)?;
        let mut frames = Vec::with_capacity(frame_count);
        let mut cpu = Vec::with_capacity(frame_count);
        for t in 0..frame_count {
            scene.render(t as u64, &mut raw)?;
            let before = thread_cpu_time()?;
            frames.extend(enc.encode(&raw)?);
            cpu.push(ms(thread_cpu_time()?.saturating_sub(before)));
        }
        if frames.len() != frame_count {
            return Err(BenchError::FrameCount { got: frames.len(), want: frame_count });
        }
        Ok(Self { config, frames, encode_cpu_ms_per_frame_p50: percentile(&mut cpu, 50.0) })
    }

    pub fn duration_s(&self) -> f64 {
        self.frames.len() as f64 / f64::from(self.config.fps)
    }

    pub fn summary(&self) -> EncodeSummary {
        let total: usize = self.frames.iter().map(|f| f.data.len()).sum();
        let (kf, df): (Vec<_>, Vec<_>) = self.frames.iter().partition(|f| f.is_keyframe);
        let mean = |v: &[&EncodedFrame]| {
            if v.is_empty() { 0.0 } else { v.iter().map(|f| f.data.len()).sum::<usize>() as f64 / v.len() as f64 }
        };
        EncodeSummary {
            frames: self.frames.len(),
            keyframes: kf.len(),
            keyframe_interval_frames: self.config.keyframe_interval,
            cpu_used: self.config.cpu_used,
            total_bytes: total,
            target_bitrate_kbps: self.config.bitrate_kbps,
            achieved_bitrate_kbps: total as f64 * 8.0 / 1000.0 / self.duration_s(),
            mean_keyframe_bytes: mean(&kf),
            mean_delta_frame_bytes: mean(&df),
            encode_cpu_ms_per_frame_p50: self.encode_cpu_ms_per_frame_p50,
        }
    }

    /// Frame index where stream `s` starts. Streams begin on different
    /// keyframes so that, as with real students, keyframes (several times
    /// dearer to decode) do not all land on the same tick.
    fn start_offset(&self, s: usize) -> usize {
        let kf: Vec<usize> = self.frames.iter().enumerate().filter(|(_, f)| f.is_keyframe).map(|(i, _)| i).collect();
        if kf.is_empty() { 0 } else { kf[s % kf.len()] }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile; sorts `v` in place. 0.0 for an empty slice.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    percentile(&mut v, 50.0)
}

/// Decode cost measured in isolation: one thread decodes the whole clip as
/// fast as it can, with a fresh decoder per pass, timing each call in
/// thread CPU time. This is the cost per frame with a warm cache and no
/// contention, i.e. a lower bound.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub passes: usize,
    pub decode_ms_per_frame_p50: f64,
    pub decode_ms_per_frame_p99: f64,
    pub decode_ms_per_frame_mean: f64,
    pub keyframe_decode_ms_p50: f64,
    pub delta_frame_decode_ms_p50: f64,
    /// Mean decode CPU per frame x fps: cores one student's stream needs.
    pub cpu_cores_per_stream: f64,
    pub rgb_convert_ms_per_frame_p50: Option<f64>,
    pub cpu_cores_per_stream_with_rgb: Option<f64>,
}

pub fn calibrate(clip: &Clip, passes: usize, with_rgb: bool) -> Result<Calibration, BenchError> {
    if passes == 0 {
        return Err(BenchError::Empty("zero calibration passes"));
    }
    let mut all = Vec::new();
    let (mut kf, mut df, mut rgb) = (Vec::new(), Vec::new(), Vec::new());
    let mut rgb_buf = Vec::new();
    for _ in 0..passes {
        let mut dec = Decoder::new()?;
        for f in &clip.frames {
            let t0 = thread_cpu_time()?;
            let img = dec.decode(&f.data)?;
            let t1 = thread_cpu_time()?;
            let d = ms(t1.saturating_sub(t0));
            all.push(d);
            if f.is_keyframe {
                kf.push(d)
            } else {
                df.push(d)
            }
            if with_rgb && let Some(img) = img {
                i420_to_rgb24(&img, &mut rgb_buf);
                rgb.push(ms(thread_cpu_time()?.saturating_sub(t1)));
            }
        }
    }
    let fps = f64::from(clip.config.fps);
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let rgb_mean = (!rgb.is_empty()).then(|| rgb.iter().sum::<f64>() / rgb.len() as f64);
    Ok(Calibration {
        passes,
        decode_ms_per_frame_p50: percentile(&mut all.clone(), 50.0),
        decode_ms_per_frame_p99: percentile(&mut all, 99.0),
        decode_ms_per_frame_mean: mean,
        keyframe_decode_ms_p50: percentile(&mut kf, 50.0),
        delta_frame_decode_ms_p50: percentile(&mut df, 50.0),
        cpu_cores_per_stream: mean / 1000.0 * fps,
        rgb_convert_ms_per_frame_p50: (!rgb.is_empty()).then(|| percentile(&mut rgb, 50.0)),
        cpu_cores_per_stream_with_rgb: rgb_mean.map(|r| (mean + r) / 1000.0 * fps),
    })
}

/// One run of the paced, concurrent measurement.
#[derive(Debug, Clone, Serialize)]
pub struct PacedRun {
    pub streams: usize,
    pub threads: usize,
    pub wall_s: f64,
    pub process_cpu_s: f64,
    /// Process CPU seconds / wall seconds: cores this load kept busy.
    pub cpu_cores_used: f64,
    /// Process CPU per decoded frame x fps; stays meaningful when overloaded.
    pub cpu_cores_per_stream: f64,
    pub decode_ms_per_frame_p50: f64,
    pub decode_ms_per_frame_p99: f64,
    pub frames_due: u64,
    pub frames_decoded: u64,
    /// frames_decoded / frames_due: below 1 means the server fell behind.
    pub realtime_fraction: f64,
    /// Ticks whose decoding finished more than one frame interval late.
    pub late_tick_fraction: f64,
    pub involuntary_ctx_switches: i64,
    /// Share of the machine's CPU time the hypervisor gave to someone else
    /// during the run (/proc/stat steal), when readable.
    pub steal_pct: Option<f64>,
    /// Cores kept busy by *other* processes on this machine during the run
    /// (/proc/stat non-idle time minus ours). When this is large, the
    /// realtime_fraction and cores_used above say more about the neighbours
    /// than about decoding; cpu_cores_per_stream stays valid.
    pub other_processes_cores: Option<f64>,
}

struct ThreadResult {
    samples_ms: Vec<f64>,
    frames: u64,
    ticks: u64,
    late_ticks: u64,
}

/// Jiffy counters from the aggregate "cpu" line of /proc/stat.
#[derive(Debug, Clone, Copy)]
struct CpuStat {
    total: u64,
    idle: u64,
    steal: u64,
}

fn cpu_stat() -> Option<CpuStat> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal; guest and guest_nice
    // are already counted in user and nice.
    Some(CpuStat { total: v.iter().take(8).sum(), idle: v.get(3)? + v.get(4)?, steal: *v.get(7)? })
}

/// Decodes `streams` copies of the clip concurrently for `seconds`, each
/// stream paced at the clip's fps with its own decoder, spread round-robin
/// over `threads` threads. This is what a decoding server does; measuring
/// process CPU over wall time gives cores used, and frames that could not be
/// decoded on schedule show where the machine runs out.
pub fn run_paced(clip: &Clip, streams: usize, threads: usize, seconds: f64) -> Result<PacedRun, BenchError> {
    if streams == 0 || threads == 0 || !seconds.is_finite() || seconds <= 0.0 {
        return Err(BenchError::Empty("streams, threads and seconds must be positive"));
    }
    let threads = threads.min(streams);
    let fps = clip.config.fps;
    let interval = Duration::from_secs_f64(1.0 / f64::from(fps));
    let run_for = Duration::from_secs_f64(seconds);
    let n = clip.frames.len();
    // +1 for the coordinating thread: it reads the clocks once every worker
    // has built its decoders, so decoder setup is not billed to decoding.
    let barrier = Barrier::new(threads + 1);
    let start_cell = std::sync::OnceLock::<Instant>::new();

    let (results, usage0, usage1, stat0, stat1, wall) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|ti| {
                let barrier = &barrier;
                let start_cell = &start_cell;
                scope.spawn(move || -> Result<ThreadResult, BenchError> {
                    let mine: Vec<usize> = (ti..streams).step_by(threads).collect();
                    let built: Result<Vec<Decoder>, VpxError> = mine.iter().map(|_| Decoder::new()).collect();
                    // Always reach both barriers, even on error, or the others hang.
                    barrier.wait();
                    barrier.wait();
                    let mut decoders = built?;
                    let offsets: Vec<usize> = mine.iter().map(|&s| clip.start_offset(s)).collect();
                    let start = *start_cell.get().ok_or(BenchError::Empty("start time unset"))?;
                    let mut r = ThreadResult { samples_ms: Vec::new(), frames: 0, ticks: 0, late_ticks: 0 };
                    let mut tick: u64 = 0;
                    loop {
                        let due = start + interval.mul_f64(tick as f64);
                        if due >= start + run_for {
                            break;
                        }
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        for (dec, off) in decoders.iter_mut().zip(&offsets) {
                            if start.elapsed() >= run_for {
                                break;
                            }
                            let f = &clip.frames[(off + tick as usize) % n];
                            let t0 = thread_cpu_time()?;
                            dec.decode(&f.data)?;
                            r.samples_ms.push(ms(thread_cpu_time()?.saturating_sub(t0)));
                            r.frames += 1;
                        }
                        r.ticks += 1;
                        if Instant::now() > due + interval {
                            r.late_ticks += 1;
                        }
                        tick += 1;
                    }
                    Ok(r)
                })
            })
            .collect();
        barrier.wait();
        let stat0 = cpu_stat();
        let usage0 = process_usage();
        let _ = start_cell.set(Instant::now());
        barrier.wait();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().map_err(|_| BenchError::ThreadPanicked)).collect();
        let wall = start_cell.get().map(|s| s.elapsed()).unwrap_or_default();
        (results, usage0, process_usage(), stat0, cpu_stat(), wall)
    });
    let (usage0, usage1): (ProcessUsage, ProcessUsage) = (usage0?, usage1?);

    let mut samples = Vec::new();
    let (mut frames, mut ticks, mut late) = (0u64, 0u64, 0u64);
    for r in results {
        let r = r??;
        samples.extend(r.samples_ms);
        frames += r.frames;
        ticks += r.ticks;
        late += r.late_ticks;
    }
    if frames == 0 {
        return Err(BenchError::Empty("no frame was decoded"));
    }
    let wall_s = wall.as_secs_f64();
    let cpu_s = usage1.cpu().saturating_sub(usage0.cpu()).as_secs_f64();
    let frames_due = streams as u64 * (seconds * f64::from(fps)).ceil() as u64;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let (steal_pct, other_processes_cores) = match (stat0, stat1) {
        (Some(a), Some(b)) if b.total > a.total => {
            let total = (b.total - a.total) as f64;
            let steal = b.steal.saturating_sub(a.steal) as f64;
            let idle = b.idle.saturating_sub(a.idle) as f64;
            let busy_cores = cores * (total - idle - steal).max(0.0) / total;
            (Some(100.0 * steal / total), Some((busy_cores - cpu_s / wall_s).max(0.0)))
        }
        _ => (None, None),
    };
    Ok(PacedRun {
        streams,
        threads,
        wall_s,
        process_cpu_s: cpu_s,
        cpu_cores_used: cpu_s / wall_s,
        cpu_cores_per_stream: cpu_s / frames as f64 * f64::from(fps),
        decode_ms_per_frame_p50: percentile(&mut samples, 50.0),
        decode_ms_per_frame_p99: percentile(&mut samples, 99.0),
        frames_due,
        frames_decoded: frames,
        realtime_fraction: frames as f64 / frames_due as f64,
        late_tick_fraction: if ticks == 0 { 0.0 } else { late as f64 / ticks as f64 },
        involuntary_ctx_switches: usage1.involuntary_ctx_switches - usage0.involuntary_ctx_switches,
        steal_pct,
        other_processes_cores,
    })
}

/// CPU model name and logical core count of this machine.
pub fn machine() -> (String, usize) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    (model, cores)
}
