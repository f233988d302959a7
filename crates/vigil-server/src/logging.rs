//! How vigil logs: one set-up for the binary and for the test that checks
//! what the logs hold.
//!
//! Join tokens must never reach a log, at any level an operator can choose.
//! Some libraries print what clients send at debug and trace: socketioxide
//! logs each handshake's `auth` object (the join token) at debug, engine.io
//! and HTTP/2 print packets and frames. So below `info`, only vigil's own
//! crates log, whatever `RUST_LOG` says; the rest are capped at `info`.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, fmt};

/// Used when `RUST_LOG` is unset.
pub const DEFAULT_DIRECTIVES: &str = "info,sqlx=warn,socketioxide=warn,engineioxide=warn";

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether an event may be logged at all, whatever the directives allow:
/// `info` and above from anyone, everything from vigil's own crates (which
/// never log a token; `tests/logging.rs` checks it at trace).
pub fn within_ceiling(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::INFO || meta.target().starts_with("vigil")
}

/// `RUST_LOG`, or [`DEFAULT_DIRECTIVES`].
pub fn directives_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_DIRECTIVES))
}

/// A formatting layer writing to `writer`, filtered by `directives` under
/// the ceiling.
pub fn layer<S, W>(writer: W, format: LogFormat, directives: EnvFilter) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = directives.and(filter_fn(within_ceiling));
    match format {
        LogFormat::Text => fmt::layer().with_writer(writer).with_filter(filter).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(writer).with_filter(filter).boxed(),
    }
}

/// Installs the process's logger (stderr); a second call does nothing.
pub fn init(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry().with(layer(std::io::stderr, format, directives_from_env())).try_init();
}
