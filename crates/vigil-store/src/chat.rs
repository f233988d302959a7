//! Chat messages and identity-check photos.

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use sqlx::{AnyConnection, Row};
use vigil_proto::events::{ChatFrom, ChatMessage};
use vigil_proto::{ExamId, IdentityPhotoKind, StudentId, UnixMillis};

use crate::writer::Write;
use crate::{Result, Store, StoreError, parse_id, to_i64};

/// A chat message to store, with who sent it: `author` is `student:<id>`
/// or `proctor:<id>`, so two senders' ids for their messages never meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRow {
    pub exam_id: ExamId,
    pub author: String,
    pub message: ChatMessage,
}

/// Metadata of a student's identity photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPhotoRow {
    pub exam_id: ExamId,
    pub student_id: StudentId,
    pub kind: IdentityPhotoKind,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub captured_at: UnixMillis,
    pub received_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// Identity photos are kept apart from evidence, one path per student and
/// hash, so that purging one never touches the other's bytes.
fn identity_path(exam: &ExamId, student: &StudentId, sha256: &str) -> ObjectPath {
    ObjectPath::from(format!("identity/{exam}/{student}/{sha256}.jpg"))
}

/// The columns a `ChatMessage` is read from (a macro, so queries stay
/// static strings).
macro_rules! chat_columns {
    () => {
        "seq, client_id, from_role, proctor_id, student_id, body, at"
    };
}

fn chat_from_row(r: &sqlx::any::AnyRow) -> Result<ChatMessage> {
    let seq: i64 = r.get("seq");
    let from: String = r.get("from_role");
    Ok(ChatMessage {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("chat seq".into()))?,
        id: parse_id(r.get("client_id"))?,
        from: match from.as_str() {
            "student" => ChatFrom::Student,
            "proctor" => ChatFrom::Proctor,
            other => return Err(StoreError::Corrupt(format!("chat sender {other}"))),
        },
        proctor_id: r.get::<Option<String>, _>("proctor_id").map(parse_id).transpose()?,
        student_id: r.get::<Option<String>, _>("student_id").map(parse_id).transpose()?,
        text: r.get("body"),
        at: r.get("at"),
    })
}

fn photo_from_row(exam_id: &ExamId, r: &sqlx::any::AnyRow) -> Result<IdentityPhotoRow> {
    let kind: String = r.get("kind");
    let num = |col: &str| -> Result<i64> { Ok(r.get::<i64, _>(col)) };
    let corrupt = |e: std::num::TryFromIntError| StoreError::Corrupt(e.to_string());
    Ok(IdentityPhotoRow {
        exam_id: exam_id.clone(),
        student_id: parse_id(r.get("student_id"))?,
        kind: IdentityPhotoKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("photo kind {kind}")))?,
        sha256: r.get("sha256"),
        width: u32::try_from(num("width")?).map_err(corrupt)?,
        height: u32::try_from(num("height")?).map_err(corrupt)?,
        bytes: u64::try_from(num("bytes")?).map_err(corrupt)?,
        captured_at: r.get("captured_at"),
        received_at: r.get("received_at"),
        expires_at: r.get("expires_at"),
    })
}

impl Store {
    // ------------------------------------------------------------ chat

    /// Stores a message durably. A `seq` or a sender's id used before is
    /// refused (`AlreadyExists`): look the id up with [`Store::chat_by_sender_id`].
    pub async fn insert_chat(&self, row: &ChatRow) -> Result<()> {
        self.write(Write::Chat(row.clone())).await
    }

    /// The message `author` stored under its id `client_id`, if any.
    pub async fn chat_by_sender_id(
        &self,
        exam_id: &ExamId,
        author: &str,
        client_id: &str,
    ) -> Result<Option<ChatMessage>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chat_messages WHERE exam_id = $1 AND author = $2 AND client_id = $3"
        ))
        .bind(exam_id.as_str())
        .bind(author)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| chat_from_row(&r)).transpose()
    }

    /// The highest message number used in the exam (0: none yet).
    pub async fn last_chat_seq(&self, exam_id: &ExamId) -> Result<u64> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM chat_messages WHERE exam_id = $1")
            .bind(exam_id.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get::<Option<i64>, _>("seq").and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
    }

    /// One student's conversation and the exam's announcements after
    /// `after`, in order, at most `limit`.
    pub async fn student_chat(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chat_messages WHERE exam_id = $1 AND (student_id = $2 OR student_id IS NULL) AND seq > $3 \
             ORDER BY seq LIMIT $4"
        ))
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .bind(to_i64(after)?)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(chat_from_row).collect()
    }

    // ------------------------------------------------------------ identity photos

    /// Stores a photo, replacing the student's earlier one of its kind (whose
    /// bytes are then deleted).
    pub async fn put_identity_photo(&self, row: &IdentityPhotoRow, jpeg: Bytes) -> Result<()> {
        let earlier = self.identity_photo(&row.exam_id, &row.student_id, row.kind).await?;
        let path = identity_path(&row.exam_id, &row.student_id, &row.sha256);
        self.blobs.put(&path, PutPayload::from_bytes(jpeg)).await?;
        if let Err(e) = self.write(Write::IdentityPhoto(row.clone())).await {
            if earlier.as_ref().is_none_or(|e| e.sha256 != row.sha256) {
                let _ = self.blobs.delete(&path).await;
            }
            return Err(e);
        }
        if let Some(old) = earlier.filter(|e| e.sha256 != row.sha256) {
            self.delete_identity_blob(&old).await?;
        }
        Ok(())
    }

    pub(crate) async fn delete_identity_blob(&self, row: &IdentityPhotoRow) -> Result<()> {
        match self.blobs.delete(&identity_path(&row.exam_id, &row.student_id, &row.sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A student's photo of `kind`, if one is kept.
    pub async fn identity_photo(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        kind: IdentityPhotoKind,
    ) -> Result<Option<IdentityPhotoRow>> {
        let row = sqlx::query("SELECT * FROM identity_photos WHERE exam_id = $1 AND student_id = $2 AND kind = $3")
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| photo_from_row(exam_id, &r)).transpose()
    }

    /// A student's kept photos.
    pub async fn identity_photos(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<Vec<IdentityPhotoRow>> {
        let rows = sqlx::query("SELECT * FROM identity_photos WHERE exam_id = $1 AND student_id = $2 ORDER BY kind")
            .bind(exam_id.as_str())
            .bind(student_id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| photo_from_row(exam_id, r)).collect()
    }

    /// The bytes of a kept photo.
    pub async fn identity_photo_bytes(&self, row: &IdentityPhotoRow) -> Result<Bytes> {
        let path = identity_path(&row.exam_id, &row.student_id, &row.sha256);
        Ok(self.blobs.get(&path).await?.bytes().await?)
    }

    /// Deletes identity photos past their exam's retention; returns how many went.
    pub async fn purge_expired_identity(&self, now: UnixMillis) -> Result<usize> {
        let rows = sqlx::query("SELECT exam_id FROM identity_photos WHERE expires_at <= $1")
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let mut purged = 0;
        for r in rows {
            let exam_id: ExamId = parse_id(r.get("exam_id"))?;
            let expired = sqlx::query("SELECT * FROM identity_photos WHERE exam_id = $1 AND expires_at <= $2")
                .bind(exam_id.as_str())
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
            for row in expired.iter().map(|r| photo_from_row(&exam_id, r)) {
                let row = row?;
                // Bytes first, as for evidence: never a photo past its
                // retention that no row points to.
                self.delete_identity_blob(&row).await?;
                self.write(Write::ForgetIdentityPhoto {
                    exam_id: row.exam_id.clone(),
                    student_id: row.student_id.clone(),
                    kind: row.kind,
                    sha256: row.sha256.clone(),
                })
                .await?;
                purged += 1;
            }
        }
        Ok(purged)
    }
}

pub(crate) async fn apply_chat(conn: &mut AnyConnection, row: &ChatRow) -> Result<()> {
    let m = &row.message;
    sqlx::query(
        "INSERT INTO chat_messages (exam_id, seq, author, client_id, from_role, proctor_id, student_id, body, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(row.exam_id.as_str())
    .bind(to_i64(m.seq)?)
    .bind(&row.author)
    .bind(m.id.as_str())
    .bind(match m.from {
        ChatFrom::Student => "student",
        ChatFrom::Proctor => "proctor",
    })
    .bind(m.proctor_id.as_ref().map(|p| p.as_str()))
    .bind(m.student_id.as_ref().map(|s| s.as_str()))
    .bind(&m.text)
    .bind(m.at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn apply_identity_photo(conn: &mut AnyConnection, p: &IdentityPhotoRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO identity_photos (exam_id, student_id, kind, sha256, width, height, bytes, captured_at, \
         received_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (exam_id, student_id, kind) DO UPDATE SET sha256 = excluded.sha256, width = excluded.width, \
         height = excluded.height, bytes = excluded.bytes, captured_at = excluded.captured_at, \
         received_at = excluded.received_at, expires_at = excluded.expires_at",
    )
    .bind(p.exam_id.as_str())
    .bind(p.student_id.as_str())
    .bind(p.kind.as_str())
    .bind(&p.sha256)
    .bind(i64::from(p.width))
    .bind(i64::from(p.height))
    .bind(to_i64(p.bytes)?)
    .bind(p.captured_at)
    .bind(p.received_at)
    .bind(p.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn forget_identity_photo(
    conn: &mut AnyConnection,
    exam_id: &ExamId,
    student_id: &StudentId,
    kind: IdentityPhotoKind,
    sha256: &str,
) -> Result<()> {
    // Only the row for those bytes: a retake stored meanwhile stays.
    sqlx::query("DELETE FROM identity_photos WHERE exam_id = $1 AND student_id = $2 AND kind = $3 AND sha256 = $4")
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .bind(kind.as_str())
        .bind(sha256)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
