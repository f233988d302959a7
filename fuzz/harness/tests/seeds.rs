//! The committed seed corpus, replayed on stable Rust: every seed (and any
//! crash input kept beside them as a regression seed) runs through its
//! target without a panic, and the seeds reach as deep as they are meant to.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use vigil_fuzz_harness::stun::{self, PUBLISHER_ADDR, World};
use vigil_fuzz_harness::{TARGETS, sdp};
use vigil_sfu::{Router, RouterConfig};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds").join(target);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

#[test]
fn every_seed_runs() {
    for (target, run) in TARGETS {
        for (path, bytes) in seeds(target) {
            eprintln!("{}", path.display());
            run(&bytes);
        }
    }
}

/// The offers in the sdp seeds are accepted: mutations start from offers
/// that get all the way through str0m. (Regression seeds hold offers that
/// must be refused.)
#[test]
fn the_seed_offers_are_accepted() {
    let mut checked = 0;
    for (path, bytes) in seeds("sdp") {
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("regression-")) {
            continue;
        }
        let mut r = Router::new(RouterConfig::new(sdp::SFU_ADDR.parse().unwrap()), Instant::now(), SystemTime::now());
        let now = Instant::now();
        match sdp::parse(&bytes).into_iter().next() {
            Some(sdp::Op::Publish { student, offer }) => {
                r.publish(now, sdp::publisher(student), &offer).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            Some(sdp::Op::Subscribe { proctor, offer }) => {
                r.subscribe(now, sdp::subscriber(proctor), &offer)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
}

/// The recorded binding request still matches the fixture peers' ICE
/// credentials: the router answers it, so the stun target's mutations
/// start past the demultiplexer and str0m's integrity check.
#[test]
fn the_recorded_binding_request_is_answered() {
    let (_, bytes) = seeds("stun").into_iter().find(|(p, _)| p.ends_with("binding-publisher.bin")).unwrap();
    let ops = stun::parse(&bytes);
    let [stun::Op::Datagram { from, bytes: request }] = ops.as_slice() else {
        panic!("one datagram: {ops:?}");
    };
    let mut w = World::fixture(Instant::now());
    w.router.handle_datagram(w.t0, from.addr(), request);
    let reply = w.router.poll_transmit().expect("a binding response (regenerate: see fuzz/README.md)");
    assert_eq!(reply.destination, PUBLISHER_ADDR.parse().unwrap());
    assert_eq!(&reply.contents[..2], &[0x01, 0x01], "binding success response");
}
