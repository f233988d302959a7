//! What the `vigil` binary's tests share: running `vigil serve` and its
//! offline commands as an operator would.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// A running `vigil serve`; killed (SIGKILL) when dropped.
pub struct Serving {
    pub child: Child,
    pub url: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cmd serve` on a free port, once it prints its address.
pub fn serve(mut cmd: Command) -> Serving {
    let mut child = cmd
        .args(["serve", "--http", "127.0.0.1:0", "--udp", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("vigil listening on ").map(str::to_owned));
    let Some(url) = url else {
        let _ = child.kill();
        panic!("vigil serve stopped before printing its address");
    };
    Serving { child, url }
}

/// Runs `cmd args`, which must succeed.
pub fn run(mut cmd: Command, args: &[&str]) -> Output {
    let out = cmd.args(args).output().expect("vigil runs");
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The token of a join link `vigil link` printed.
pub fn token_of(link: &Output) -> String {
    let text = String::from_utf8_lossy(&link.stdout);
    text.split("token=").nth(1).and_then(|t| t.split_whitespace().next()).expect("a token in the link").to_owned()
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as i64
}

/// exam e1's snapshot, as a proctor asks for it over HTTP.
pub async fn snapshot(url: &str, proctor: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{url}/api/v1/exams/e1/snapshot"))
        .bearer_auth(proctor)
        .send()
        .await
        .expect("the server answers");
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.expect("a snapshot")
}

/// A student's score sequence in a snapshot.
pub fn seq_of(snapshot: &Value, student: &str) -> u64 {
    snapshot["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|v| v["student"]["id"] == student)
        .and_then(|v| v["score"]["seq"].as_u64())
        .unwrap_or_else(|| panic!("{student} in {snapshot}"))
}
