//! Presence from connections and heartbeats: live, stalled or offline.
//!
//! A connected student whose heartbeats stop is *stalled*: the page or its
//! worker has hung, or the student is hiding something. The tracker says so
//! once per stall, and the server raises it as a `heartbeat_lost` incident.

use std::collections::{BTreeSet, HashMap};

use vigil_proto::{Presence, StudentId, UnixMillis};

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    connections: u32,
    last_beat: UnixMillis,
    /// The entry in `deadlines` while connected and not stalled.
    deadline: Option<UnixMillis>,
}

/// Tracks one exam's students. Keys are student ids.
#[derive(Debug, Default)]
pub struct PresenceTracker {
    students: HashMap<StudentId, State>,
    /// (deadline, student) for connected, non-stalled students.
    deadlines: BTreeSet<(UnixMillis, StudentId)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub student_id: StudentId,
    pub presence: Presence,
    pub at: UnixMillis,
}

impl PresenceTracker {
    pub fn presence(&self, student_id: &StudentId) -> Presence {
        match self.students.get(student_id) {
            Some(s) if s.connections > 0 && s.deadline.is_none() => Presence::Stalled,
            Some(s) if s.connections > 0 => Presence::Live,
            _ => Presence::Offline,
        }
    }

    /// A socket of this student connected. Returns the change to announce, if any.
    pub fn connected(&mut self, student_id: &StudentId, now: UnixMillis, stall_after_ms: i64) -> Option<Transition> {
        let before = self.presence(student_id);
        let s =
            self.students.entry(student_id.clone()).or_insert(State { connections: 0, last_beat: now, deadline: None });
        s.connections += 1;
        self.beat(student_id, now, stall_after_ms);
        self.transition(student_id, before, now)
    }

    pub fn disconnected(&mut self, student_id: &StudentId, now: UnixMillis) -> Option<Transition> {
        let before = self.presence(student_id);
        if let Some(s) = self.students.get_mut(student_id) {
            s.connections = s.connections.saturating_sub(1);
            if s.connections == 0
                && let Some(d) = s.deadline.take()
            {
                self.deadlines.remove(&(d, student_id.clone()));
            }
        }
        self.transition(student_id, before, now)
    }

    /// Drops a student altogether (their data was erased); their sockets
    /// closing later change nothing.
    pub fn forget(&mut self, student_id: &StudentId) {
        if let Some(d) = self.students.remove(student_id).and_then(|s| s.deadline) {
            self.deadlines.remove(&(d, student_id.clone()));
        }
    }

    pub fn heartbeat(&mut self, student_id: &StudentId, now: UnixMillis, stall_after_ms: i64) -> Option<Transition> {
        let before = self.presence(student_id);
        if self.students.get(student_id).is_some_and(|s| s.connections > 0) {
            self.beat(student_id, now, stall_after_ms);
        }
        self.transition(student_id, before, now)
    }

    /// Earliest time a student could become stalled.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Marks every student whose deadline passed as stalled.
    pub fn tick(&mut self, now: UnixMillis) -> Vec<Transition> {
        let mut out = Vec::new();
        while self.deadlines.first().is_some_and(|(t, _)| *t <= now) {
            let Some((_, id)) = self.deadlines.pop_first() else { break };
            if let Some(s) = self.students.get_mut(&id) {
                s.deadline = None;
            }
            out.push(Transition { student_id: id, presence: Presence::Stalled, at: now });
        }
        out
    }

    fn beat(&mut self, student_id: &StudentId, now: UnixMillis, stall_after_ms: i64) {
        let Some(s) = self.students.get_mut(student_id) else { return };
        if let Some(d) = s.deadline.take() {
            self.deadlines.remove(&(d, student_id.clone()));
        }
        s.last_beat = s.last_beat.max(now);
        let deadline = s.last_beat + stall_after_ms;
        s.deadline = Some(deadline);
        self.deadlines.insert((deadline, student_id.clone()));
    }

    fn transition(&self, student_id: &StudentId, before: Presence, now: UnixMillis) -> Option<Transition> {
        let after = self.presence(student_id);
        (after != before).then(|| Transition { student_id: student_id.clone(), presence: after, at: now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> StudentId {
        "s".parse().expect("a valid id")
    }

    #[test]
    fn live_stalled_live_offline() {
        let mut p = PresenceTracker::default();
        let t = |presence| Some(Transition { student_id: s(), presence, at: 0 });
        assert_eq!(p.connected(&s(), 0, 1_000), t(Presence::Live));
        assert_eq!(p.heartbeat(&s(), 500, 1_000), None);
        assert_eq!(p.next_deadline(), Some(1_500));
        assert!(p.tick(1_499).is_empty());
        let stalled = p.tick(1_500);
        assert_eq!(stalled.len(), 1);
        assert_eq!(p.presence(&s()), Presence::Stalled);
        assert_eq!(p.heartbeat(&s(), 2_000, 1_000).map(|t| t.presence), Some(Presence::Live));
        assert_eq!(p.disconnected(&s(), 2_100).map(|t| t.presence), Some(Presence::Offline));
        assert_eq!(p.next_deadline(), None);
        assert!(p.tick(100_000).is_empty());
    }

    #[test]
    fn second_tab_keeps_student_present() {
        let mut p = PresenceTracker::default();
        p.connected(&s(), 0, 1_000);
        assert_eq!(p.connected(&s(), 10, 1_000), None);
        assert_eq!(p.disconnected(&s(), 20), None);
        assert_eq!(p.presence(&s()), Presence::Live);
    }
}
