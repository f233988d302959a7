//! Fan-out over socketioxide rooms: one room per exam on `/proctor`, one
//! per student on `/student`. With the Redis adapter (`--redis`), a room
//! spans every node of the cluster: the node that holds an exam emits, and
//! each node delivers to the sockets it holds.

use std::sync::OnceLock;

use futures::future::BoxFuture;
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use vigil_proto::events::names;
use vigil_proto::{ExamId, StudentId};

use crate::metrics as m;
use crate::service::ConnectionId;
use crate::service::fanout::{Fanout, ProctorEvent, StudentEvent};

pub fn exam_room(exam: &ExamId) -> String {
    format!("exam:{exam}")
}

/// Every student connection of an exam, for what concerns them all.
pub fn exam_students_room(exam: &ExamId) -> String {
    format!("students:{exam}")
}

/// Ids never contain `:` (see `vigil_proto::ids`), so rooms cannot collide.
pub fn student_room(exam: &ExamId, student: &StudentId) -> String {
    format!("student:{exam}:{student}")
}

/// Set once the Socket.IO layer is built (it needs the service first).
pub struct SioFanout<A: Adapter> {
    io: OnceLock<SocketIo<A>>,
}

impl<A: Adapter> std::fmt::Debug for SioFanout<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SioFanout").field("attached", &self.io.get().is_some()).finish()
    }
}

impl<A: Adapter> Default for SioFanout<A> {
    fn default() -> Self {
        SioFanout { io: OnceLock::new() }
    }
}

impl<A: Adapter> SioFanout<A> {
    pub fn attach(&self, io: SocketIo<A>) {
        let _ = self.io.set(io);
    }

    async fn emit<T: Serialize + ?Sized>(&self, ns: &str, room: String, event: &str, data: &T) -> bool {
        let Some(ns) = self.io.get().and_then(|io| io.of(ns)) else { return false };
        match ns.to(room).emit(event, data).await {
            Ok(()) => true,
            Err(e) => {
                metrics::counter!(m::FANOUT_ERRORS).increment(1);
                tracing::debug!(error = %e, event, "fan-out emit failed");
                false
            }
        }
    }
}

impl<A: Adapter> SioFanout<A> {
    async fn emit_student_event(&self, room: String, event: StudentEvent) -> bool {
        match &event {
            StudentEvent::Action(a) => self.emit(names::STUDENT_NS, room, names::PROCTOR_ACTION, a).await,
            StudentEvent::Assessment(a) => self.emit(names::STUDENT_NS, room, names::ASSESSMENT, a).await,
            StudentEvent::Settings(s) => self.emit(names::STUDENT_NS, room, names::EXAM_SETTINGS, s).await,
            StudentEvent::Session(v) => self.emit(names::STUDENT_NS, room, names::SESSION, v).await,
            StudentEvent::Chat(m) => self.emit(names::STUDENT_NS, room, names::CHAT, m).await,
            StudentEvent::AccessCodeChanged => {
                self.emit(names::STUDENT_NS, room, names::ACCESS_CODE_CHANGED, &()).await
            }
        }
    }
}

/// Every connection joins its own room, so the service can close it by its id.
pub fn connection_room(conn: ConnectionId) -> String {
    format!("conn:{conn}")
}

impl<A: Adapter> Fanout for SioFanout<A> {
    fn disconnect(&self, conn: ConnectionId) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(ns) = self.io.get().and_then(|io| io.of(names::STUDENT_NS)) else { return };
            if let Err(e) = ns.within(connection_room(conn)).disconnect().await {
                tracing::debug!(error = %e, "could not close a replaced connection");
            }
        })
    }

    fn disconnect_exam<'a>(&'a self, exam: &'a ExamId) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(io) = self.io.get() else { return };
            for (ns, room) in [(names::STUDENT_NS, exam_students_room(exam)), (names::PROCTOR_NS, exam_room(exam))] {
                let Some(ns) = io.of(ns) else { continue };
                // This node's sockets only: sockets relayed here from other
                // nodes are answered `Gone` at their next message, and their
                // nodes see the exam move; a cluster-wide close would also
                // close the connections the new holder already serves.
                if let Err(e) = ns.local().within(room).disconnect().await {
                    tracing::debug!(error = %e, "could not close an exam's connections");
                }
            }
        })
    }

    fn to_proctors<'a>(&'a self, exam: &'a ExamId, event: ProctorEvent) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let room = exam_room(exam);
            match &event {
                ProctorEvent::Score(u) => self.emit(names::PROCTOR_NS, room, names::SCORE, u).await,
                ProctorEvent::Incident(r) => self.emit(names::PROCTOR_NS, room, names::INCIDENT_NOTICE, r).await,
                ProctorEvent::Presence(p) => self.emit(names::PROCTOR_NS, room, names::PRESENCE, p).await,
                ProctorEvent::Quality(q) => self.emit(names::PROCTOR_NS, room, names::QUALITY, q).await,
                ProctorEvent::Exam(e) => self.emit(names::PROCTOR_NS, room, names::EXAM, e).await,
                ProctorEvent::Student(v) => self.emit(names::PROCTOR_NS, room, names::STUDENT_ADDED, v).await,
                ProctorEvent::Session(u) => self.emit(names::PROCTOR_NS, room, names::SESSION, u).await,
                ProctorEvent::Chat(m) => self.emit(names::PROCTOR_NS, room, names::CHAT, m).await,
            }
        })
    }

    fn to_student<'a>(&'a self, exam: &'a ExamId, student: &'a StudentId, event: StudentEvent) -> BoxFuture<'a, bool> {
        Box::pin(self.emit_student_event(student_room(exam, student), event))
    }

    fn to_students<'a>(&'a self, exam: &'a ExamId, event: StudentEvent) -> BoxFuture<'a, bool> {
        Box::pin(self.emit_student_event(exam_students_room(exam), event))
    }
}

/// The fan-out the service is built with, before the Socket.IO layer (which
/// needs the service, and whose adapter type is chosen at start) exists.
#[derive(Debug, Default)]
pub struct LateFanout(OnceLock<std::sync::Arc<dyn Fanout>>);

impl LateFanout {
    pub fn attach(&self, out: std::sync::Arc<dyn Fanout>) {
        let _ = self.0.set(out);
    }
}

impl Fanout for LateFanout {
    fn to_proctors<'a>(&'a self, exam: &'a ExamId, event: ProctorEvent) -> BoxFuture<'a, bool> {
        match self.0.get() {
            Some(out) => out.to_proctors(exam, event),
            None => Box::pin(async { false }),
        }
    }

    fn to_student<'a>(&'a self, exam: &'a ExamId, student: &'a StudentId, event: StudentEvent) -> BoxFuture<'a, bool> {
        match self.0.get() {
            Some(out) => out.to_student(exam, student, event),
            None => Box::pin(async { false }),
        }
    }

    fn to_students<'a>(&'a self, exam: &'a ExamId, event: StudentEvent) -> BoxFuture<'a, bool> {
        match self.0.get() {
            Some(out) => out.to_students(exam, event),
            None => Box::pin(async { false }),
        }
    }

    fn disconnect(&self, conn: ConnectionId) -> BoxFuture<'_, ()> {
        match self.0.get() {
            Some(out) => out.disconnect(conn),
            None => Box::pin(async {}),
        }
    }

    fn disconnect_exam<'a>(&'a self, exam: &'a ExamId) -> BoxFuture<'a, ()> {
        match self.0.get() {
            Some(out) => out.disconnect_exam(exam),
            None => Box::pin(async {}),
        }
    }
}
