//! Join storm: `N` students arrive within a window of `T` seconds, as at a
//! real exam start, and each does what a student's browser does before it
//! is proctored: loads the student page's real assets over HTTP (asking for
//! brotli or gzip and keeping a browser's cache), handshakes over
//! Socket.IO, publishes its camera, and is seen live by a proctor, whose
//! slots take the arrivals in turn ([`crate::media::watch_arrivals`]).
//!
//! Measured per student: bytes on the wire for the page on a first visit and
//! on a revisit (the same student loading it again with its cache), and the
//! time from arrival to the first frame of its camera at a proctor. Measured
//! for the server: CPU per second over the storm.
//!
//! What a browser fetches is found the way it finds it: the HTML's scripts
//! and styles, the workers the scripts name, and the models the page's
//! `models/manifest.json` lists for the exam's detectors ([`model_paths`]).
//! The crawl and the cache rules are pure and tested here; the fetching is a
//! thin layer over reqwest.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use vigil_proto::events::names;

use crate::media::{LiveRequest, VideoConfig};
use crate::sim::{Stats, token_payload};
use crate::sio::SioClient;
use crate::{Quantiles, Target, report};

/// What one storm does.
#[derive(Debug, Clone)]
pub struct StormConfig {
    pub students: u32,
    /// Arrivals are spread uniformly at random over this window.
    pub window: Duration,
    /// Proctors whose slots check that each student is live.
    pub proctors: u32,
    /// Receive slots per proctor (the SFU allows 16).
    pub slots: u32,
    /// Parallel HTTP connections per student (browsers open up to 6 per
    /// host over HTTP/1.1; 1 keeps one flow per student, for `tc fq`).
    pub http_connections: usize,
    pub video: VideoConfig,
    /// A student not live this long after the window closed has failed.
    pub grace: Duration,
    /// Where the student page is served (`/student/`).
    pub page: String,
    pub seed: u64,
    pub show_progress: bool,
    /// Student `i` connects from `source_ips[i % len]` (its HTTP, its
    /// Socket.IO and its camera), so that `tc` can shape each student's
    /// link apart; empty for the address the kernel picks.
    pub source_ips: Vec<std::net::IpAddr>,
}

/// One storm's measurements; field names are the JSON output's.
#[derive(Debug, Clone, Serialize)]
pub struct StormResult {
    pub students: u32,
    pub window_s: f64,
    /// Students whose camera reached a proctor.
    pub live: u32,
    /// Students that did not, by what stopped them.
    pub failures: BTreeMap<String, u64>,
    /// From the first arrival to the last student live (or given up).
    pub storm_s: f64,
    /// Server CPU over the storm: the mean, and the busiest second.
    pub server_cpu_cores_mean: Option<f64>,
    pub server_cpu_cores_peak: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub loadgen_cpu_cores_mean: f64,
    /// Bytes the server sent per student for the page (status line,
    /// headers and body as sent, compressed), and requests made.
    pub first_visit_bytes: Option<Spread>,
    pub first_visit_requests: Option<Spread>,
    pub revisit_bytes: Option<Spread>,
    pub revisit_requests: Option<Spread>,
    /// Files a revisit took from its cache without asking, and asked about
    /// and got 304 for (per student, the mean).
    pub revisit_from_cache: f64,
    pub revisit_not_modified: f64,
    /// Bytes each student's uplink probe sent to the server (the page
    /// measures its uplink at the system check).
    pub uplink_probe_bytes: Option<Spread>,
    /// Arrival → page loaded; → `welcome` on Socket.IO; → the first frame
    /// of the camera at a proctor (join-to-live).
    pub page_ms: Option<Quantiles>,
    pub welcome_ms: Option<Quantiles>,
    pub join_to_live_ms: Option<Quantiles>,
    /// Server CPU (cores) and students live, second by second from the
    /// first arrival.
    pub timeline: Vec<TimelinePoint>,
    /// Errors the clients met on the way (retried or not).
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub t_s: f64,
    pub server_cpu_cores: Option<f64>,
    pub arrived: u32,
    pub live: u32,
}

/// Mean, smallest and largest over the students.
#[derive(Debug, Clone, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        Some(Spread {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// When each of `n` students arrives after the storm starts: uniform over
/// `window`, in order. The same seed gives the same storm.
pub fn arrival_offsets(n: u32, window: Duration, seed: u64) -> Vec<Duration> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out: Vec<Duration> =
        (0..n).map(|_| Duration::from_secs_f64(rng.random_range(0.0..=1.0) * window.as_secs_f64())).collect();
    out.sort();
    out
}

/// The same-origin scripts and styles an HTML page loads (`src` and `href`
/// attributes under `page`), as absolute paths, in order, once each.
pub fn page_assets(html: &str, page: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let Some(end) = rest.find('"') else { continue };
            if let Some(path) = resolve(&rest[..end], page)
                && (path.ends_with(".js") || path.ends_with(".css"))
                && !out.contains(&path)
            {
                out.push(path);
            }
        }
    }
    out
}

/// The other scripts a bundle names (`assets/….js`: Vite's workers and
/// chunks), as absolute paths under `page`.
pub fn script_refs(js: &str, page: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, _) in js.match_indices("assets/") {
        let name: String = js[i + "assets/".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if let Some(stem) = name.strip_suffix(".js").filter(|s| !s.is_empty()) {
            let path = format!("{page}assets/{stem}.js");
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

fn resolve(url: &str, page: &str) -> Option<String> {
    if url.starts_with("//") || url.contains("://") || url.starts_with("data:") {
        return None;
    }
    if url.starts_with('/') {
        return url.starts_with(page).then(|| url.to_owned());
    }
    Some(format!("{page}{}", url.trim_start_matches("./")))
}

/// The model files the student page downloads for an exam with the default
/// detectors (face and phone; the microphone off), in a browser with
/// WebAssembly SIMD and no cross-origin isolation: the choice `modelFiles`
/// makes in web/student/src/download.ts, from the manifest that page reads
/// (layout 6: each file is `group/name`, served from `models/<dir>/name`
/// where `groups` maps the group to its content-hashed directory).
/// Absolute paths under `page`.
pub fn model_paths(manifest: &Value, page: &str) -> Result<Vec<String>> {
    let files = manifest.get("files").and_then(Value::as_object).context("models/manifest.json has no files")?;
    let groups = manifest.get("groups").and_then(Value::as_object).context("models/manifest.json has no groups")?;
    let wanted = [
        "wasm/vision_wasm_module_internal.wasm",
        "wasm/vision_wasm_module_internal.js",
        // The page reads the fallback face detector out of this bundle.
        "face/face_landmarker.task",
        "objects/centernet.json",
        "objects/centernet.bin",
        "tfjs/tfjs-backend-wasm-simd.wasm",
    ];
    let mut out = Vec::new();
    for key in wanted.into_iter().filter(|k| files.contains_key(*k)) {
        let (group, name) = key.split_once('/').context("a model key without its group")?;
        let dir =
            groups.get(group).and_then(Value::as_str).with_context(|| format!("no directory for group {group}"))?;
        out.push(format!("{page}models/{dir}/{name}"));
    }
    Ok(out)
}

/// What a browser's HTTP cache holds for one URL.
#[derive(Debug, Clone)]
struct Cached {
    stored_at: Instant,
    /// `max-age`, and whether `no-cache` asks to revalidate every use.
    max_age: Option<Duration>,
    no_cache: bool,
    etag: Option<String>,
    last_modified: Option<String>,
    /// The body, kept for the files the crawl reads (HTML, scripts, JSON).
    text: Option<String>,
}

/// What the cache says to do for a URL.
#[derive(Debug, PartialEq)]
enum Lookup {
    /// Use the stored copy without asking.
    Fresh,
    /// Ask with these validators; a 304 means the stored copy is good.
    Revalidate {
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Miss,
}

/// A browser's HTTP cache, reduced to what decides whether a request goes
/// out (RFC 9111: freshness from `max-age`, `no-cache` and `no-store`,
/// validators for a conditional request). Pure: the caller passes the time.
#[derive(Debug, Default)]
struct BrowserCache {
    entries: HashMap<String, Cached>,
}

impl BrowserCache {
    fn lookup(&self, path: &str, now: Instant) -> Lookup {
        let Some(c) = self.entries.get(path) else { return Lookup::Miss };
        let fresh = !c.no_cache && c.max_age.is_some_and(|age| now.duration_since(c.stored_at) < age);
        if fresh {
            Lookup::Fresh
        } else if c.etag.is_some() || c.last_modified.is_some() {
            Lookup::Revalidate { etag: c.etag.clone(), last_modified: c.last_modified.clone() }
        } else {
            Lookup::Miss
        }
    }

    /// Keeps a 200's headers (and `text`), unless `no-store`.
    fn store(&mut self, path: &str, headers: &reqwest::header::HeaderMap, text: Option<String>, now: Instant) {
        let header =
            |name: reqwest::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let control = header(reqwest::header::CACHE_CONTROL).unwrap_or_default().to_ascii_lowercase();
        let directives: Vec<&str> = control.split(',').map(str::trim).collect();
        if directives.contains(&"no-store") {
            self.entries.remove(path);
            return;
        }
        let max_age =
            directives.iter().find_map(|d| d.strip_prefix("max-age=")?.parse::<u64>().ok()).map(Duration::from_secs);
        self.entries.insert(
            path.to_owned(),
            Cached {
                stored_at: now,
                max_age,
                no_cache: directives.contains(&"no-cache"),
                etag: header(reqwest::header::ETAG),
                last_modified: header(reqwest::header::LAST_MODIFIED),
                text,
            },
        );
    }

    /// A 304: the stored copy is fresh again from `now`.
    fn refreshed(&mut self, path: &str, now: Instant) {
        if let Some(c) = self.entries.get_mut(path) {
            c.stored_at = now;
        }
    }

    fn text(&self, path: &str) -> Option<&str> {
        self.entries.get(path)?.text.as_deref()
    }
}

/// One page load's traffic.
#[derive(Debug, Default, Clone, Copy)]
pub struct Visit {
    pub bytes: u64,
    pub requests: u32,
    pub from_cache: u32,
    pub not_modified: u32,
}

/// Bytes of a response's status line and headers as HTTP/1.1 sends them.
fn head_bytes(res: &reqwest::Response) -> u64 {
    let headers: usize = res.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    (17 + headers + 2) as u64
}

/// Fetches `path` as a browser would with `cache`; returns the body's text
/// when `want_text` (from the cache when nothing was fetched).
async fn get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    want_text: bool,
    cache: &tokio::sync::Mutex<BrowserCache>,
) -> Result<(Visit, Option<String>)> {
    let lookup = cache.lock().await.lookup(path, Instant::now());
    let mut visit = Visit::default();
    if lookup == Lookup::Fresh {
        visit.from_cache = 1;
        return Ok((visit, cache.lock().await.text(path).map(str::to_owned)));
    }
    let mut req = http.get(format!("{base}{path}")).header("accept-encoding", "gzip, deflate, br, zstd");
    if let Lookup::Revalidate { etag, last_modified } = &lookup {
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        if let Some(m) = last_modified {
            req = req.header("if-modified-since", m);
        }
    }
    let mut res = req.send().await.with_context(|| format!("GET {path}"))?;
    visit.requests = 1;
    visit.bytes = head_bytes(&res);
    let status = res.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        visit.not_modified = 1;
        let mut c = cache.lock().await;
        c.refreshed(path, Instant::now());
        return Ok((visit, c.text(path).map(str::to_owned)));
    }
    if !status.is_success() {
        anyhow::bail!("GET {path}: HTTP {}", status.as_u16());
    }
    let headers = res.headers().clone();
    let encoding = headers.get(reqwest::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The body as sent is counted chunk by chunk; only the files the crawl
    // reads are kept, decoded.
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.with_context(|| format!("GET {path}: body"))? {
        visit.bytes += chunk.len() as u64;
        if want_text {
            body.extend_from_slice(&chunk);
        }
    }
    let text =
        if want_text { Some(decode(&body, encoding.as_deref()).with_context(|| format!("GET {path}"))?) } else { None };
    cache.lock().await.store(path, &headers, text.clone(), Instant::now());
    Ok((visit, text))
}

/// A text body as sent: identity, gzip or brotli (what `get` asks for).
fn decode(body: &[u8], encoding: Option<&str>) -> Result<String> {
    use std::io::Read;
    let mut out = String::new();
    match encoding {
        None | Some("identity") => return Ok(String::from_utf8_lossy(body).into_owned()),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_string(&mut out)?;
        }
        Some("br") => {
            brotli_decompressor::Decompressor::new(body, 4096).read_to_string(&mut out)?;
        }
        Some(other) => anyhow::bail!("unexpected content-encoding {other}"),
    }
    Ok(out)
}

/// `get` for each (path, want_text), `connections` at a time.
async fn get_all(
    http: &reqwest::Client,
    base: &str,
    paths: Vec<(String, bool)>,
    connections: usize,
    cache: &tokio::sync::Mutex<BrowserCache>,
) -> Vec<Result<(Visit, Option<String>)>> {
    futures::stream::iter(paths)
        .map(|(path, text)| async move { get(http, base, &path, text, cache).await })
        .buffer_unordered(connections.max(1))
        .collect()
        .await
}

/// Loads the student page as a browser does: the HTML, its scripts and
/// styles, the workers they name, the manifest, then the models (up to
/// `connections` at a time), each through `cache`.
async fn load_page(
    http: &reqwest::Client,
    base: &str,
    page: &str,
    connections: usize,
    cache: &tokio::sync::Mutex<BrowserCache>,
) -> Result<Visit> {
    let mut total = Visit::default();
    let mut add = |v: Visit| {
        total.bytes += v.bytes;
        total.requests += v.requests;
        total.from_cache += v.from_cache;
        total.not_modified += v.not_modified;
    };
    let (v, html) = get(http, base, page, true, cache).await?;
    add(v);
    let entry = page_assets(html.as_deref().unwrap_or_default(), page);
    let mut scripts: Vec<String> = Vec::new();
    let wanted = entry.iter().map(|p| (p.clone(), p.ends_with(".js"))).collect();
    let fetched = get_all(http, base, wanted, connections, cache).await;
    for r in fetched {
        let (v, text) = r?;
        add(v);
        if let Some(js) = text {
            for s in script_refs(&js, page) {
                if !entry.contains(&s) && !scripts.contains(&s) {
                    scripts.push(s);
                }
            }
        }
    }
    let (v, manifest) = get(http, base, &format!("{page}models/manifest.json"), true, cache).await?;
    add(v);
    let manifest: Value =
        serde_json::from_str(manifest.as_deref().unwrap_or_default()).context("models/manifest.json is not JSON")?;
    let mut rest = scripts;
    rest.extend(model_paths(&manifest, page)?);
    let fetched = get_all(http, base, rest.into_iter().map(|p| (p, false)).collect(), connections, cache).await;
    for r in fetched {
        add(r?.0);
    }
    Ok(total)
}

/// Random bytes for every probe, made once: a thousand students' probes
/// would otherwise draw half a gigabyte of random bytes on the load
/// generator's CPU (the server reads and drops them, whatever they are).
fn probe_body() -> bytes::Bytes {
    static BODY: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
    BODY.get_or_init(|| {
        let mut b = vec![0u8; 512 * 1024];
        rand::rng().fill_bytes(&mut b);
        bytes::Bytes::from(b)
    })
    .clone()
}

/// The page's uplink probe (web/student/src/uplink.ts): 64 KiB, then, if
/// that took under a second, one more sized for 1.5 s at the rate measured
/// (128 to 512 KiB). Refusals and errors are counted, not fatal: the page
/// goes on without a measurement. Returns the bytes sent.
async fn probe_uplink(http: &reqwest::Client, base: &str, token: &str, stats: &Stats) -> u64 {
    const FIRST: usize = 64 * 1024;
    let mut sent = 0u64;
    let mut size = FIRST;
    for attempt in 0..2 {
        let body = probe_body().slice(..size);
        let started = Instant::now();
        let res = http
            .post(format!("{base}/api/v1/uplink-probe"))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await;
        let took = started.elapsed();
        sent += size as u64;
        let bps = match res {
            Ok(r) if r.status().is_success() => {
                r.json::<Value>().await.ok().and_then(|v| v.get("bps").and_then(Value::as_f64)).unwrap_or(0.0)
            }
            Ok(r) => {
                let code = r.status().as_u16();
                let reason =
                    r.json::<Value>().await.ok().and_then(|v| v.pointer("/error/reason")?.as_str().map(str::to_owned));
                stats.error(format!("uplink probe: HTTP {code} {}", reason.unwrap_or_default()));
                return sent;
            }
            Err(e) => {
                stats.error(format!("uplink probe: {e}"));
                return sent;
            }
        };
        if attempt == 1 || took >= Duration::from_secs(1) || bps <= 0.0 {
            break;
        }
        size = ((bps / 8.0 * 1.5) as usize).clamp(2 * FIRST, 512 * 1024);
    }
    sent
}

/// What happened to one student.
#[derive(Debug, Default, Clone)]
struct Outcome {
    arrived: Option<Instant>,
    page: Option<Instant>,
    welcome: Option<Instant>,
    live: Option<Instant>,
    first: Option<Visit>,
    revisit: Option<Visit>,
    /// Bytes the uplink probe sent.
    probe_bytes: u64,
    failure: Option<String>,
}

type Outcomes = Arc<std::sync::Mutex<Vec<Outcome>>>;

fn record(outcomes: &Outcomes, idx: u32, f: impl FnOnce(&mut Outcome)) {
    let mut all = outcomes.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(o) = all.get_mut(idx as usize) {
        f(o);
    }
}

/// One student of the storm, from arrival until `stop`.
#[allow(clippy::too_many_arguments)] // one student's whole context
async fn storm_student(
    idx: u32,
    base: String,
    token: String,
    arrive_at: Instant,
    deadline: Instant,
    cfg: Arc<StormConfig>,
    checkers: Arc<Vec<mpsc::UnboundedSender<LiveRequest>>>,
    outcomes: Outcomes,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    media: tokio::runtime::Handle,
) {
    tokio::time::sleep_until(arrive_at.into()).await;
    let fail = |why: String| record(&outcomes, idx, |o| o.failure = Some(why));
    record(&outcomes, idx, |o| o.arrived = Some(Instant::now()));
    let source = (!cfg.source_ips.is_empty()).then(|| cfg.source_ips[idx as usize % cfg.source_ips.len()]);
    let builder = reqwest::Client::builder().pool_max_idle_per_host(cfg.http_connections.max(1)).local_address(source);
    let http = match builder.build() {
        Ok(c) => c,
        Err(e) => return fail(format!("http client: {e}")),
    };
    let cache = tokio::sync::Mutex::new(BrowserCache::default());
    match load_page(&http, &base, &cfg.page, cfg.http_connections, &cache).await {
        Ok(v) => record(&outcomes, idx, |o| {
            o.first = Some(v);
            o.page = Some(Instant::now());
        }),
        Err(e) => return fail(format!("page: {e:#}")),
    }
    // The system check measures the uplink while it checks the camera.
    let probe = {
        let (http, base, token, stats) = (http.clone(), base.clone(), token.clone(), stats.clone());
        tokio::spawn(async move { probe_uplink(&http, &base, &token, &stats).await })
    };
    // Socket.IO, retried as the page's client retries, until the deadline.
    let (client, mut events) = loop {
        match SioClient::connect_from(&base, names::STUDENT_NS, &token_payload(&token), source).await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                stats.error(format!("student connect: {e}"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return fail(format!("connect: {e}")),
        }
    };
    let welcomed = tokio::time::timeout_at(deadline.into(), async {
        while let Some((name, _)) = events.recv().await {
            if name == names::WELCOME {
                return true;
            }
        }
        false
    })
    .await;
    if welcomed != Ok(true) {
        client.close();
        return fail("no welcome".into());
    }
    record(&outcomes, idx, |o| o.welcome = Some(Instant::now()));
    let (_camera_alive, alive) = oneshot::channel::<()>();
    let (connected_tx, connected) = oneshot::channel();
    media.spawn(crate::media::publish(
        client.clone(),
        source.unwrap_or_else(|| crate::media::local_ip_towards(&base)),
        cfg.video.clone(),
        idx,
        stats.clone(),
        stop.clone(),
        alive,
        Some(connected_tx),
    ));
    let heartbeats = {
        let client = client.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    _ = stop.changed() => if *stop.borrow() { return },
                    _ = every.tick() => {
                        if client.emit(names::HEARTBEAT, &crate::sim::healthy_heartbeat()).is_err() { return }
                    }
                }
            }
        })
    };
    if tokio::time::timeout_at(deadline.into(), connected).await.map_or(true, |r| r.is_err()) {
        heartbeats.abort();
        client.close();
        return fail("video link not connected".into());
    }
    let (seen_tx, seen) = oneshot::channel();
    let checker = &checkers[idx as usize % checkers.len()];
    if checker.send(LiveRequest { idx, student_id: format!("s{idx}"), seen: seen_tx }).is_err() {
        return fail("no proctor to see the student".into());
    }
    match tokio::time::timeout_at(deadline.into(), seen).await {
        Ok(Ok(at)) => record(&outcomes, idx, |o| o.live = Some(at)),
        Ok(Err(_)) => fail("the proctor's watch was refused".into()),
        Err(_) => fail("not seen live by the deadline".into()),
    }
    // The page publishes without waiting for the measurement; it is
    // counted once the student is live.
    let probed = probe.await.unwrap_or(0);
    record(&outcomes, idx, |o| o.probe_bytes = probed);
    // The same student loads the page again (a reload, or the next exam
    // in the same browser): what the cache saves.
    match load_page(&http, &base, &cfg.page, cfg.http_connections, &cache).await {
        Ok(v) => record(&outcomes, idx, |o| o.revisit = Some(v)),
        Err(e) => stats.error(format!("revisit: {e:#}")),
    }
    // Stay connected, as a student in the exam does, until the storm ends.
    while !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            ev = events.recv() => if ev.is_none() { break },
        }
    }
    heartbeats.abort();
    client.close();
}

/// Runs one storm of `cfg.students` against `target`.
pub async fn run_storm(target: &Target, cfg: &StormConfig, media: &tokio::runtime::Handle) -> Result<StormResult> {
    let roster = target
        .roster(cfg.students, cfg.proctors.max(1), vigil_proto::PrivacyTier::FlaggedFrames)
        .await
        .context("creating the storm's exam")?;
    let stats = Stats::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let cfg = Arc::new(cfg.clone());
    // The proctors connect first: they are in the dashboard before the exam starts.
    let mut checkers = Vec::new();
    let mut proctor_tasks = Vec::new();
    for (i, token) in roster.proctors.iter().enumerate() {
        let base = target.proctor_base(i as u32).to_owned();
        let (client, mut events) = SioClient::connect(&base, names::PROCTOR_NS, &token_payload(token))
            .await
            .with_context(|| format!("proctor {i} connects"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        checkers.push(tx);
        let (_alive_tx, alive) = oneshot::channel::<()>();
        media.spawn(crate::media::watch_arrivals(
            client.clone(),
            crate::media::local_ip_towards(&base),
            cfg.slots.max(1) as usize,
            rx,
            stats.clone(),
            stop_rx.clone(),
            alive,
        ));
        // The dashboard's feed (presence, scores) is read and dropped.
        proctor_tasks.push(tokio::spawn(async move {
            let _keep = _alive_tx;
            while events.recv().await.is_some() {}
            client.close();
        }));
    }
    let checkers = Arc::new(checkers);
    let outcomes: Outcomes = Arc::new(std::sync::Mutex::new(vec![Outcome::default(); cfg.students as usize]));
    let start = Instant::now() + Duration::from_millis(500);
    let deadline = start + cfg.window + cfg.grace;
    let mut tasks = Vec::new();
    for (idx, offset) in arrival_offsets(cfg.students, cfg.window, cfg.seed).into_iter().enumerate() {
        let idx = idx as u32;
        tasks.push(tokio::spawn(storm_student(
            idx,
            target.student_base(idx).to_owned(),
            roster.students[idx as usize].clone(),
            start + offset,
            deadline,
            cfg.clone(),
            checkers.clone(),
            outcomes.clone(),
            stats.clone(),
            stop_rx.clone(),
            media.clone(),
        )));
    }
    // Second by second until every student is live or failed (and has
    // made its revisit), or the deadline.
    let pids: Vec<u32> = target.nodes.iter().filter_map(|n| n.pid).collect();
    let server_cpu = || -> Option<f64> {
        (!pids.is_empty()).then(|| pids.iter().filter_map(|p| report::process_cpu_seconds(*p)).sum())
    };
    tokio::time::sleep_until(start.into()).await;
    let cpu0 = server_cpu();
    let self0 = report::process_cpu_seconds(std::process::id());
    let bar = cfg.show_progress.then(|| report::progress(cfg.students, cfg.window + cfg.grace));
    let mut timeline = Vec::new();
    let mut last_cpu = cpu0;
    let mut last_t = Instant::now();
    let mut rss_peak: Option<u64> = None;
    let storm_end = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = Instant::now();
        let cpu = server_cpu();
        let cores = last_cpu.zip(cpu).map(|(a, b)| (b - a) / now.duration_since(last_t).as_secs_f64());
        (last_cpu, last_t) = (cpu, now);
        let rss = target.nodes.iter().map(|n| n.pid.and_then(report::process_rss_bytes)).sum::<Option<u64>>();
        rss_peak = rss_peak.max(rss);
        let (arrived, live, done) = {
            let all = outcomes.lock().unwrap_or_else(|e| e.into_inner());
            let arrived = all.iter().filter(|o| o.arrived.is_some()).count() as u32;
            let live = all.iter().filter(|o| o.live.is_some()).count() as u32;
            let done = all.iter().filter(|o| o.failure.is_some() || o.revisit.is_some()).count() as u32;
            (arrived, live, done)
        };
        timeline.push(TimelinePoint {
            t_s: now.duration_since(start).as_secs_f64(),
            server_cpu_cores: cores,
            arrived,
            live,
        });
        if let Some(b) = &bar {
            b.set_position(now.duration_since(start).as_millis() as u64);
            b.set_message(format!("{arrived} arrived, {live} live"));
        }
        if done == cfg.students || now >= deadline + Duration::from_secs(5) {
            break now;
        }
    };
    if let Some(b) = bar {
        b.finish();
    }
    let wall = storm_end.duration_since(start).as_secs_f64();
    let cpu_mean = cpu0.zip(server_cpu()).map(|(a, b)| (b - a) / wall);
    let self_cpu = self0.zip(report::process_cpu_seconds(std::process::id())).map_or(0.0, |(a, b)| (b - a) / wall);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    for t in proctor_tasks {
        t.abort();
    }
    let all = outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for o in &all {
        if o.live.is_none() {
            *failures.entry(o.failure.clone().unwrap_or_else(|| "unfinished".into())).or_default() += 1;
        }
    }
    let ms = |pick: fn(&Outcome) -> Option<Instant>| -> Option<Quantiles> {
        let mut v: Vec<f64> = all
            .iter()
            .filter_map(|o| Some(pick(o)?.saturating_duration_since(o.arrived?).as_secs_f64() * 1000.0))
            .collect();
        quantiles(&mut v)
    };
    let visits = |pick: fn(&Outcome) -> Option<Visit>, f: fn(&Visit) -> f64| -> Vec<f64> {
        all.iter().filter_map(|o| pick(o).map(|v| f(&v))).collect()
    };
    let revisits = visits(|o| o.revisit, |_| 1.0).len().max(1) as f64;
    Ok(StormResult {
        students: cfg.students,
        window_s: cfg.window.as_secs_f64(),
        live: all.iter().filter(|o| o.live.is_some()).count() as u32,
        failures,
        storm_s: wall,
        server_cpu_cores_mean: cpu_mean,
        server_cpu_cores_peak: timeline.iter().filter_map(|p| p.server_cpu_cores).reduce(f64::max),
        server_rss_bytes: rss_peak,
        loadgen_cpu_cores_mean: self_cpu,
        first_visit_bytes: Spread::of(&visits(|o| o.first, |v| v.bytes as f64)),
        first_visit_requests: Spread::of(&visits(|o| o.first, |v| f64::from(v.requests))),
        revisit_bytes: Spread::of(&visits(|o| o.revisit, |v| v.bytes as f64)),
        revisit_requests: Spread::of(&visits(|o| o.revisit, |v| f64::from(v.requests))),
        revisit_from_cache: visits(|o| o.revisit, |v| f64::from(v.from_cache)).iter().sum::<f64>() / revisits,
        revisit_not_modified: visits(|o| o.revisit, |v| f64::from(v.not_modified)).iter().sum::<f64>() / revisits,
        uplink_probe_bytes: Spread::of(
            &all.iter().filter(|o| o.page.is_some()).map(|o| o.probe_bytes as f64).collect::<Vec<_>>(),
        ),
        page_ms: ms(|o| o.page),
        welcome_ms: ms(|o| o.welcome),
        join_to_live_ms: ms(|o| o.live),
        timeline,
        errors: stats.errors.lock().map(|e| e.clone()).unwrap_or_default(),
    })
}

/// Exact quantiles of a few thousand samples (nearest rank).
fn quantiles(v: &mut [f64]) -> Option<Quantiles> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Quantiles { p50: at(0.50), p95: at(0.95), p99: at(0.99), max: v[v.len() - 1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_fill_the_window_in_order_and_repeat_with_the_seed() {
        let w = Duration::from_secs(60);
        let a = arrival_offsets(1000, w, 7);
        assert_eq!(a.len(), 1000);
        assert!(a.windows(2).all(|p| p[0] <= p[1]));
        assert!(a.iter().all(|d| *d <= w));
        // Uniform: about a tenth in each tenth of the window.
        let first_tenth = a.iter().filter(|d| **d < w / 10).count();
        assert!((60..=140).contains(&first_tenth), "{first_tenth}");
        assert_eq!(a, arrival_offsets(1000, w, 7));
        assert_ne!(a, arrival_offsets(1000, w, 8));
    }

    #[test]
    fn the_page_names_its_scripts_styles_and_workers() {
        let html = r#"<!doctype html><html><head>
            <script type="module" crossorigin src="/student/assets/index-oyuUHErj.js"></script>
            <link rel="stylesheet" crossorigin href="/student/assets/index-Bz2ya0Gn.css">
            <link rel="icon" href="data:,"><link rel="help" href="https://example.org/x.js">
            <script src="./assets/extra.js"></script></head></html>"#;
        assert_eq!(
            page_assets(html, "/student/"),
            ["/student/assets/index-oyuUHErj.js", "/student/assets/extra.js", "/student/assets/index-Bz2ya0Gn.css"]
        );
        let js = r#"new Worker(new URL("/student/assets/inference.worker-Dh50nNCx.js",import.meta.url),{type:"module"});
            const o=""+new URL("assets/objects.worker-BrZL8-pN.js",import.meta.url).href; "assets/logo.svg"; "assets/.js""#;
        assert_eq!(
            script_refs(js, "/student/"),
            ["/student/assets/inference.worker-Dh50nNCx.js", "/student/assets/objects.worker-BrZL8-pN.js"]
        );
    }

    #[test]
    fn models_follow_the_manifest() {
        let file = serde_json::json!({ "bytes": 1 });
        let manifest = serde_json::json!({
            "layout": 6,
            "groups": { "face": "face-1a", "objects": "objects-2b", "tfjs": "tfjs-3c", "wasm": "wasm-4d", "voice": "voice-5e" },
            "files": { "face/face_landmarker.task": file, "face/face_detector.tflite": file,
                       "objects/centernet.json": file, "objects/centernet.bin": file,
                       "voice/silero_vad_v5.onnx": file,
                       "wasm/vision_wasm_module_internal.wasm": file, "wasm/vision_wasm_module_internal.js": file,
                       "wasm/vision_wasm_nosimd_internal.wasm": file, "tfjs/tfjs-backend-wasm-simd.wasm": file,
                       "tfjs/tfjs-backend-wasm.wasm": file }
        });
        let paths = model_paths(&manifest, "/s/").expect("a manifest");
        assert_eq!(
            paths,
            [
                "/s/models/wasm-4d/vision_wasm_module_internal.wasm",
                "/s/models/wasm-4d/vision_wasm_module_internal.js",
                "/s/models/face-1a/face_landmarker.task",
                "/s/models/objects-2b/centernet.json",
                "/s/models/objects-2b/centernet.bin",
                "/s/models/tfjs-3c/tfjs-backend-wasm-simd.wasm",
            ]
        );
        assert!(model_paths(&serde_json::json!({}), "/s/").is_err());
        let mut no_dir = manifest.clone();
        no_dir["groups"].as_object_mut().expect("groups").remove("face");
        assert!(model_paths(&no_dir, "/s/").is_err(), "a file whose group has no directory");
    }

    fn headers(pairs: &[(&str, &str)]) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                reqwest::header::HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn the_cache_keeps_immutable_files_and_revalidates_no_cache_ones() {
        let t0 = Instant::now();
        let mut c = BrowserCache::default();
        assert_eq!(c.lookup("/a.js", t0), Lookup::Miss);
        c.store("/a.js", &headers(&[("cache-control", "public, max-age=31536000, immutable")]), None, t0);
        assert_eq!(c.lookup("/a.js", t0 + Duration::from_secs(86_400)), Lookup::Fresh);
        c.store(
            "/m.bin",
            &headers(&[("cache-control", "no-cache"), ("last-modified", "Sun, 29 Nov 2026 17:00:00 GMT")]),
            None,
            t0,
        );
        assert_eq!(
            c.lookup("/m.bin", t0),
            Lookup::Revalidate { etag: None, last_modified: Some("Sun, 29 Nov 2026 17:00:00 GMT".into()) }
        );
        // Stale after max-age, then fresh again once a 304 says so.
        c.store("/s.css", &headers(&[("cache-control", "max-age=60"), ("etag", "\"x\"")]), Some("body".into()), t0);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(c.lookup("/s.css", later), Lookup::Revalidate { etag: Some("\"x\"".into()), last_modified: None });
        c.refreshed("/s.css", later);
        assert_eq!(c.lookup("/s.css", later), Lookup::Fresh);
        assert_eq!(c.text("/s.css"), Some("body"));
        // Neither freshness nor a validator: fetched again; no-store: not kept.
        c.store("/plain", &headers(&[]), None, t0);
        assert_eq!(c.lookup("/plain", t0), Lookup::Miss);
        c.store("/a.js", &headers(&[("cache-control", "no-store")]), None, t0);
        assert_eq!(c.lookup("/a.js", t0), Lookup::Miss);
    }

    #[test]
    fn bodies_decode_as_sent() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"hello gzip").expect("write");
        assert_eq!(decode(&gz.finish().expect("gzip"), Some("gzip")).expect("decodes"), "hello gzip");
        // Node's zlib.brotliCompressSync("hello br").
        let br = [139, 3, 128, 104, 101, 108, 108, 111, 32, 98, 114, 3];
        assert_eq!(decode(&br, Some("br")).expect("decodes"), "hello br");
        assert_eq!(decode(b"plain", None).expect("identity"), "plain");
        assert!(decode(b"x", Some("zstd")).is_err());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let q = quantiles(&mut v).expect("samples");
        assert_eq!((q.p50, q.p95, q.p99, q.max), (50.0, 95.0, 99.0, 100.0));
        assert!(quantiles(&mut []).is_none());
    }
}
