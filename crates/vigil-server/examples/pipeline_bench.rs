//! Pipeline throughput: incidents per second through validation, dedupe,
//! scoring and the durable group-commit store, with no sockets in the way.
//!
//! `cargo run --release -p vigil-server --example pipeline_bench -- [students] [incidents-per-student] [out.json]`
//!
//! On PostgreSQL: `VIGIL_TEST_DATABASE=postgres://user@host/postgres` (a
//! database of the run's own is made there, as for the tests).

use std::sync::Arc;
use std::time::Instant;

use vigil_core::ledger::Limits;
use vigil_core::rate::RateLimit;
use vigil_proto::events::{AddPerson, CreateExam, IncidentAck, IncidentReport};
use vigil_proto::{ExamId, ExamSettings, ExamWindow, IncidentKind};
use vigil_server::clock::{Clock, SystemClock};
use vigil_server::{Server, ServerConfig};

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
    config.database = vigil_store::testing::database_for(dir.path()).await;
    let database = config.database.kind();
    let server = Server::bind(config).await?;
    let (service, admin) = (server.service().clone(), server.admin().clone());
    let exam: ExamId = "bench".parse()?;
    let now = SystemClock.now_ms();
    let settings = ExamSettings::with_window(ExamWindow { opens_at: now - 3_600_000, closes_at: now + 3_600_000 });
    admin.create_exam(CreateExam { id: Some(exam.clone()), title: "bench".into(), settings: Some(settings) }).await?;
    for i in 0..students {
        admin.add_student(&exam, AddPerson { id: Some(format!("s{i}")), name: format!("S {i}") }).await?;
    }
    let rt = service.exams().get(&exam).await?.ok_or("exam")?;
    let mut sessions = Vec::new();
    for i in 0..students {
        let found = service.exams().student(&rt, &format!("s{i}").parse()?).await?.ok_or("student")?;
        sessions.push(service.session_for(rt.clone(), found.cell));
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, sess) in sessions.into_iter().enumerate() {
        let service = Arc::clone(&service);
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0usize;
            for n in 0..per_student {
                let report = IncidentReport {
                    id: format!("s{i}-{n}").parse().expect("ids in the grammar"),
                    seq: n as u64 + 1,
                    kind: IncidentKind::ALL[n % 9],
                    started_at: SystemClock.now_ms() - 10,
                    ended_at: None,
                    confidence: Some(0.8),
                    detail: None,
                };
                if matches!(service.report_incident(&sess, report).await, IncidentAck::Accepted { .. }) {
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
    let stats = service.store().writer_stats();
    let result = serde_json::json!({
        "bench": "pipeline",
        "database": database,
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
