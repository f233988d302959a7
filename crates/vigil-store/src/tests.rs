use super::*;
use vigil_core::ledger::{Admit, Ledger, Limits};
use vigil_proto::ExamWindow;
use vigil_proto::events::{EvidenceMedia, IncidentReport};
use vigil_proto::ids::IdError;

const T0: UnixMillis = 1_700_000_000_000;

fn id<T: std::str::FromStr<Err = IdError>>(s: &str) -> T {
    s.parse().expect("test ids are valid")
}

fn e1() -> ExamId {
    id("e1")
}

/// The store of a test, on `dir` (SQLite, or PostgreSQL with
/// `VIGIL_TEST_DATABASE`: `testing::database_for`).
async fn open(dir: &Path) -> Store {
    let database = crate::testing::database_for(dir).await;
    Store::open(&StoreConfig {
        data_dir: dir.to_owned(),
        durability: Durability::Process,
        database,
        blobs: BlobLocation::Local,
    })
    .await
    .unwrap()
}

fn exam() -> Exam {
    Exam {
        id: e1(),
        title: "Algebra".into(),
        settings: ExamSettings::with_window(ExamWindow { opens_at: T0, closes_at: T0 + 3_600_000 }),
    }
}

/// PostgreSQL only (SQLite is a file, and never drops a connection): a
/// server that drops the writer's connection (a restart, a failover, a
/// proxy) costs the batch in flight, whose callers are told, and nothing
/// after it.
#[tokio::test]
async fn the_writer_reconnects_when_the_database_server_drops_it() {
    use sqlx::Connection;
    let Some(admin_url) = std::env::var("VIGIL_TEST_DATABASE").ok().filter(|u| u.starts_with("postgres")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_exam(&exam(), T0).await.unwrap();
    let DatabaseLocation::Postgres(url) = crate::testing::database_for(dir.path()).await else { unreachable!() };
    let name = url.rsplit('/').next().unwrap().to_owned();
    let action = |n: i64| ActionRecord {
        exam_id: e1(),
        student_id: "ada".parse().unwrap(),
        proctor_id: "pat".parse().unwrap(),
        kind: "warn".into(),
        text: None,
        minutes: None,
        at: T0 + n,
    };
    store.record_action(&action(1)).await.unwrap();

    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let dropped = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert!(!dropped.is_empty(), "the store's connections were there to drop");
    // The write on the dropped connection fails (its caller is told); the next one commits.
    let outcomes = [store.record_action(&action(2)).await.is_ok(), store.record_action(&action(3)).await.is_ok()];
    assert!(outcomes[1], "{outcomes:?}");
    let kept = store.student_actions(&e1(), &"ada".parse().unwrap()).await.unwrap();
    assert_eq!(kept.len(), 1 + outcomes.iter().filter(|ok| **ok).count());
}

#[tokio::test]
async fn health_names_each_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let first = store.health().await;
    let kind = if std::env::var("VIGIL_TEST_DATABASE").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(first, StoreHealth { database: Ok(()), blobs: Ok(()), database_kind: kind, blob_kind: "local" });
    assert!(first.ok());
    let broken = StoreHealth { blobs: Err("bucket gone".into()), ..first };
    assert!(!broken.ok());
}

#[tokio::test]
async fn exams_and_people_round_trip_and_duplicates_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_exam(&exam(), T0).await.unwrap();
    assert!(matches!(store.create_exam(&exam(), T0).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.exam(&e1()).await.unwrap(), Some(exam()));
    let ada = Student { id: id("s1"), name: "Ada".into() };
    store.add_student(&e1(), &ada).await.unwrap();
    assert!(matches!(store.add_student(&e1(), &ada).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.student(&e1(), &id("s1")).await.unwrap(), Some(ada.clone()));
    assert_eq!(store.proctor(&e1(), &id("s1")).await.unwrap(), None);
    assert_eq!(store.students(&e1()).await.unwrap(), vec![ada]);
    assert_eq!(store.proctors(&e1()).await.unwrap(), vec![]);
}

#[tokio::test]
async fn concurrent_incidents_are_group_committed_and_reload_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let ex = exam();
    store.create_exam(&ex, T0).await.unwrap();
    let lim = Limits::default();
    let mut pendings = Vec::new();
    for s in 0..50 {
        let mut ledger = Ledger::new(id(&format!("s{s}")), &lim);
        for i in 0..4u64 {
            let r = IncidentReport {
                id: id(&format!("inc-{i}")),
                seq: i + 1,
                kind: IncidentKind::NoFace,
                started_at: T0 + 1_000 * i as i64,
                ended_at: None,
                confidence: Some(0.5),
                detail: Some("x".into()),
            };
            let Ok(Admit::New(p)) = ledger.check_report(&ex.settings, &lim, &r, T0 + 10_000) else { panic!() };
            ledger.commit_report(&ex.settings, &p);
            pendings.push(p);
        }
    }
    let before = store.writer_stats();
    let exam_id = e1();
    let writes = pendings.iter().map(|p| store.insert_incident(&exam_id, p));
    for res in futures::future::join_all(writes).await {
        res.unwrap();
    }
    let after = store.writer_stats();
    assert_eq!(after.writes - before.writes, 200);
    assert!(after.commits - before.commits < 200, "writes were not grouped: {before:?} -> {after:?}");

    // A second insert of the same id fails for that caller only.
    assert!(store.insert_incident(&e1(), &pendings[0]).await.is_err());
    store.end_incident(&e1(), &id("s0"), &id("inc-0"), 9, T0 + 500).await.unwrap();

    drop(store);
    let store = open(dir.path()).await;
    let stored = store.exam_incidents(&e1()).await.unwrap();
    assert_eq!(stored.len(), 200);
    let s0: Vec<_> = stored.iter().filter(|s| s.pending.record.student_id == "s0").collect();
    assert_eq!(s0[0].pending.record.ended_at, Some(T0 + 500));
    assert_eq!(s0[0].end_seq, Some(9));
    let mut original = pendings.iter().find(|p| p.record.student_id == "s0" && p.record.id == "inc-0").unwrap().clone();
    original.record.ended_at = Some(T0 + 500);
    assert_eq!(s0[0].pending, original);
}

#[tokio::test]
async fn evidence_is_content_addressed_and_purged_after_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_exam(&exam(), T0).await.unwrap();
    let jpeg = bytes::Bytes::from_static(b"\xFF\xD8\xFFnot-checked-here");
    let row = EvidenceRow {
        sha256: "ab".repeat(32),
        exam_id: e1(),
        student_id: id("s1"),
        incident_id: id("i1"),
        media: EvidenceMedia::Jpeg,
        duration_ms: None,
        width: 320,
        height: 240,
        bytes: jpeg.len() as u64,
        captured_at: T0,
        received_at: T0 + 1,
        expires_at: T0 + 1_000,
    };
    store.put_evidence(&row, jpeg.clone()).await.unwrap();
    assert_eq!(store.evidence(&e1(), &row.sha256).await.unwrap(), Some(row.clone()));
    assert_eq!(store.evidence_bytes(&row.sha256, EvidenceMedia::Jpeg).await.unwrap(), jpeg);
    assert_eq!(store.purge_expired_evidence(T0 + 999).await.unwrap(), 0);
    assert_eq!(store.purge_expired_evidence(T0 + 1_000).await.unwrap(), 1);
    assert_eq!(store.evidence(&e1(), &row.sha256).await.unwrap(), None);
    assert!(store.evidence_bytes(&row.sha256, EvidenceMedia::Jpeg).await.is_err());
}

#[tokio::test]
async fn a_sound_clip_keeps_its_media_and_length() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_exam(&exam(), T0).await.unwrap();
    let wav = bytes::Bytes::from_static(b"RIFF-not-checked-here");
    let row = EvidenceRow {
        sha256: "ef".repeat(32),
        exam_id: e1(),
        student_id: id("s1"),
        incident_id: id("i1"),
        media: EvidenceMedia::Wav,
        duration_ms: Some(4_500),
        width: 0,
        height: 0,
        bytes: wav.len() as u64,
        captured_at: T0,
        received_at: T0 + 1,
        expires_at: T0 + 1_000,
    };
    store.put_evidence(&row, wav.clone()).await.unwrap();
    assert_eq!(store.evidence(&e1(), &row.sha256).await.unwrap(), Some(row.clone()));
    assert_eq!(store.evidence_bytes(&row.sha256, EvidenceMedia::Wav).await.unwrap(), wav);
    // Stored under its own extension: an operator browsing the bucket sees a clip.
    assert!(dir.path().join("evidence/ef/ef").join(format!("{}.wav", row.sha256)).exists());
}

#[tokio::test]
async fn the_same_frame_in_two_exams_is_two_records_and_outlives_either_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let mut other = exam();
    other.id = id("e2");
    store.create_exam(&exam(), T0).await.unwrap();
    store.create_exam(&other, T0).await.unwrap();
    let jpeg = bytes::Bytes::from_static(b"\xFF\xD8\xFFshared-bytes");
    let first = EvidenceRow {
        sha256: "cd".repeat(32),
        exam_id: e1(),
        student_id: id("s1"),
        incident_id: id("i1"),
        media: EvidenceMedia::Jpeg,
        duration_ms: None,
        width: 320,
        height: 240,
        bytes: jpeg.len() as u64,
        captured_at: T0,
        received_at: T0 + 1,
        expires_at: T0 + 1_000,
    };
    let second = EvidenceRow { exam_id: id("e2"), expires_at: T0 + 5_000, ..first.clone() };
    store.put_evidence(&first, jpeg.clone()).await.unwrap();
    // Each exam sees only its own row: the other's is no replay and no oracle.
    assert_eq!(store.evidence(&id("e2"), &first.sha256).await.unwrap(), None);
    store.put_evidence(&second, jpeg.clone()).await.unwrap();
    assert_eq!(store.evidence(&id("e2"), &first.sha256).await.unwrap(), Some(second.clone()));

    // The first exam's retention ends; the second exam's frame stays readable.
    assert_eq!(store.purge_expired_evidence(T0 + 1_000).await.unwrap(), 1);
    assert_eq!(store.evidence(&e1(), &first.sha256).await.unwrap(), None);
    assert_eq!(store.evidence_bytes(&first.sha256, EvidenceMedia::Jpeg).await.unwrap(), jpeg);
    // Then the second's: the blob goes with the last record.
    assert_eq!(store.purge_expired_evidence(T0 + 5_000).await.unwrap(), 1);
    assert!(store.evidence_bytes(&first.sha256, EvidenceMedia::Jpeg).await.is_err());
}

fn link_key(resource_link_id: &str) -> LtiLinkKey {
    LtiLinkKey {
        issuer: "https://lms.example.edu".into(),
        client_id: "vigil".into(),
        deployment_id: "d1".into(),
        context_id: "course-1".into(),
        resource_link_id: resource_link_id.into(),
    }
}

#[tokio::test]
async fn lti_platforms_keys_links_and_users_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let platform = LtiPlatformRow {
        issuer: "https://lms.example.edu".into(),
        client_id: "vigil".into(),
        deployment_ids: vec!["d1".into(), "d2".into()],
        auth_login_url: "https://lms.example.edu/auth".into(),
        jwks_url: "https://lms.example.edu/jwks".into(),
        token_url: "https://lms.example.edu/token".into(),
        created_at: T0,
    };
    store.insert_lti_platform(&platform).await.unwrap();
    assert!(matches!(store.insert_lti_platform(&platform).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.lti_platforms().await.unwrap(), vec![platform]);

    let key = LtiToolKeyRow { kid: "k1".into(), pkcs8_pem: "PEM".into(), created_at: T0, retired_at: None };
    store.insert_lti_tool_key(&key).await.unwrap();
    let retired = LtiToolKeyRow { kid: "k0".into(), retired_at: Some(T0), ..key.clone() };
    store.insert_lti_tool_key(&retired).await.unwrap();
    assert_eq!(store.lti_tool_keys().await.unwrap(), vec![key.clone()]);
    // A rotation: the new key is current, the old one published until T0 + 100.
    let k2 = LtiToolKeyRow { kid: "k2".into(), pkcs8_pem: "PEM2".into(), created_at: T0 + 1, retired_at: None };
    store.rotate_lti_tool_key(&k2, "k1", T0 + 100).await.unwrap();
    let retiring = LtiToolKeyRow { retired_at: Some(T0 + 100), ..key.clone() };
    assert_eq!(store.lti_tool_keys_at(T0 + 50).await.unwrap(), vec![k2.clone(), retiring]);
    assert_eq!(store.lti_tool_keys_at(T0 + 100).await.unwrap(), vec![k2.clone()]);
    assert_eq!(store.lti_tool_keys().await.unwrap(), vec![k2]);

    // A resource link creates its exam and the link together, once.
    assert_eq!(store.lti_link(&link_key("rl-1")).await.unwrap(), None);
    store.create_linked_exam(&exam(), &link_key("rl-1"), T0).await.unwrap();
    assert_eq!(store.lti_link(&link_key("rl-1")).await.unwrap(), Some(e1()));
    assert_eq!(store.exam(&e1()).await.unwrap(), Some(exam()));
    let other = Exam { id: id("e2"), ..exam() };
    assert!(matches!(store.create_linked_exam(&other, &link_key("rl-1"), T0).await, Err(StoreError::AlreadyExists(_))));
    // Neither half of the losing write is kept.
    assert_eq!(store.exam(&id("e2")).await.unwrap(), None);

    let enrolment = LtiEnrolment {
        exam_id: e1(),
        role: Role::Student,
        person_id: "lti-0123".into(),
        name: "Ada".into(),
        issuer: "https://lms.example.edu".into(),
        sub: "user-7".into(),
    };
    store.lti_enrol(&enrolment, T0).await.unwrap();
    // Again: nothing changes, nothing fails.
    store.lti_enrol(&LtiEnrolment { name: "Other".into(), ..enrolment.clone() }, T0).await.unwrap();
    assert_eq!(store.lti_user("https://lms.example.edu", "user-7").await.unwrap().as_deref(), Some("lti-0123"));
    assert_eq!(store.students(&e1()).await.unwrap(), vec![Student { id: id("lti-0123"), name: "Ada".into() }]);
    assert_eq!(store.lti_user("https://lms.example.edu", "nobody").await.unwrap(), None);
}

#[tokio::test]
async fn lti_attempts_start_hand_over_and_end_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_linked_exam(&exam(), &link_key("rl-1"), T0).await.unwrap();
    assert_eq!(store.lti_attempt(&e1(), "s1").await.unwrap(), None);
    let first = LtiAttemptRow {
        exam_id: e1(),
        student_id: "s1".into(),
        issuer: "https://lms.example.edu".into(),
        attempt_number: 1,
        launch: "{}".into(),
        started_at: T0,
        assessment_started_at: None,
        ended_at: None,
    };
    store.lti_attempt_started(&first).await.unwrap();
    store.lti_assessment_started(&e1(), "s1", 1, T0 + 5).await.unwrap();
    // Handing over again keeps the first time.
    store.lti_assessment_started(&e1(), "s1", 1, T0 + 9).await.unwrap();
    // Another attempt's messages change nothing.
    store.lti_attempt_ended(&e1(), "s1", 2, T0 + 10).await.unwrap();
    let handed = store.lti_attempt(&e1(), "s1").await.unwrap().unwrap();
    assert_eq!((handed.assessment_started_at, handed.ended_at), (Some(T0 + 5), None));
    store.lti_attempt_ended(&e1(), "s1", 1, T0 + 20).await.unwrap();
    store.lti_attempt_ended(&e1(), "s1", 1, T0 + 30).await.unwrap();
    assert_eq!(store.lti_attempt(&e1(), "s1").await.unwrap().unwrap().ended_at, Some(T0 + 20));
    assert_eq!(store.lti_open_attempt("https://lms.example.edu", "s1").await.unwrap(), None);
    // A new attempt replaces the old one, fresh.
    let second = LtiAttemptRow { attempt_number: 2, launch: "{\"a\":2}".into(), started_at: T0 + 40, ..first };
    store.lti_attempt_started(&second).await.unwrap();
    assert_eq!(store.lti_attempt(&e1(), "s1").await.unwrap(), Some(second));
    assert_eq!(store.lti_open_attempt("https://lms.example.edu", "s1").await.unwrap(), Some(e1()));
    assert_eq!(store.lti_open_attempt("https://other.example.edu", "s1").await.unwrap(), None);
}

#[tokio::test]
async fn recording_segments_are_stored_listed_read_and_erased_with_their_student() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_exam(&exam(), T0).await.unwrap();
    for s in ["s1", "s2"] {
        store.add_student(&e1(), &Student { id: id(s), name: s.into() }).await.unwrap();
    }
    let segment = |student: &str, started_at: UnixMillis, bytes: &[u8]| RecordingSegmentRow {
        exam_id: e1(),
        student_id: id(student),
        segment: vigil_proto::review::RecordingSegment {
            sha256: format!("{:064x}", started_at),
            container: if student == "s2" {
                vigil_proto::review::RecordingContainer::Mp4
            } else {
                vigil_proto::review::RecordingContainer::Webm
            },
            started_at,
            duration_ms: 60_000,
            frames: 900,
            keyframes: 2,
            width: 640,
            height: 480,
            bytes: bytes.len() as u64,
        },
    };
    let later = segment("s1", T0 + 60_000, b"second");
    let first = segment("s1", T0, b"first");
    let other = segment("s2", T0 + 5, b"theirs");
    store.put_recording_segment(&later, bytes::Bytes::from_static(b"second")).await.unwrap();
    store.put_recording_segment(&first, bytes::Bytes::from_static(b"first")).await.unwrap();
    // A retried store of the same segment is the same row.
    store.put_recording_segment(&first, bytes::Bytes::from_static(b"first")).await.unwrap();
    store.put_recording_segment(&other, bytes::Bytes::from_static(b"theirs")).await.unwrap();

    assert_eq!(store.recording_segments(&e1(), &id("s1")).await.unwrap(), vec![first.clone(), later.clone()]);
    let read = store.recording_segment_bytes(&e1(), &id("s1"), &first.segment.sha256).await.unwrap().unwrap();
    assert_eq!((&read.0, &read.1[..]), (&first.segment, &b"first"[..]));
    // An H.264 segment is an MP4 file, named so.
    let theirs = store.recording_segment_bytes(&e1(), &id("s2"), &other.segment.sha256).await.unwrap().unwrap();
    assert_eq!((&theirs.0, &theirs.1[..]), (&other.segment, &b"theirs"[..]));
    // Another student's segment is not reached through this student.
    assert_eq!(store.recording_segment_bytes(&e1(), &id("s1"), &other.segment.sha256).await.unwrap(), None);

    let erased = store.erase_student(&e1(), &id("s1")).await.unwrap();
    assert_eq!(erased.recording_segments, 2);
    assert!(store.recording_segments(&e1(), &id("s1")).await.unwrap().is_empty());
    let blobs = dir.path().join("evidence/recordings/e1");
    assert!(!blobs.join("s1").join(format!("{}.webm", first.segment.sha256)).exists(), "the bytes went first");
    assert!(blobs.join("s2").join(format!("{}.mp4", other.segment.sha256)).exists(), "the other student's stay");
    assert_eq!(store.recording_segments(&e1(), &id("s2")).await.unwrap(), vec![other]);
}
