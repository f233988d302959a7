//! The `vigil` binary: configuration, wiring and the admin CLI.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use vigil_proto::events::{AddPerson, CreateExam, IssueLink, RegisterLtiPlatform};
use vigil_proto::{
    Accommodations, DetectorThresholds, ErrorBody, ExamId, ExamSettings, ExamWindow, IncidentKind, Role, StudentId,
};
use vigil_server::admin::{Admin, AdminError};
use vigil_server::auth::Keys;
use vigil_server::clock::{Clock, SystemClock};
use vigil_server::{Server, ServerConfig, TlsConfig};

// Every RTP packet and Socket.IO frame allocates somewhere (str0m, tungstenite);
// under load glibc's malloc and free were a tenth of the CPU profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use vigil_store::{BlobLocation, DatabaseLocation, Durability, Store, StoreConfig};

#[derive(Parser, Debug)]
#[command(name = "vigil", version, about = "Live exam proctoring: in-browser inference, a referee server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a demo exam, and print links to open.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Students on the demo roster.
        #[arg(long, default_value_t = 5)]
        students: u32,
    },
    /// Manage exams in the data directory.
    #[command(subcommand)]
    Exam(ExamCommand),
    /// Manage an exam's students.
    #[command(subcommand)]
    Student(PersonCommand),
    /// Manage an exam's proctors.
    #[command(subcommand)]
    Proctor(PersonCommand),
    /// Issue a join link for a student or a proctor.
    Link(LinkArgs),
    /// LTI 1.3: the learning platforms vigil is registered with.
    #[command(subcommand)]
    Lti(LtiCommand),
    /// Set a student's accommodations on the running server, replacing any
    /// they had; they apply at once (extra time, breaks, detectors, thresholds).
    Accommodate(AccommodateArgs),
    /// A student's data rights, through the running server: everything kept
    /// about them (an access request), or all of it deleted (an erasure request).
    #[command(subcommand)]
    Data(DataCommand),
    /// Ask a running server's /healthz (for a container's health check, where
    /// there is no curl): prints the answer, exits 0 only when all is well.
    Health {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Print everything kept about one student of one exam, as JSON.
    Export(StudentOnServer),
    /// Delete everything kept about one student of one exam, their roster entry included.
    Erase(StudentOnServer),
}

#[derive(Args, Debug)]
struct StudentOnServer {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long)]
    exam: ExamId,
    #[arg(long)]
    student: StudentId,
}

/// How to reach the running server's admin API.
#[derive(Args, Debug)]
struct ServerArgs {
    #[command(flatten)]
    data: DataDir,
    /// The running server's base URL.
    #[arg(long, env = "VIGIL_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Admin API token (default: the one generated into <data-dir>/admin.token).
    #[arg(long, env = "VIGIL_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

#[derive(Args, Debug)]
struct AccommodateArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long)]
    exam: ExamId,
    #[arg(long)]
    student: StudentId,
    /// Extra time as a percentage of the exam's duration (0–300).
    #[arg(long, default_value_t = 0)]
    extra_time_pct: u32,
    /// Extra time in minutes (0–1440), on top of the percentage.
    #[arg(long, default_value_t = 0)]
    extra_time_min: u32,
    /// Breaks on top of the exam's (0–20).
    #[arg(long, default_value_t = 0)]
    extra_breaks: u32,
    /// A detector to switch off for this student (repeatable): no_face, looking_away, …
    #[arg(long = "disable", value_parser = parse_kind)]
    disabled: Vec<IncidentKind>,
    /// Milliseconds without a face before no_face (500–60000).
    #[arg(long)]
    no_face_after_ms: Option<u32>,
    /// Milliseconds looking away before looking_away (500–60000).
    #[arg(long)]
    looking_away_after_ms: Option<u32>,
    /// Sideways angle in degrees (head and eyes) beyond which the student looks away (10–80).
    #[arg(long)]
    yaw_limit_deg: Option<u32>,
    /// Up or down angle in degrees (head and eyes) beyond which the student looks away (10–60).
    #[arg(long)]
    pitch_limit_deg: Option<u32>,
    /// A note for proctors (never shown to the student).
    #[arg(long)]
    note: Option<String>,
}

fn parse_kind(s: &str) -> Result<IncidentKind, String> {
    IncidentKind::parse(s).ok_or_else(|| format!("{s:?} is not an incident kind"))
}

#[derive(Subcommand, Debug)]
enum LtiCommand {
    /// Manage platform registrations.
    #[command(subcommand)]
    Platform(PlatformCommand),
}

#[derive(Subcommand, Debug)]
enum PlatformCommand {
    /// Register a platform (an LMS): what it shows when vigil is added as an LTI 1.3 tool.
    Add {
        #[command(flatten)]
        data: DataDir,
        /// The platform's issuer (`iss`), exactly as its id_tokens carry it.
        #[arg(long)]
        issuer: String,
        /// The client id the platform gave vigil.
        #[arg(long)]
        client_id: String,
        /// A deployment id whose launches are accepted; repeat for several.
        #[arg(long = "deployment-id", required = true)]
        deployment_ids: Vec<String>,
        /// The platform's OIDC authentication request URL.
        #[arg(long)]
        auth_login_url: String,
        /// The platform's public keyset (JWKS) URL.
        #[arg(long)]
        jwks_url: String,
        /// The platform's OAuth 2 access token URL.
        #[arg(long)]
        token_url: String,
    },
    /// List registered platforms.
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Args, Debug, Clone)]
struct DataDir {
    /// Where the database, evidence frames and keys live.
    #[arg(long, env = "VIGIL_DATA_DIR", default_value = "./vigil-data")]
    data_dir: PathBuf,
    /// Where evidence frames and identity photos live: `local` (under the
    /// data dir) or `s3://bucket[/prefix]` on an S3-compatible service,
    /// whose endpoint and keys come from AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION (and AWS_ALLOW_HTTP=true for a
    /// plain-HTTP endpoint).
    #[arg(long, env = "VIGIL_BLOB_STORE", default_value = "local")]
    blob_store: BlobLocation,
    /// Where the exams, rosters, incidents and the rest live: `sqlite`
    /// (vigil.db in the data dir) or `postgres://user:password@host/db`.
    #[arg(long, env = "VIGIL_DATABASE", default_value = "sqlite", hide_env_values = true)]
    database: DatabaseLocation,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    #[command(flatten)]
    data: DataDir,
    /// HTTP (and Socket.IO) listen address.
    #[arg(long, env = "VIGIL_HTTP", default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// UDP address of the SFU, one socket for all WebRTC peers (port 0 picks one; fix it to open a
    /// firewall), or `off` to run without live video (no SFU; students are not asked to publish).
    #[arg(long, env = "VIGIL_UDP", default_value = "127.0.0.1:0", value_parser = parse_udp)]
    udp: UdpArg,
    /// The media address told to browsers when they reach the server under another (NAT, cloud).
    #[arg(long, env = "VIGIL_UDP_ADVERTISED")]
    udp_advertised: Option<SocketAddr>,
    /// SFU worker threads, each with its own UDP socket: with a fixed `--udp` port P they bind P,
    /// P+1, … (open them all), and `--udp-advertised` ports count up the same way. Every exam's
    /// video lives on one worker. Default: one per two CPU cores (at least one), leaving the rest
    /// to the server's own work.
    #[arg(long, env = "VIGIL_SFU_WORKERS", value_parser = clap::value_parser!(u16).range(1..=256))]
    sfu_workers: Option<u16>,
    /// An LMS origin (e.g. https://lms.example.edu) allowed to embed the pages in a frame, and whose
    /// assessment the student page may show in its exam frame; repeat for more.
    #[arg(long = "frame-ancestor", env = "VIGIL_FRAME_ANCESTORS", value_delimiter = ',', value_parser = parse_origin)]
    frame_ancestors: Vec<String>,
    /// Require `Authorization: Bearer <token>` on /metrics (or serve it only behind a private proxy).
    #[arg(long, env = "VIGIL_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Socket handshakes per client address (IPv4 or IPv6 /64) as BURST/PER_SECOND, or `off`.
    #[arg(long, env = "VIGIL_ADDRESS_HANDSHAKES", default_value = "1000/20", value_parser = parse_rate)]
    address_handshakes: RateArg,
    /// A reverse proxy's address whose X-Forwarded-For names the client; repeat for more.
    #[arg(long = "trusted-proxy", env = "VIGIL_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Base URL for join links, when clients reach the server under another name (a reverse proxy).
    #[arg(long, env = "VIGIL_PUBLIC_URL")]
    public_url: Option<String>,
    /// PEM certificate chain; serve HTTPS (needed for the camera off localhost).
    #[arg(long, env = "VIGIL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "VIGIL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Admin API token; generated into <data-dir>/admin.token when unset.
    #[arg(long, env = "VIGIL_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Directory holding the built web apps (student/dist, dashboard/dist).
    #[arg(long, env = "VIGIL_WEB_DIR", default_value = "./web")]
    web_dir: PathBuf,
    /// What an acknowledged write survives.
    #[arg(long, env = "VIGIL_DURABILITY", value_enum, default_value_t = DurabilityArg::Process)]
    durability: DurabilityArg,
    /// Log format.
    #[arg(long, env = "VIGIL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Join a cluster of vigil nodes through this Redis
    /// (`redis://[:password@]host:6379/`): rooms span the nodes, each exam
    /// is held by one node, and sockets and requests for it reach that node
    /// from any other. Needs --database postgres://… shared by every node,
    /// and the same server.key in every node's data dir.
    #[arg(long, env = "VIGIL_REDIS", hide_env_values = true)]
    redis: Option<String>,
    /// Where the other nodes reach this node's HTTP API, e.g.
    /// `http://10.0.0.5:8080` (default: the address --http bound).
    #[arg(long, env = "VIGIL_NODE_URL", requires = "redis")]
    node_url: Option<String>,
    /// Names this cluster's rooms in Redis, so that two clusters can share
    /// one Redis.
    #[arg(long, env = "VIGIL_CLUSTER_NAME", default_value = "vigil", requires = "redis")]
    cluster_name: String,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum DurabilityArg {
    /// Survives a crash of the process (kill -9).
    Process,
    /// Also survives power loss (fsync per group commit).
    PowerLoss,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum ExamCommand {
    /// Create an exam open from now for --minutes.
    Create {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        title: String,
        #[arg(long)]
        id: Option<ExamId>,
        #[arg(long, default_value_t = 180)]
        minutes: i64,
    },
    /// List exams.
    List {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand, Debug)]
enum PersonCommand {
    /// Add a person to an exam's roster.
    Add(PersonArgs),
    /// List an exam's roster for this role.
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        exam: ExamId,
    },
}

#[derive(Args, Debug)]
struct PersonArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long)]
    exam: ExamId,
    #[arg(long)]
    name: String,
    #[arg(long)]
    id: Option<String>,
}

#[derive(Args, Debug)]
struct LinkArgs {
    #[command(flatten)]
    data: DataDir,
    #[arg(long)]
    exam: ExamId,
    #[arg(long, conflicts_with = "proctor", required_unless_present = "proctor")]
    student: Option<String>,
    #[arg(long)]
    proctor: Option<String>,
    /// Base URL of the server as clients reach it.
    #[arg(long, env = "VIGIL_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,
    /// Lifetime in seconds (default: the exam's end plus one hour).
    #[arg(long)]
    ttl: Option<u64>,
    /// With --proctor: the link may also change the exam's settings and
    /// access code, as an instructor.
    #[arg(long)]
    configure: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args, None).await,
        Command::Demo { serve: args, students } => serve(args, Some(students)).await,
        Command::Exam(ExamCommand::Create { data, title, id, minutes }) => {
            init_logs(LogFormat::Text);
            let admin = offline_admin(&data, "http://127.0.0.1:8080").await?;
            let now = SystemClock.now_ms();
            let settings = ExamSettings::with_window(ExamWindow { opens_at: now, closes_at: now + minutes * 60_000 });
            let exam =
                admin.create_exam(CreateExam { id, title, settings: Some(settings) }).await.map_err(admin_err)?;
            println!("{}", serde_json::to_string_pretty(&exam)?);
            Ok(())
        }
        Command::Exam(ExamCommand::List { data }) => {
            let admin = offline_admin(&data, "http://127.0.0.1:8080").await?;
            println!("{}", serde_json::to_string_pretty(&admin.store.exams().await?)?);
            Ok(())
        }
        Command::Lti(LtiCommand::Platform(cmd)) => platform_command(cmd).await,
        Command::Health { url } => {
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
            let res = client.get(&url).send().await.with_context(|| format!("asking {url}"))?;
            let status = res.status();
            println!("{}", res.text().await?);
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
            Ok(())
        }
        Command::Accommodate(args) => accommodate(args).await,
        Command::Data(DataCommand::Export(who)) => {
            let path = format!("/api/v1/exams/{}/students/{}/data", who.exam, who.student);
            print_answer(admin_api(&who.server, reqwest::Method::GET, &path, None).await?)
        }
        Command::Data(DataCommand::Erase(who)) => {
            let path = format!("/api/v1/exams/{}/students/{}/data", who.exam, who.student);
            print_answer(admin_api(&who.server, reqwest::Method::DELETE, &path, None).await?)
        }
        Command::Student(cmd) => person_command(cmd, Role::Student).await,
        Command::Proctor(cmd) => person_command(cmd, Role::Proctor).await,
        Command::Link(l) => {
            let admin = offline_admin(&l.data, &l.public_url).await?;
            let (role, subject) = match (l.student, l.proctor) {
                (Some(s), _) => (Role::Student, s),
                (None, Some(p)) => (Role::Proctor, p),
                (None, None) => anyhow::bail!("give --student or --proctor"),
            };
            let link = admin
                .issue_link(&l.exam, IssueLink { role, subject, ttl_s: l.ttl, may_configure: Some(l.configure) })
                .await
                .map_err(admin_err)?;
            println!("{}", link.url);
            Ok(())
        }
    }
}

/// A rate limit given on the command line, or none.
#[derive(Debug, Clone, Copy)]
struct RateArg(Option<vigil_core::rate::RateLimit>);

fn parse_rate(s: &str) -> Result<RateArg, String> {
    if s == "off" {
        return Ok(RateArg(None));
    }
    let bad = || format!("{s:?} is not BURST/PER_SECOND (like 1000/20) or off");
    let (burst, rate) = s.split_once('/').ok_or_else(bad)?;
    let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
    let per_second: f64 = rate.trim().parse().map_err(|_| bad())?;
    if burst == 0 || !per_second.is_finite() || per_second < 0.0 {
        return Err(bad());
    }
    Ok(RateArg(Some(vigil_core::rate::RateLimit { burst, per_second })))
}

/// `--udp`: an address, or `off` for no live video.
#[derive(Debug, Clone, Copy)]
struct UdpArg(Option<SocketAddr>);

fn parse_udp(s: &str) -> Result<UdpArg, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(UdpArg(None));
    }
    s.parse().map(|a| UdpArg(Some(a))).map_err(|_| format!("{s:?} is not an address like 0.0.0.0:3478, or off"))
}

/// An origin for a CSP `frame-ancestors` list: a scheme and a host, nothing
/// that could end the directive.
fn parse_origin(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    let ok = rest.is_some_and(|host| {
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'*'))
    });
    if ok { Ok(s.to_owned()) } else { Err(format!("{s:?} is not an origin like https://lms.example.edu")) }
}

fn admin_err(e: AdminError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn init_logs(format: LogFormat) {
    vigil_server::logging::init(match format {
        LogFormat::Text => vigil_server::logging::LogFormat::Text,
        LogFormat::Json => vigil_server::logging::LogFormat::Json,
    });
}

/// The admin functions on the data directory, without a running server.
async fn offline_admin(data: &DataDir, public_url: &str) -> Result<Admin> {
    let store = Store::open(&StoreConfig {
        data_dir: data.data_dir.clone(),
        durability: Durability::Process,
        database: data.database.clone(),
        blobs: data.blob_store.clone(),
    })
    .await
    .with_context(|| format!("opening {}", data.data_dir.display()))?;
    let keys = Keys::load(&data.data_dir)?;
    Ok(Admin { store, keys, public_url: public_url.to_owned(), clock: std::sync::Arc::new(SystemClock) })
}

async fn platform_command(cmd: PlatformCommand) -> Result<()> {
    use vigil_server::service::lti;
    match cmd {
        PlatformCommand::Add { data, issuer, client_id, deployment_ids, auth_login_url, jwks_url, token_url } => {
            init_logs(LogFormat::Text);
            let admin = offline_admin(&data, "http://127.0.0.1:8080").await?;
            let req = RegisterLtiPlatform { issuer, client_id, deployment_ids, auth_login_url, jwks_url, token_url };
            let platform = lti::register_platform(&admin.store, req, SystemClock.now_ms())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&platform)?);
        }
        PlatformCommand::List { data } => {
            let admin = offline_admin(&data, "http://127.0.0.1:8080").await?;
            println!("{}", serde_json::to_string_pretty(&lti::platforms(&admin.store).await?)?);
        }
    }
    Ok(())
}

/// Accommodations go through the running server's API (not the data
/// directory): the server holds them live and applies them at once.
async fn accommodate(args: AccommodateArgs) -> Result<()> {
    let thresholds = DetectorThresholds {
        no_face_after_ms: args.no_face_after_ms,
        looking_away_after_ms: args.looking_away_after_ms,
        yaw_limit_deg: args.yaw_limit_deg,
        pitch_limit_deg: args.pitch_limit_deg,
    };
    let body = Accommodations {
        extra_time_pct: args.extra_time_pct,
        extra_time_min: args.extra_time_min,
        disabled_detectors: args.disabled,
        note: args.note,
        extra_breaks: args.extra_breaks,
        thresholds: (thresholds != DetectorThresholds::default()).then_some(thresholds),
    };
    let path = format!("/api/v1/exams/{}/students/{}/accommodations", args.exam, args.student);
    let body = serde_json::to_value(&body)?;
    print_answer(admin_api(&args.server, reqwest::Method::PUT, &path, Some(body)).await?)
}

/// One call to the running server's admin API; a refusal becomes an error
/// carrying the server's reason.
async fn admin_api(
    to: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value> {
    let token = match &to.admin_token {
        Some(token) => token.clone(),
        None => vigil_server::auth::admin_token(&to.data.data_dir, None)
            .with_context(|| format!("reading the admin token in {}", to.data.data_dir.display()))?,
    };
    let url = format!("{}{path}", to.server.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, &url).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.with_context(|| format!("reaching {}", to.server))?;
    let status = res.status();
    let text = res.text().await.context("reading the answer")?;
    if !status.is_success() {
        let reason = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| format!("{}: {}", b.error.reason.as_str(), b.error.message))
            .unwrap_or(text);
        anyhow::bail!("refused ({status}): {reason}");
    }
    serde_json::from_str(&text).context("the answer is not JSON")
}

fn print_answer(answer: serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

async fn person_command(cmd: PersonCommand, role: Role) -> Result<()> {
    match cmd {
        PersonCommand::Add(p) => {
            let admin = offline_admin(&p.data, "http://127.0.0.1:8080").await?;
            let req = AddPerson { id: p.id, name: p.name };
            let json = match role {
                Role::Student => {
                    serde_json::to_string_pretty(&admin.add_student(&p.exam, req).await.map_err(admin_err)?)?
                }
                Role::Proctor => {
                    serde_json::to_string_pretty(&admin.add_proctor(&p.exam, req).await.map_err(admin_err)?)?
                }
            };
            println!("{json}");
        }
        PersonCommand::List { data, exam } => {
            let admin = offline_admin(&data, "http://127.0.0.1:8080").await?;
            admin.exam(&exam).await.map_err(admin_err)?;
            let roster = admin.roster(&exam).await.map_err(admin_err)?;
            let json = match role {
                Role::Student => serde_json::to_string_pretty(&roster.students)?,
                Role::Proctor => serde_json::to_string_pretty(&roster.proctors)?,
            };
            println!("{json}");
        }
    }
    Ok(())
}

async fn serve(args: ServeArgs, demo_students: Option<u32>) -> Result<()> {
    init_logs(args.log_format);
    let mut config = ServerConfig::new(args.data.data_dir.clone(), args.http);
    config.public_url = args.public_url.clone();
    config.tls = args.tls_cert.clone().zip(args.tls_key.clone()).map(|(cert, key)| TlsConfig { cert, key });
    config.admin_token = args.admin_token.clone();
    config.web_dir = Some(args.web_dir.clone());
    config.blobs = args.data.blob_store.clone();
    config.database = args.data.database.clone();
    config.durability = match args.durability {
        DurabilityArg::Process => Durability::Process,
        DurabilityArg::PowerLoss => Durability::PowerLoss,
    };
    config.udp = args.udp.0;
    config.udp_advertised = args.udp_advertised;
    config.sfu_workers = match args.sfu_workers {
        Some(n) => usize::from(n),
        // Half the cores: on a 2-core machine two workers beside the
        // server's own threads doubled the score p99 at 1,000 students
        // (docs/BENCHMARKS.md, "SFU at saturation"), and one worker
        // forwards over 100k packets/s.
        None => (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1),
    };
    config.frame_ancestors = args.frame_ancestors.clone();
    config.metrics_token = args.metrics_token.clone();
    config.address_handshakes = args.address_handshakes.0;
    config.trusted_proxies = args.trusted_proxies.clone();
    config.redis = args.redis.clone();
    config.node_url = args.node_url.clone();
    config.cluster_name = args.cluster_name.clone();
    let server = Server::bind(config).await.context("starting vigil")?;
    let addr = server.local_addr();
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    // Tests and scripts read this line to find the port when --http ends in :0.
    println!("vigil listening on {scheme}://{addr}");
    for media in server.media_addrs() {
        println!("media (WebRTC) on udp://{media}");
    }
    if let Some(n) = demo_students {
        let public = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
        print_demo(server.admin(), &public, n).await?;
    }
    server.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Creates the demo exam on first run (and reopens its window on later
/// runs), then prints links a newcomer can open.
async fn print_demo(admin: &Admin, public_url: &str, students: u32) -> Result<()> {
    let admin = Admin { public_url: public_url.to_owned(), ..admin.clone() };
    let demo: ExamId = "demo".parse()?;
    let now = admin.clock.now_ms();
    let window = ExamWindow { opens_at: now - 3_600_000, closes_at: now + 24 * 3_600_000 };
    match admin.store.exam(&demo).await? {
        None => {
            let settings = ExamSettings::with_window(window);
            let req = CreateExam { id: Some(demo.clone()), title: "Demo exam".into(), settings: Some(settings) };
            admin.create_exam(req).await.map_err(admin_err)?;
        }
        Some(exam) if exam.settings.window.closes_at < now + 3_600_000 => {
            let settings = ExamSettings { window, ..exam.settings };
            admin.store.update_exam_settings(&demo, &settings).await?;
        }
        Some(_) => {}
    }
    let ensure = async |role: Role, id: String, name: String| -> Result<()> {
        let req = AddPerson { id: Some(id), name };
        let added = match role {
            Role::Student => admin.add_student(&demo, req).await.map(drop),
            Role::Proctor => admin.add_proctor(&demo, req).await.map(drop),
        };
        match added {
            Ok(()) | Err(AdminError::Conflict(_)) => Ok(()),
            Err(e) => Err(admin_err(e)),
        }
    };
    ensure(Role::Proctor, "proctor".into(), "Demo Proctor".into()).await?;
    for i in 1..=students {
        ensure(Role::Student, format!("student-{i}"), format!("Student {i}")).await?;
    }
    let proctor = admin
        .issue_link(
            &demo,
            IssueLink { role: Role::Proctor, subject: "proctor".into(), ttl_s: None, may_configure: Some(true) },
        )
        .await
        .map_err(admin_err)?;
    println!("\nDemo exam ready.\n\nProctor dashboard:\n  {}\n\nStudents:", proctor.url);
    for i in 1..=students.min(5) {
        let link = admin
            .issue_link(
                &demo,
                IssueLink { role: Role::Student, subject: format!("student-{i}"), ttl_s: None, may_configure: None },
            )
            .await
            .map_err(admin_err)?;
        println!("  {}", link.url);
    }
    println!();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
