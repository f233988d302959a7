//! Sound clips as evidence of `voice_detected`: kept only where the exam's
//! privacy tier keeps sound (`recording`, with the microphone on), only for
//! voices, only whole WAV clips of sane length; served back with their type.

mod common;

use common::{Harness, T0};
use serde_json::{Value, json};
use vigil_proto::events::{AddPerson, CreateExam, names};
use vigil_proto::{ExamSettings, ExamWindow, PrivacyTier, Role};

/// A WAV file written by hand from the format's layout (RIFF, `fmt ` with
/// PCM 16-bit mono, `data`), as a client in any language would: a tone.
fn wav(sample_rate: u32, samples: u32) -> Vec<u8> {
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // one channel
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // bytes a second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits a sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let s = ((i as f32 * 0.07).sin() * 6000.0) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn frame() -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/frames/frame-a.jpg"))
        .expect("a test frame")
}

async fn exam(h: &Harness, id: &str, privacy: PrivacyTier, student: &str) {
    let mut settings =
        ExamSettings::with_window(ExamWindow { opens_at: T0 - 3_600_000, closes_at: T0 + 3 * 3_600_000 });
    settings.privacy = privacy;
    settings.microphone = true;
    let create = CreateExam { id: Some(id.parse().unwrap()), title: "Oral".into(), settings: Some(settings) };
    h.admin(reqwest::Method::POST, "/exams", serde_json::to_value(create).unwrap()).await;
    let add = AddPerson { id: Some(student.into()), name: format!("Student {student}") };
    h.admin(reqwest::Method::POST, &format!("/exams/{id}/students"), json!(add)).await;
    let add = AddPerson { id: Some("pat".into()), name: "Pat Proctor".into() };
    h.admin(reqwest::Method::POST, &format!("/exams/{id}/proctors"), json!(add)).await;
}

async fn upload(h: &Harness, token: &str, incident: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/evidence/{incident}", h.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .header("x-vigil-captured-at", (h.now() - 1_500).to_string())
        .body(body)
        .send()
        .await
        .expect("a response");
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

fn reason(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["error"]["reason"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_is_kept_as_a_clip_at_the_recording_tier_and_only_there() {
    let h = Harness::start(&[]).await;
    exam(&h, "oral", PrivacyTier::Recording, "ada").await;
    exam(&h, "written", PrivacyTier::FlaggedFrames, "bob").await;
    let ada_token = h.token_in("oral", Role::Student, "ada").await;
    let ada = h.student_with(&ada_token).await;
    let t = h.now() - 2_000;
    for (id, seq, kind) in [("v1", 1, "voice_detected"), ("n1", 2, "no_face")] {
        let ack = ada.request(names::INCIDENT, common::incident(id, seq, kind, t)).await;
        assert_eq!(ack["status"], json!("accepted"), "{ack}");
    }

    // Refused, each with its reason, and nothing stored.
    let refused = upload(&h, &ada_token, "n1", "audio/wav", wav(16_000, 48_000)).await;
    assert_eq!(reason(&refused), (415, Some("unsupported_media")), "a clip of no voice: {}", refused.1);
    let refused = upload(&h, &ada_token, "v1", "audio/ogg", b"OggS".to_vec()).await;
    assert_eq!(reason(&refused), (415, Some("unsupported_media")), "{}", refused.1);
    let refused = upload(&h, &ada_token, "v1", "audio/wav", wav(16_000, 3_200)).await;
    assert_eq!(reason(&refused), (422, Some("duration_out_of_range")), "0.2 s: {}", refused.1);
    let mut cut = wav(16_000, 48_000);
    cut.truncate(20_000);
    let refused = upload(&h, &ada_token, "v1", "audio/wav", cut).await;
    assert_eq!(reason(&refused), (422, Some("undecodable")), "cut short: {}", refused.1);
    let refused = upload(&h, &ada_token, "v1", "audio/wav", frame()).await;
    assert_eq!(reason(&refused), (422, Some("undecodable")), "a JPEG called a clip: {}", refused.1);

    // A 3 s clip at 16 kHz is kept, with its type and length.
    let clip = wav(16_000, 48_000);
    let (status, accepted) = upload(&h, &ada_token, "v1", "audio/wav", clip.clone()).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(
        (&accepted["media"], &accepted["duration_ms"], &accepted["width"], &accepted["bytes"]),
        (&json!("wav"), &json!(3_000), &json!(0), &json!(clip.len()))
    );
    let sha = accepted["sha256"].as_str().unwrap().to_owned();
    let again = upload(&h, &ada_token, "v1", "audio/wav", wav(16_000, 40_000)).await;
    assert_eq!(reason(&again), (409, Some("evidence_already_attached")), "{}", again.1);

    // The proctor gets it back as a clip, the incident names it.
    let pat = h.token_in("oral", Role::Proctor, "pat").await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/oral/evidence/{sha}", h.base))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/wav");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(res.bytes().await.unwrap().to_vec(), clip);
    let (status, record) = h.call(reqwest::Method::GET, "/exams/oral/students/ada/review", Some(&pat), None).await;
    assert_eq!(status, 200, "{record}");
    let v1 = record["incidents"].as_array().unwrap().iter().find(|i| i["id"] == "v1").unwrap();
    assert_eq!(v1["evidence_sha256"], json!(sha));
    // A PDF cannot play it: the report names the clip and its length instead.
    let pdf = reqwest::Client::new()
        .get(format!("{}/api/v1/exams/oral/students/ada/report.pdf", h.base))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let text = common::pdf_text(&pdf.bytes().await.unwrap());
    assert!(text.contains("voice_detected"), "{text}");
    assert!(text.contains("(sound clip of 3.0 s kept: play it in the dashboard's review)"), "{text}");

    // An exam that keeps only frames keeps no sound, but still the frame.
    let bob_token = h.token_in("written", Role::Student, "bob").await;
    let bob = h.student_with(&bob_token).await;
    let ack = bob.request(names::INCIDENT, common::incident("w1", 1, "voice_detected", t)).await;
    assert_eq!(ack["status"], json!("accepted"), "{ack}");
    let refused = upload(&h, &bob_token, "w1", "audio/wav", wav(16_000, 48_000)).await;
    assert_eq!(reason(&refused), (403, Some("evidence_not_collected")), "{}", refused.1);
    let (status, accepted) = upload(&h, &bob_token, "w1", "image/jpeg", frame()).await;
    assert_eq!((status, &accepted["media"], &accepted["width"]), (201, &json!("jpeg"), &json!(320)), "{accepted}");
}
