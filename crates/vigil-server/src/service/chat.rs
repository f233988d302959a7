//! Chat between students and their exam's proctors, and announcements.
//!
//! A message is checked (text rules, the sender's budget, the conversation
//! still open), numbered, stored durably, and only then acknowledged and
//! sent to its conversation's pages and every proctor. The sender's id for
//! the message is its idempotency key: a resend after a lost answer finds
//! the stored message and is answered `duplicate`, so a page's outbox can
//! resend until it hears back and each message is stored once. Numbers
//! are given and committed one at a time per exam, so a page that has seen
//! number n has seen every earlier one it may: after a reconnect it asks
//! `chat_sync` for what came after its highest, and misses nothing.

use vigil_core::chat::{SYNC_PAGE, check_text};
use vigil_core::rate::KeyedTake;
use vigil_proto::events::{ChatAck, ChatFrom, ChatHistory, ChatMessage, ChatSend, ChatSync, ProctorChatSend};
use vigil_proto::{ChatMessageId, ExamId, ProctorId, RejectReason, Rejection, StudentId};
use vigil_store::{ChatRow, StoreError};

use super::exams::ExamRuntime;
use super::fanout::{ProctorEvent, StudentEvent};
use super::{ProctorSession, Service, StudentSession, lock, sessions, unavailable};

/// Proctors tracked for the chat budget at once.
pub const MAX_PROCTORS_TRACKED: usize = 10_000;

fn rate_limited(message: &str, retry_after_ms: u64) -> Rejection {
    Rejection { reason: RejectReason::RateLimited, message: message.to_owned(), retry_after_ms: Some(retry_after_ms) }
}

fn rejected(rejection: Rejection) -> ChatAck {
    ChatAck::Rejected { rejection }
}

/// A message about to be stored.
struct Draft {
    author: String,
    id: ChatMessageId,
    from: ChatFrom,
    proctor_id: Option<ProctorId>,
    student_id: Option<StudentId>,
    text: String,
}

impl Service {
    /// A student's `chat`.
    pub async fn student_chat(&self, sess: &StudentSession, msg: ChatSend) -> ChatAck {
        if let Err(r) = check_text(&msg.text) {
            return rejected(r);
        }
        if let Err(r) = sessions::admit(&sess.cell) {
            return rejected(r);
        }
        let author = format!("student:{}", sess.cell.id());
        // A resend is answered before the budget is spent: an outbox that
        // lost its answers must not be locked out by its own retries.
        if let Some(ack) = self.chat_repeat(sess.rt.id(), &author, &msg.id, &msg.text).await {
            return ack;
        }
        if let Err(wait) = lock(&sess.cell.live).chat_bucket.try_take(self.clock.now_ms()) {
            return rejected(rate_limited("too many messages; wait a moment", wait));
        }
        let draft = Draft {
            author,
            id: msg.id,
            from: ChatFrom::Student,
            proctor_id: None,
            student_id: Some(sess.cell.id().clone()),
            text: msg.text,
        };
        self.post_chat(&sess.rt, draft).await
    }

    /// A proctor's `chat`: to one student of their exam, or an announcement.
    pub async fn proctor_chat(&self, sess: &ProctorSession, msg: ProctorChatSend) -> ChatAck {
        if let Err(r) = check_text(&msg.text) {
            return rejected(r);
        }
        if let Some(student) = &msg.student_id {
            match self.on_roster(&sess.rt, student).await {
                Ok(cell) => {
                    if let Err(r) = sessions::admit(&cell) {
                        return rejected(r);
                    }
                }
                Err(r) => return rejected(r),
            }
        }
        let author = format!("proctor:{}", sess.proctor);
        if let Some(ack) = self.chat_repeat(sess.rt.id(), &author, &msg.id, &msg.text).await {
            return ack;
        }
        let now = self.clock.now_ms();
        let key = (sess.rt.id().clone(), sess.proctor.clone());
        if let KeyedTake::Refused { retry_after_ms } = lock(&self.chat_budget).try_take(&key, now) {
            return rejected(rate_limited("too many messages; wait a moment", retry_after_ms));
        }
        let draft = Draft {
            author,
            id: msg.id,
            from: ChatFrom::Proctor,
            proctor_id: Some(sess.proctor.clone()),
            student_id: msg.student_id,
            text: msg.text,
        };
        self.post_chat(&sess.rt, draft).await
    }

    /// The answer to a message stored before under the same sender's id:
    /// `duplicate` with the same text, `conflicting_duplicate` otherwise.
    async fn chat_repeat(&self, exam: &ExamId, author: &str, id: &ChatMessageId, text: &str) -> Option<ChatAck> {
        match self.store.chat_by_sender_id(exam, author, id.as_str()).await {
            Ok(None) => None,
            Ok(Some(message)) if message.text == text => Some(ChatAck::Duplicate { message }),
            Ok(Some(_)) => Some(rejected(Rejection::new(
                RejectReason::ConflictingDuplicate,
                format!("another message was sent as {id}; use a new id"),
            ))),
            Err(e) => {
                tracing::error!(error = %e, "reading a chat message failed");
                Some(rejected(unavailable("the message could not be checked; retry")))
            }
        }
    }

    /// Numbers, stores and sends a checked message.
    async fn post_chat(&self, rt: &ExamRuntime, draft: Draft) -> ChatAck {
        let mut chat = rt.chat.lock().await;
        if draft.student_id.is_none()
            && let Err(wait) = chat.announcements.try_take(self.clock.now_ms())
        {
            return rejected(rate_limited("too many announcements; wait before the next", wait));
        }
        let message = ChatMessage {
            seq: chat.last_seq + 1,
            id: draft.id,
            from: draft.from,
            proctor_id: draft.proctor_id,
            student_id: draft.student_id,
            text: draft.text,
            at: self.clock.now_ms(),
        };
        let row = ChatRow { exam_id: rt.id().clone(), author: draft.author, message };
        match self.store.insert_chat(&row).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                // The same sender's id, stored by a concurrent resend.
                drop(chat);
                let m = &row.message;
                return self
                    .chat_repeat(rt.id(), &row.author, &m.id, &m.text)
                    .await
                    .unwrap_or_else(|| rejected(unavailable("the message could not be stored; retry")));
            }
            Err(e) => {
                tracing::error!(error = %e, "storing a chat message failed");
                return rejected(unavailable("the message could not be stored; retry"));
            }
        }
        chat.last_seq = row.message.seq;
        drop(chat);
        let message = row.message;
        metrics::counter!(crate::metrics::CHAT_MESSAGES, "from" => match message.from {
            ChatFrom::Student => "student",
            ChatFrom::Proctor if message.student_id.is_none() => "announcement",
            ChatFrom::Proctor => "proctor",
        })
        .increment(1);
        let out = self.fanout.out();
        match &message.student_id {
            Some(student) => out.to_student(rt.id(), student, StudentEvent::Chat(message.clone())).await,
            None => out.to_students(rt.id(), StudentEvent::Chat(message.clone())).await,
        };
        out.to_proctors(rt.id(), ProctorEvent::Chat(message.clone())).await;
        ChatAck::Accepted { message }
    }

    /// A student's `chat_sync`: their conversation and the announcements after `after`.
    pub async fn student_chat_sync(&self, sess: &StudentSession, req: ChatSync) -> ChatHistory {
        if let Err(wait) = lock(&sess.cell.live).chat_sync_bucket.try_take(self.clock.now_ms()) {
            return ChatHistory { messages: Vec::new(), more: true, retry_after_ms: Some(wait) };
        }
        match self.chat_history(&sess.rt, sess.cell.id(), req.after).await {
            Ok(history) => history,
            Err(_) => ChatHistory { messages: Vec::new(), more: true, retry_after_ms: Some(1_000) },
        }
    }

    /// One student's conversation and the announcements after `after`, a
    /// page at a time (a proctor's read, or a student's sync).
    pub async fn chat_history(
        &self,
        rt: &ExamRuntime,
        student: &StudentId,
        after: u64,
    ) -> Result<ChatHistory, Rejection> {
        let mut messages = self.store.student_chat(rt.id(), student, after, SYNC_PAGE + 1).await.map_err(|e| {
            tracing::error!(error = %e, "reading chat failed");
            unavailable("the conversation could not be read; retry")
        })?;
        let more = messages.len() > SYNC_PAGE;
        messages.truncate(SYNC_PAGE);
        Ok(ChatHistory { messages, more, retry_after_ms: None })
    }
}
