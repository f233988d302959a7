//! Pipeline throughput: incidents per second through validation, dedupe,
//! scoring and the durable group-commit store, with no sockets in the way.
//!
//! `cargo run --release -p vigil-server --example pipeline_bench -- [students] [incidents-per-student] [out.json]`

use std::sync::Arc;
use std::time::Instant;

use vigil_core::ledger::Limits;
use vigil_core::rate::RateLimit;
use vigil_proto::events::{AddPerson, CreateExam, IncidentAck, IncidentReport};
use vigil_proto::{ExamSettings, ExamWindow, IncidentKind, Role};
use vigil_server::clock::now_ms;
use vigil_server::{Server, ServerConfig, ingest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let students: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let per_student: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let out = args.get(3).cloned();

    let dir = tempfile::tempdir()?;
    let mut config = ServerConfig::new(dir.path().to_owned(), "127.0.0.1:0".parse()?);
    // Measure the pipeline, not the per-student flood limit.
    config.limits = Limits { incident_rate: RateLimit { burst: 1_000_000, per_second: 1e6 }, ..Limits::default() };
    let server = Server::bind(config).await?;
    let app = server.app().clone();
    let now = now_ms();
    let settings = ExamSettings::with_window(ExamWindow { opens_at: now - 3_600_000, closes_at: now + 3_600_000 });
    app.admin
        .create_exam(CreateExam { id: Some("bench".into()), title: "bench".into(), settings: Some(settings) })
        .await?;
    for i in 0..students {
        app.admin
            .add_person("bench", Role::Student, AddPerson { id: Some(format!("s{i}")), name: format!("S {i}") })
            .await?;
    }
    let rt = app.exams.get("bench").await?.ok_or("exam")?;
    let mut cells = Vec::new();
    for i in 0..students {
        cells.push(app.exams.student(&rt, &format!("s{i}")).await?.ok_or("student")?);
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, cell) in cells.into_iter().enumerate() {
        let (app, rt) = (app.clone(), Arc::clone(&rt));
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            for n in 0..per_student {
                let report = IncidentReport {
                    id: format!("s{i}-{n}"),
                    seq: n as u64 + 1,
                    kind: IncidentKind::ALL[n % 9],
                    started_at: now_ms() - 10,
                    ended_at: None,
                    confidence: Some(0.8),
                    detail: None,
                };
                if matches!(ingest::report(&app, &rt, &cell, report).await, IncidentAck::Accepted { .. }) {
                    accepted += 1;
                }
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = app.store.writer_stats();
    let result = serde_json::json!({
        "bench": "pipeline",
        "students": students,
        "incidents": accepted,
        "seconds": secs,
        "incidents_per_second": accepted as f64 / secs,
        "group_commits": stats.commits,
        "writes_per_commit": stats.writes as f64 / stats.commits.max(1) as f64,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    if let Some(path) = out {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)?;
    }
    assert_eq!(accepted, students * per_student, "every incident must be accepted");
    Ok(())
}
