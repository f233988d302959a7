//! CPU-time clocks. Wall-clock time on a shared 2-core VM includes time other
//! tenants steal from us, so decode cost is measured in CPU time instead.

use std::io;
use std::time::Duration;

fn timespec_to_duration(ts: libc::timespec) -> Duration {
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

fn clock(id: libc::clockid_t) -> io::Result<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(timespec_to_duration(ts))
}

/// CPU time consumed by the calling thread (user + system), nanosecond
/// resolution; used to time individual decode calls.
pub fn thread_cpu_time() -> io::Result<Duration> {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Whole-process resource usage: CPU time of all threads plus context
/// switches, the latter to spot a noisy neighbour preempting us.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessUsage {
    pub user: Duration,
    pub system: Duration,
    pub voluntary_ctx_switches: i64,
    pub involuntary_ctx_switches: i64,
}

impl ProcessUsage {
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

pub fn process_usage() -> io::Result<ProcessUsage> {
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.clamp(0, 999_999) as u32) * 1000);
    Ok(ProcessUsage {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
        voluntary_ctx_switches: ru.ru_nvcsw,
        involuntary_ctx_switches: ru.ru_nivcsw,
    })
}
