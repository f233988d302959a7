//! An idle SFU worker sleeps until it has work. Its own binary, so that the
//! only thread named `vigil-sfu-0` in the process is this test's.

use std::time::{Duration, Instant};

use vigil_sfu::{Sfu, SfuConfig};

/// The thread id of the thread named `name` in this process.
fn thread_named(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim_end() == name).then(|| task.file_name().to_string_lossy().into_owned())
    })
}

/// Times the thread has blocked since it started (each sleep in epoll is one).
fn voluntary_switches(tid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).expect("thread status");
    let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:")).expect("switch count");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[test]
#[cfg(target_os = "linux")]
fn an_idle_worker_sleeps_until_its_next_timer() {
    let (sfu, threads) = Sfu::start(SfuConfig::new("127.0.0.1:0".parse().expect("addr"))).expect("SFU starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    let tid = loop {
        if let Some(tid) = thread_named("vigil-sfu-0") {
            break tid;
        }
        assert!(Instant::now() < deadline, "the SFU thread never appeared");
        std::thread::yield_now();
    };
    let before = voluntary_switches(&tid);
    std::thread::sleep(Duration::from_secs(1));
    let wakes = voluntary_switches(&tid) - before;
    // Its only timer is the router's 250 ms tick: about 4 wake-ups a
    // second. A thread polling its socket every 2 ms (as it once did) wakes
    // several hundred times, and a busy machine can only lower the count.
    assert!(wakes <= 20, "an idle worker woke {wakes} times in a second");
    sfu.shutdown();
    threads.join().expect("the worker stops cleanly");
}
