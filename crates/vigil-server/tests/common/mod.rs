//! A real vigil server in-process, on a [`ManualClock`], spoken to over
//! real Socket.IO (vigil-load's client) and HTTP.
//!
//! Time moves only when a test calls [`Harness::advance`]; every timer of
//! the service (coalescer trailing edge, presence tick) sleeps on that clock.

#![allow(dead_code)] // each test file uses part of the harness

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use vigil_load::sio::SioClient;
use vigil_proto::events::{AddPerson, CreateExam, IssueLink, names};
use vigil_proto::{ExamId, ExamSettings, ExamWindow, Role, UnixMillis};
use vigil_server::clock::{Clock, ManualClock};
use vigil_server::{Server, ServerConfig};

/// Start of simulated time: a fixed, recent instant.
pub const T0: UnixMillis = 1_795_000_000_000;
/// How long a test waits for an event that must come (real time; generous
/// for a loaded machine, never reached when the server works).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Harness {
    pub clock: ManualClock,
    pub base: String,
    pub data_dir: PathBuf,
    pub exam: ExamId,
    /// The running server's service, for what a test must drive in process
    /// (a message that no socket could still deliver).
    pub service: std::sync::Arc<vigil_server::service::Service>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

pub struct Conn {
    pub client: SioClient,
    pub events: mpsc::UnboundedReceiver<(String, Value)>,
}

impl Conn {
    /// The next event named `name`, skipping others (returned in `skipped`).
    pub async fn next_named(&mut self, name: &str) -> (Value, Vec<(String, Value)>) {
        self.next_matching(&format!("{name} event"), |n, _| n == name).await
    }

    /// The next event matching `pred`, with everything skipped before it.
    pub async fn next_matching(
        &mut self,
        what: &str,
        pred: impl Fn(&str, &Value) -> bool,
    ) -> (Value, Vec<(String, Value)>) {
        let mut skipped = Vec::new();
        loop {
            let (n, v) = tokio::time::timeout(PATIENCE, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}; saw {skipped:?}"))
                .expect("the connection closed");
            if pred(&n, &v) {
                return (v, skipped);
            }
            skipped.push((n, v));
        }
    }

    pub async fn request(&self, event: &str, data: Value) -> Value {
        self.client.emit_with_ack(event, &data, PATIENCE).await.expect("an ack")
    }
}

impl Harness {
    pub async fn start(students: &[&str]) -> Harness {
        Harness::start_configured(students, |_| {}).await
    }

    /// A fresh server whose configuration `configure` adjusts first.
    pub async fn start_configured(students: &[&str], configure: impl FnOnce(&mut ServerConfig)) -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().to_owned();
        let mut h = Harness::start_with(path, ManualClock::new(T0), configure).await;
        h._dir = Some(dir);
        h.setup(students).await;
        h
    }

    /// A server on `data_dir` (which may hold an earlier server's state).
    pub async fn start_in(data_dir: PathBuf, clock: ManualClock) -> Harness {
        Harness::start_with(data_dir, clock, |_| {}).await
    }

    async fn start_with(data_dir: PathBuf, clock: ManualClock, configure: impl FnOnce(&mut ServerConfig)) -> Harness {
        let mut config = ServerConfig::new(data_dir.clone(), "127.0.0.1:0".parse().expect("an address"));
        config.clock = Arc::new(clock.clone());
        config.admin_token = Some("admin".into());
        config.database = vigil_store::testing::database_for(&data_dir).await;
        configure(&mut config);
        let server = Server::bind(config).await.expect("the server binds");
        let base = format!("http://{}", server.local_addr());
        let service = server.service().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        Harness {
            clock,
            base,
            data_dir,
            exam: "exam-1".parse().expect("an id"),
            service,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
        }
    }

    /// A request to `/api/v1{path}` with an optional bearer token and JSON
    /// body, whatever its outcome: (status, JSON body or null).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}/api/v1{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.expect("a response");
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth("admin")
            .json(&body)
            .send()
            .await
            .expect("admin request");
        assert!(res.status().is_success(), "admin {path}: {}", res.status());
        res.json().await.expect("json")
    }

    async fn setup(&mut self, students: &[&str]) {
        let exam = self.exam.clone();
        self.add_exam(exam.as_str(), students).await;
    }

    /// Creates another exam open now, with `students` and the proctor "pat".
    pub async fn add_exam(&self, exam: &str, students: &[&str]) {
        let mut settings =
            ExamSettings::with_window(ExamWindow { opens_at: T0 - 3_600_000, closes_at: T0 + 3 * 3_600_000 });
        settings.stall_after_s = 10;
        let id: ExamId = exam.parse().expect("an exam id");
        let create = CreateExam { id: Some(id.clone()), title: "Algebra".into(), settings: Some(settings) };
        self.admin(reqwest::Method::POST, "/exams", serde_json::to_value(create).expect("json")).await;
        for s in students {
            let add = AddPerson { id: Some((*s).into()), name: format!("Student {s}") };
            self.admin(reqwest::Method::POST, &format!("/exams/{id}/students"), json!(add)).await;
        }
        let add = AddPerson { id: Some("pat".into()), name: "Pat Proctor".into() };
        self.admin(reqwest::Method::POST, &format!("/exams/{id}/proctors"), json!(add)).await;
    }

    pub async fn token(&self, role: Role, subject: &str) -> String {
        self.token_in(self.exam.as_str(), role, subject).await
    }

    /// A join token for `subject` on `exam`.
    pub async fn token_in(&self, exam: &str, role: Role, subject: &str) -> String {
        let req = IssueLink { role, subject: subject.into(), ttl_s: None, may_configure: None };
        let link = self.admin(reqwest::Method::POST, &format!("/exams/{exam}/links"), json!(req)).await;
        link["token"].as_str().expect("a token").to_owned()
    }

    pub async fn student(&self, id: &str) -> Conn {
        let token = self.token(Role::Student, id).await;
        self.student_with(&token).await
    }

    /// A student connection on `token`, after its welcome.
    pub async fn student_with(&self, token: &str) -> Conn {
        let (client, events) =
            SioClient::connect(&self.base, names::STUDENT_NS, &json!({ "token": token })).await.expect("connects");
        let mut conn = Conn { client, events };
        conn.next_named(names::WELCOME).await;
        conn
    }

    pub async fn proctor(&self) -> Conn {
        let token = self.token(Role::Proctor, "pat").await;
        let (client, events) =
            SioClient::connect(&self.base, names::PROCTOR_NS, &json!({ "token": token })).await.expect("connects");
        let conn = Conn { client, events };
        // A snapshot round trip proves the namespace's handlers are in place.
        conn.request(names::SNAPSHOT, Value::Null).await;
        conn
    }

    pub fn now(&self) -> UnixMillis {
        self.clock.now_ms()
    }

    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Stops the server and waits until it has let go of its data directory.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server stops cleanly");
        }
    }
}

pub fn incident(id: &str, seq: u64, kind: &str, at: UnixMillis) -> Value {
    json!({ "id": id, "seq": seq, "kind": kind, "started_at": at })
}

/// A PDF's text as `pdftotext -layout` reads it (Debian's poppler-utils,
/// which scripts/test installs).
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("pdftotext")
        .args(["-layout", "-", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("pdftotext (poppler-utils) is needed to read the PDF: {e}"));
    child.stdin.take().expect("stdin").write_all(pdf).expect("the PDF written to pdftotext");
    let out = child.wait_with_output().expect("pdftotext ran");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
