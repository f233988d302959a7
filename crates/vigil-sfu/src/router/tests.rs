//! Router unit tests that need more than one concern: commands, metrics.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use ::metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, RtcConfig};
use vigil_proto::events::WatchQuality;

use super::metrics::ALLOWED_LABELS;
use super::*;

fn router() -> Router {
    Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), Instant::now(), SystemTime::now())
}

fn pid(student: &str) -> PublisherId {
    PublisherId::new("exam-1".parse().unwrap(), student.parse().unwrap())
}

/// An offer from a str0m client with `video` m-lines of direction `dir`.
fn offer(video: usize, dir: Direction) -> String {
    let mut rtc = RtcConfig::new().build(Instant::now());
    rtc.add_local_candidate(Candidate::host("127.0.0.1:5000".parse().unwrap(), "udp").unwrap());
    let mut api = rtc.sdp_api();
    for _ in 0..video {
        api.add_media(MediaKind::Video, dir, None, None, None);
    }
    let (offer, _) = api.apply().unwrap();
    offer.to_sdp_string()
}

#[test]
fn malformed_sdp_is_a_typed_error() {
    let mut r = router();
    assert!(matches!(r.publish(Instant::now(), pid("s"), "not sdp"), Err(SfuError::BadSdp(_))));
    let sub = SubscriberId("p".into());
    assert!(matches!(r.subscribe(Instant::now(), sub, ""), Err(SfuError::BadSdp(_) | SfuError::OfferRejected(_))));
    assert_eq!(r.peer_count(), 0);
}

#[test]
fn garbage_datagrams_are_dropped() {
    let mut r = router();
    let src: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let now = Instant::now();
    for len in 0..64usize {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
        r.handle_datagram(now, src, &junk);
    }
    let mut stunish = vec![0u8, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42];
    stunish.extend_from_slice(&[0; 12]);
    stunish.extend_from_slice(&[0, 6, 0, 4, b'a', b'b', b':', b'c']);
    r.handle_datagram(now, src, &stunish);
    assert!(r.poll_transmit().is_none());
}

/// Remembers the key of every metric registered while it is installed.
#[derive(Default)]
struct KeyRecorder(Mutex<Vec<Key>>);

impl Recorder for KeyRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0.lock().unwrap().push(key.clone());
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0.lock().unwrap().push(key.clone());
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0.lock().unwrap().push(key.clone());
        Histogram::noop()
    }
}

#[test]
fn metrics_never_name_a_peer() {
    let recorder = KeyRecorder::default();
    let (student, proctor) = ("student-7", "socket-4f2a");
    ::metrics::with_local_recorder(&recorder, || {
        let t0 = Instant::now();
        let mut r = Router::new(RouterConfig::new("127.0.0.1:4000".parse().unwrap()), t0, SystemTime::now());
        r.publish(t0, pid(student), &offer(1, Direction::SendOnly)).expect("publish");
        let sub = SubscriberId(proctor.into());
        r.subscribe(t0, sub.clone(), &offer(2, Direction::RecvOnly)).expect("subscribe");
        r.watch(t0, &sub, 0, pid(student), WatchQuality::Full).expect("watch");
        r.handle_timeout(t0 + Duration::from_secs(4));
        r.unwatch(t0, &sub, 0).expect("unwatch");
        r.close(&PeerId::Subscriber(sub)).expect("close");
    });
    let keys = recorder.0.into_inner().unwrap();
    let names: Vec<&str> = keys.iter().map(|k| k.name()).collect();
    // vigil-load sums these two by name.
    assert!(names.contains(&"vigil_sfu_rtp_in_packets_total"), "{names:?}");
    assert!(names.contains(&"vigil_sfu_rtp_out_packets_total"), "{names:?}");
    for key in &keys {
        for label in key.labels() {
            assert!(ALLOWED_LABELS.contains(&label.key()), "{key:?} has label {}", label.key());
            for id in [student, proctor, "exam-1"] {
                assert!(!label.value().contains(id), "{key:?} names {id}");
            }
        }
    }
}
