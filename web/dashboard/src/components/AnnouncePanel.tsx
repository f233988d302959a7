import { useEffect, useRef } from "react";
import { useAnnouncements } from "../chat/chatStore";
import { useOutbox } from "../chat/outbox";
import { useStudentList } from "../store/scoreStore";
import { useServices } from "../services";
import { ChatComposer, ChatLog } from "./Chat";
import { useEscape } from "./useEscape";

/**
 * Announcements: one message to every student of the exam (a
 * `ProctorChatSend` without `student_id`), confirmed before it goes, and
 * the announcements this page has seen (sent from here or by another
 * proctor while it was open).
 */
export function AnnouncePanel({ onClose }: { onClose: () => void }) {
  const { chat, store } = useServices();
  const announcements = useAnnouncements(chat.store);
  const outbox = useOutbox(chat.outbox);
  const { counts } = useStudentList();
  const headRef = useRef<HTMLHeadingElement>(null);
  useEscape(onClose);
  useEffect(() => headRef.current?.focus(), []);
  const studentName = (sid: string) => store.getStudent(sid)?.student.name ?? sid;
  return (
    <div className="drawer-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <aside className="drawer" role="dialog" aria-modal="true" aria-label="Announce to all students">
        <header className="drawer__head">
          <h2 ref={headRef} tabIndex={-1}>
            Announce to all students
          </h2>
          <button type="button" onClick={onClose} aria-label="Close (Esc)">
            ✕ Close
          </button>
        </header>
        <p className="hint">Every student of the exam gets it in their conversation, now and when they next open the page.</p>
        <ChatComposer
          label="Announcement to every student"
          sendLabel="Send announcement"
          confirm={`Send this to all ${counts.total} student${counts.total === 1 ? "" : "s"}?`}
          onSend={(text) => chat.send(undefined, text)}
        />
        <h3>Announcements</h3>
        <ChatLog
          messages={announcements}
          pending={outbox.filter((p) => p.studentId === undefined)}
          studentName={studentName}
          empty="No announcements seen on this page yet."
        />
      </aside>
    </div>
  );
}
