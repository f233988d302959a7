//! Time: every peer's next str0m deadline in one ordered set, and the
//! router's own tick (layer rates, media health, slots waiting for a
//! keyframe).

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vigil_proto::UnixMillis;

use super::peer::recording_layer;
use super::{Key, Router, SfuEvent};

/// How often the router walks its publishers and slots.
pub(super) const TICK: Duration = Duration::from_millis(250);
/// How much later than str0m asks a publisher is woken for NACKs alone
/// (see `Router::drive`). Shorter than a 30 fps frame gap, so a stream that
/// stops mid-frame still gets its NACKs within about one frame.
pub(super) const NACK_SLACK: Duration = Duration::from_millis(25);
/// The window layer rates are measured over.
pub(super) const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Each peer's next deadline, ordered, so that expiry pops only the due
/// ones instead of asking every peer.
#[derive(Default)]
pub(super) struct Deadlines {
    set: BTreeSet<(Instant, Key)>,
    /// Scratch list of expired keys, kept to reuse its allocation.
    due: Vec<Key>,
}

impl Deadlines {
    /// Moves `key`'s entry from `*current` to `at`.
    pub fn schedule(&mut self, key: Key, current: &mut Option<Instant>, at: Instant) {
        if *current == Some(at) {
            return;
        }
        if let Some(old) = current.replace(at) {
            self.set.remove(&(old, key));
        }
        self.set.insert((at, key));
    }

    pub fn cancel(&mut self, key: Key, current: Option<Instant>) {
        if let Some(t) = current {
            self.set.remove(&(t, key));
        }
    }

    pub fn first(&self) -> Option<Instant> {
        self.set.first().map(|&(t, _)| t)
    }

    /// Removes and returns the keys due at `now`. Hand the list back with
    /// `recycle` to reuse it.
    fn take_expired(&mut self, now: Instant) -> Vec<Key> {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        while let Some(&(at, key)) = self.set.first() {
            if at > now {
                break;
            }
            self.set.pop_first();
            due.push(key);
        }
        due
    }

    fn recycle(&mut self, due: Vec<Key>) {
        self.due = due;
    }
}

impl Router {
    /// Advances timers up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Expired peers are collected first: a peer that asks to be woken
        // again at `now` is served on the next call, not in a loop here.
        let due = self.deadlines.take_expired(now);
        for &key in &due {
            if let Some(p) = self.peers.get_mut(key) {
                p.timer = None;
                match super::contain(|| p.rtc.handle_input(str0m::Input::Timeout(now))) {
                    None => {
                        self.remove_panicked(key);
                        continue;
                    }
                    Some(Err(e)) => tracing::debug!(error = %e, "timeout failed"),
                    Some(Ok(())) => {}
                }
            }
            self.drive(key, now);
        }
        self.deadlines.recycle(due);
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.tick(now);
        }
        self.flush_dirty(now);
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Instant {
        match self.deadlines.first() {
            Some(t) => t.min(self.next_tick),
            None => self.next_tick,
        }
    }

    /// The one place that walks all publishers and slots: O(n) four times a
    /// second, never per packet.
    fn tick(&mut self, now: Instant) {
        let rate = now >= self.next_rate;
        if rate {
            self.next_rate = now + RATE_WINDOW;
            self.measure_layer_rates();
            self.close_unconnected(now);
        }
        self.poll_health(now);
        self.revisit_slots(now, rate);
    }

    /// Closes peers that never connected (see `RouterConfig::connect_within`).
    fn close_unconnected(&mut self, now: Instant) {
        let limit = self.cfg.connect_within;
        let stale: Vec<Key> = self
            .peers
            .iter()
            .filter(|(_, p)| !p.connected && now.saturating_duration_since(p.since) >= limit)
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            self.metrics.never_connected.increment(1);
            self.remove_peer(key, true);
        }
    }

    /// Layer rates over the last window; a recorded publication's
    /// recorded layer follows them (`recording_layer`).
    fn measure_layer_rates(&mut self) {
        for p in self.peers.values_mut().filter_map(|p| p.as_pub_mut()) {
            for l in &mut p.layers {
                l.bps = l.bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64();
                l.bytes = 0;
            }
            if p.recorded.is_some() {
                let chosen = recording_layer(&p.layers, p.recorded_ssrc);
                if chosen.is_some() && chosen != p.recorded_ssrc {
                    if p.recorded_ssrc.is_some() {
                        self.metrics.record_layer_switched.increment(1);
                    }
                    p.recorded_ssrc = chosen;
                }
            }
        }
    }

    /// Runs every publisher's health rules, connected or not: one whose
    /// connection never comes up has sent no video either. Findings leave
    /// as events stamped on the wall clock.
    fn poll_health(&mut self, now: Instant) {
        let mut findings = std::mem::take(&mut self.findings);
        for p in self.peers.values_mut().filter_map(|p| p.as_pub_mut()) {
            findings.clear();
            p.health.poll(now, &mut findings);
            for f in findings.drain(..) {
                self.metrics.health_finding(f.kind);
                self.events.push_back(SfuEvent::MediaHealth {
                    publisher: p.id.clone(),
                    kind: f.kind,
                    at: wall_millis(self.epoch, f.at),
                    detail: f.detail,
                });
            }
        }
        self.findings = findings;
    }

    /// Slots waiting for a keyframe ask again (throttled), and every bound
    /// slot re-ranks layers once a second: rates are unknown when a layer
    /// first appears, and `Full` follows the bandwidth estimate.
    fn revisit_slots(&mut self, now: Instant, rate: bool) {
        let subs: Vec<(Key, usize, bool)> = self
            .peers
            .iter()
            .filter_map(|(k, p)| Some((*k, p.as_sub()?)))
            .flat_map(|(k, s)| {
                s.slots.iter().enumerate().filter_map(move |(i, sl)| {
                    let waiting = sl.pending.is_some();
                    let follow = rate && sl.publisher.is_some();
                    (waiting || follow).then_some((k, i, waiting))
                })
            })
            .collect();
        for (k, i, waiting) in subs {
            self.reselect(now, k, i, waiting);
        }
    }
}

/// `at` on the wall clock, given one moment read on both clocks.
fn wall_millis(epoch: (Instant, SystemTime), at: Instant) -> UnixMillis {
    let wall = epoch.1 + at.saturating_duration_since(epoch.0);
    wall.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
