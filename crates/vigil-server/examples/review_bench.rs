//! Review after the exam, over real HTTP: the CSV of a whole exam, the
//! review queue, and the record of a student with thousands of incidents.
//!
//! `cargo run --release -p vigil-server --example review_bench -- [students] [incidents-per-student] [heavy-incidents] [out.json]`
//!
//! Writes the JSON to `out.json` and a latency plot beside it (`.svg`).
//!
//! With `--serve WEB_DIR` it seeds the same exam, serves the web apps in
//! WEB_DIR (the dashboard's build under `dashboard/dist`), prints one line
//! `{"serving":{"url":…,"token":…}}` and runs until its standard input
//! closes: `web/dashboard/bench/review-page.mjs` measures the review page in
//! a browser against it.

use std::time::{Duration, Instant};

use vigil_core::ledger::Limits;
use vigil_core::rate::RateLimit;
use vigil_proto::events::{AddPerson, CreateExam, IncidentAck, IncidentReport, IssueLink};
use vigil_proto::{ExamId, ExamSettings, ExamWindow, IncidentKind, Role};
use vigil_server::clock::{Clock, SystemClock};
use vigil_server::{Server, ServerConfig};

/// Requests of one kind, and their latencies in ms.
struct Series {
    name: &'static str,
    ms: Vec<f64>,
}

impl Series {
    fn quantile(&self, q: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 - 1.0) * q).round() as usize]
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().collect();
    let serve = match args.iter().position(|a| a == "--serve") {
        None => None,
        Some(i) => {
            let dir = args.get(i + 1).cloned().ok_or("--serve needs the web apps' directory")?;
            args.drain(i..i + 2);
            Some(std::path::PathBuf::from(dir))
        }
    };
    let students: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let per_student: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let heavy: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let out = args.get(4).cloned();

    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path().to_owned(), "127.0.0.1:0".parse()?);
    config.limits = Limits { incident_rate: RateLimit { burst: 1_000_000, per_second: 1e6 }, ..Limits::default() };
    config.web_dir = serve.clone();
    let server = Server::bind(config).await?;
    let base = format!("http://{}", server.local_addr());
    let (service, admin) = (server.service().clone(), server.admin().clone());
    tokio::spawn(server.run(std::future::pending::<()>()));
    let exam: ExamId = "bench".parse()?;
    let now = SystemClock.now_ms();
    // Incidents are spread over the window behind now.
    let settings = ExamSettings::with_window(ExamWindow { opens_at: now - 4 * 3_600_000, closes_at: now + 3_600_000 });
    admin.create_exam(CreateExam { id: Some(exam.clone()), title: "bench".into(), settings: Some(settings) }).await?;
    for i in 0..=students {
        let id = if i == students { "heavy".to_owned() } else { format!("s{i}") };
        admin.add_student(&exam, AddPerson { id: Some(id.clone()), name: format!("Student {id}") }).await?;
    }
    admin.add_proctor(&exam, AddPerson { id: Some("pat".into()), name: "Pat".into() }).await?;
    let token = admin
        .issue_link(&exam, IssueLink { role: Role::Proctor, subject: "pat".into(), ttl_s: None, may_configure: None })
        .await?
        .token;
    let rt = service.exams().get(&exam).await?.ok_or("exam")?;
    let fill = |id: String, count: usize| {
        let (service, rt) = (service.clone(), rt.clone());
        async move {
            let cell =
                service.exams().student(&rt, &id.parse().expect("an id")).await.ok().flatten().expect("a student").cell;
            let sess = service.session_for(rt, cell);
            let span = 4 * 3_600_000 / count.max(1) as i64;
            for n in 0..count {
                let report = IncidentReport {
                    id: format!("{id}-{n}").parse().expect("ids in the grammar"),
                    seq: n as u64 + 1,
                    kind: IncidentKind::ALL[n % 9],
                    started_at: now - 4 * 3_600_000 + 1_000 + n as i64 * span,
                    ended_at: None,
                    confidence: Some(0.8),
                    detail: None,
                };
                let ack = service.report_incident(&sess, report).await;
                assert!(matches!(ack, IncidentAck::Accepted { .. }), "{ack:?}");
            }
        }
    };
    let mut tasks: Vec<_> = (0..students).map(|i| tokio::spawn(fill(format!("s{i}"), per_student))).collect();
    tasks.push(tokio::spawn(fill("heavy".into(), heavy)));
    for t in tasks {
        t.await?;
    }

    if serve.is_some() {
        println!("{}", serde_json::json!({ "serving": { "url": base, "token": token } }));
        // Until the measuring script closes our standard input.
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await??;
        return Ok(());
    }

    let client = reqwest::Client::new();
    let get = |path: String| {
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        async move {
            let started = Instant::now();
            let res = client.get(format!("{base}/api/v1/exams/bench{path}")).bearer_auth(&token).send().await?;
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let bytes = res.bytes().await?;
            Ok::<_, reqwest::Error>((started.elapsed().as_secs_f64() * 1e3, bytes.len()))
        }
    };
    // Within the per-proctor review budget (10 a second after the burst).
    let pace = Duration::from_millis(110);
    let mut series = Vec::new();
    let mut sizes = serde_json::Map::new();
    for (name, path, runs) in [
        ("record of a student with many incidents", "/students/heavy/review".to_owned(), 40),
        ("review queue", "/review".to_owned(), 10),
        ("CSV of the exam", "/export.csv".to_owned(), 10),
    ] {
        let mut ms = Vec::new();
        for _ in 0..runs {
            let (took, bytes) = get(path.clone()).await?;
            ms.push(took);
            sizes.insert(name.into(), bytes.into());
            tokio::time::sleep(pace).await;
        }
        series.push(Series { name, ms });
    }
    let summary: Vec<serde_json::Value> = series
        .iter()
        .map(|s| {
            serde_json::json!({
                "request": s.name, "runs": s.ms.len(), "p50_ms": s.quantile(0.5), "p95_ms": s.quantile(0.95),
                "max_ms": s.quantile(1.0), "bytes": sizes[s.name],
            })
        })
        .collect();
    let result = serde_json::json!({
        "bench": "review",
        "students": students + 1,
        "incidents_per_student": per_student,
        "heavy_student_incidents": heavy,
        "requests": summary,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    if let Some(path) = out {
        std::fs::write(&path, serde_json::to_string_pretty(&result)?)?;
        std::fs::write(std::path::Path::new(&path).with_extension("svg"), plot(&series))?;
    }
    Ok(())
}

/// Each request's latencies as dots on one row per kind, with p50 and p95 ticks.
fn plot(series: &[Series]) -> String {
    let max = series.iter().flat_map(|s| s.ms.iter().copied()).fold(1.0, f64::max) * 1.1;
    let (w, left, row) = (720.0, 260.0, 60.0);
    let x = |ms: f64| left + (w - left - 20.0) * ms / max;
    let mut svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{}' font-family='sans-serif' font-size='12'>",
        row * (series.len() as f64 + 1.0)
    );
    for (i, s) in series.iter().enumerate() {
        let y = row * (i as f64 + 0.7);
        svg += &format!("<text x='8' y='{}'>{}</text>", y + 4.0, s.name);
        for ms in &s.ms {
            svg += &format!("<circle cx='{:.1}' cy='{y}' r='3' fill='#4a7ab8' fill-opacity='0.5'/>", x(*ms));
        }
        for (q, label) in [(0.5, "p50"), (0.95, "p95")] {
            let v = s.quantile(q);
            svg += &format!(
                "<line x1='{0:.1}' x2='{0:.1}' y1='{1}' y2='{2}' stroke='#c33'/><text x='{0:.1}' y='{3}' text-anchor='middle'>{label} {v:.0} ms</text>",
                x(v),
                y - 12.0,
                y + 12.0,
                y + 26.0
            );
        }
    }
    let axis_y = row * (series.len() as f64 + 0.4);
    svg += &format!(
        "<text x='{left}' y='{axis_y}'>0 ms</text><text x='{}' y='{axis_y}' text-anchor='end'>{max:.0} ms</text></svg>",
        w - 20.0
    );
    svg
}
