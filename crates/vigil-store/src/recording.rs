//! Recorded camera video (issue 17): WebM or MP4 segments as blobs, a row
//! each.
//!
//! The blob is written before its row, and deleted before its row, as for
//! evidence: a crash between the two leaves a row whose segment reads as
//! missing, never video no row accounts for.

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use sqlx::{AnyConnection, Row};
use vigil_proto::review::{RecordingContainer, RecordingSegment};
use vigil_proto::{ExamId, StudentId};

use crate::writer::Write;
use crate::{Result, Store, StoreError, parse_id, to_i64};

/// One stored segment of a student's recording. The segment's `sha256`
/// (of the file's bytes) names the blob, and a repeat of the same segment (a
/// retried store) is the same row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSegmentRow {
    pub exam_id: ExamId,
    pub student_id: StudentId,
    pub segment: RecordingSegment,
}

/// Recordings are kept per exam and student, apart from evidence and
/// identity photos, so that erasing one never touches the others' bytes.
fn segment_path(exam: &ExamId, student: &StudentId, segment: &RecordingSegment) -> ObjectPath {
    let (sha256, ext) = (&segment.sha256, segment.container.as_str());
    ObjectPath::from(format!("recordings/{exam}/{student}/{sha256}.{ext}"))
}

fn parse_container(word: &str) -> Option<RecordingContainer> {
    [RecordingContainer::Webm, RecordingContainer::Mp4].into_iter().find(|c| c.as_str() == word)
}

fn segment_from_row(exam_id: &ExamId, r: &sqlx::any::AnyRow) -> Result<RecordingSegmentRow> {
    let corrupt = |col: &str| StoreError::Corrupt(format!("recording segment {col}"));
    let unsigned = |col: &str| u64::try_from(r.get::<i64, _>(col)).map_err(|_| corrupt(col));
    let small = |col: &str| u32::try_from(r.get::<i64, _>(col)).map_err(|_| corrupt(col));
    Ok(RecordingSegmentRow {
        exam_id: exam_id.clone(),
        student_id: parse_id(r.get("student_id"))?,
        segment: RecordingSegment {
            sha256: r.get("sha256"),
            container: parse_container(&r.get::<String, _>("container")).ok_or_else(|| corrupt("container"))?,
            started_at: r.get("started_at"),
            duration_ms: unsigned("duration_ms")?,
            frames: unsigned("frames")?,
            keyframes: unsigned("keyframes")?,
            width: small("width")?,
            height: small("height")?,
            bytes: unsigned("bytes")?,
        },
    })
}

impl Store {
    /// Stores a segment: its bytes, then its row. Storing the same segment
    /// again is harmless.
    pub async fn put_recording_segment(&self, row: &RecordingSegmentRow, file: Bytes) -> Result<()> {
        let path = segment_path(&row.exam_id, &row.student_id, &row.segment);
        self.blobs.put(&path, PutPayload::from_bytes(file)).await?;
        let res = self.write(Write::RecordingSegment(row.clone())).await;
        if res.is_err() {
            // No row, no bytes: video nobody can account for must not linger.
            let _ = self.blobs.delete(&path).await;
        }
        res
    }

    /// A student's segments, in the order they were recorded.
    pub async fn recording_segments(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
    ) -> Result<Vec<RecordingSegmentRow>> {
        let rows = sqlx::query(
            "SELECT * FROM recording_segments WHERE exam_id = $1 AND student_id = $2 ORDER BY started_at, sha256",
        )
        .bind(exam_id.as_str())
        .bind(student_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| segment_from_row(exam_id, r)).collect()
    }

    /// One of the student's segments and its bytes; `None` if the student
    /// has no segment with that hash (the caller checked who may see it).
    pub async fn recording_segment_bytes(
        &self,
        exam_id: &ExamId,
        student_id: &StudentId,
        sha256: &str,
    ) -> Result<Option<(RecordingSegment, Bytes)>> {
        let row =
            sqlx::query("SELECT * FROM recording_segments WHERE exam_id = $1 AND student_id = $2 AND sha256 = $3")
                .bind(exam_id.as_str())
                .bind(student_id.as_str())
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let segment = segment_from_row(exam_id, &row)?.segment;
        let bytes = self.blobs.get(&segment_path(exam_id, student_id, &segment)).await?.bytes().await?;
        Ok(Some((segment, bytes)))
    }

    /// Deletes the bytes of every segment of the student (their rows go
    /// with the student's other rows, see `erase_student`); returns how
    /// many segments there were.
    pub(crate) async fn delete_recording_blobs(&self, exam_id: &ExamId, student_id: &StudentId) -> Result<u64> {
        let segments = self.recording_segments(exam_id, student_id).await?;
        for s in &segments {
            match self.blobs.delete(&segment_path(exam_id, student_id, &s.segment)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(segments.len() as u64)
    }
}

pub(crate) async fn apply_recording_segment(conn: &mut AnyConnection, row: &RecordingSegmentRow) -> Result<()> {
    let s = &row.segment;
    sqlx::query(
        "INSERT INTO recording_segments (exam_id, student_id, sha256, started_at, duration_ms, frames, keyframes, \
         width, height, bytes, container) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (exam_id, student_id, sha256) DO NOTHING",
    )
    .bind(row.exam_id.as_str())
    .bind(row.student_id.as_str())
    .bind(&s.sha256)
    .bind(s.started_at)
    .bind(to_i64(s.duration_ms)?)
    .bind(to_i64(s.frames)?)
    .bind(to_i64(s.keyframes)?)
    .bind(i64::from(s.width))
    .bind(i64::from(s.height))
    .bind(to_i64(s.bytes)?)
    .bind(s.container.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
