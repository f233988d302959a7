use vigil_proto::UnixMillis;

/// Wall-clock time in Unix milliseconds: the time base of the protocol.
pub fn now_ms() -> UnixMillis {
    // Before 1970 only on a broken clock; treat it as the epoch.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
