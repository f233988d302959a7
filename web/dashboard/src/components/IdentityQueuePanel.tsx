import { useEffect, useRef, useState } from "react";
import type { IdentityPhoto, IdentityPhotoKind } from "@proto";
import { useIdentityQueue, type QueueItem } from "../identity/queue";
import { useStudent } from "../store/scoreStore";
import { clock, useConnectionStatus, useServices } from "../services";
import { useEscape } from "./useEscape";

export const PHOTO_LABEL: Record<IdentityPhotoKind, string> = { face: "Face", id_document: "Identity document" };

/** A reason is required: the student reads it and retakes their photos. */
const REASON_MAX_CHARS = 500;

interface Decision {
  at: number;
  name: string;
  text: string;
  ok: boolean;
}

/**
 * The identity checks waiting for a proctor, oldest first: each student's
 * photos, Approve, and Reject with the reason the student will read. A
 * decided student leaves the queue when the server says their session
 * moved on (the `session` event), not when the button is pressed.
 *
 * Keyboard: everything is a native button or field in reading order; on
 * opening, and whenever the item holding the focus leaves the queue, the
 * focus goes to the first waiting student's Approve (or the heading).
 */
export function IdentityQueuePanel({ onClose }: { onClose: () => void }) {
  const { identity } = useServices();
  const items = useIdentityQueue(identity);
  const [decisions, setDecisions] = useState<Decision[]>([]);
  const panelRef = useRef<HTMLElement>(null);
  const headRef = useRef<HTMLHeadingElement>(null);
  useEscape(onClose);

  useEffect(() => {
    const panel = panelRef.current;
    if (!panel || panel.contains(document.activeElement)) return;
    const first = panel.querySelector<HTMLButtonElement>(".idq__approve:not(:disabled)");
    (first ?? headRef.current)?.focus();
  }, [items]);

  const decided = (d: Decision) => setDecisions((list) => [d, ...list].slice(0, 20));

  return (
    <div className="drawer-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <aside ref={panelRef} className="drawer idq" role="dialog" aria-modal="true" aria-label="Identity checks">
        <header className="drawer__head">
          <h2 ref={headRef} tabIndex={-1}>
            Identity checks <span className="idq__count">({items.length} waiting)</span>
          </h2>
          <button type="button" onClick={onClose} aria-label="Close (Esc)">
            ✕ Close
          </button>
        </header>
        {items.length === 0 ? (
          <p className="status">No identity checks are waiting.</p>
        ) : (
          <ol className="idq__list">
            {items.map((it) => (
              <IdentityReview key={it.id} item={it} onDecided={decided} />
            ))}
          </ol>
        )}
        {decisions.length > 0 && (
          <>
            <h3>Decided here</h3>
            <ul className="results" aria-live="polite">
              {decisions.map((d, i) => (
                <li key={i} className={d.ok ? "result--ok" : "result--bad"}>
                  {d.ok ? "✓" : "✗"} {d.name} · {d.text} · {clock(d.at)}
                </li>
              ))}
            </ul>
          </>
        )}
      </aside>
    </div>
  );
}

function IdentityReview({ item, onDecided }: { item: QueueItem; onDecided: (d: Decision) => void }) {
  const { api, connection, identity } = useServices();
  const s = useStudent(item.id);
  const live = useConnectionStatus().kind === "live";
  const name = s?.student.name ?? item.id;
  const [photos, setPhotos] = useState<{ kind: "loading" } | { kind: "error"; text: string } | { kind: "ok"; list: readonly IdentityPhoto[] }>({
    kind: "loading",
  });
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<string | null>(null);
  const reasonRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let on = true;
    api.identityPhotos(item.id).then(
      (p) => {
        if (!on) return;
        setPhotos({ kind: "ok", list: p.photos });
      },
      (e: unknown) => on && setPhotos({ kind: "error", text: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      on = false;
    };
  }, [api, identity, item.id]);

  const decide = async (kind: "approve_identity" | "reject_identity", text?: string) => {
    setBusy(true);
    setSaid(null);
    const ack = await connection.action({ student_id: item.id, kind, ...(text ? { text } : {}) });
    setBusy(false);
    const verb = kind === "approve_identity" ? "approved" : `rejected (${text})`;
    if (ack.status === "ok") {
      onDecided({ at: Date.now(), name, text: verb, ok: true });
    } else {
      const why = `${kind === "approve_identity" ? "Approve" : "Reject"} refused — ${ack.reason}: ${ack.message}`;
      setSaid(why);
      onDecided({ at: Date.now(), name, text: why, ok: false });
    }
  };

  return (
    <li className="idq__item" data-student={item.id}>
      <h3>
        {name} <span className="idq__since">· waiting since {clock(item.since)}</span>
      </h3>
      <div className="idq__photos">
        {photos.kind === "loading" && <p className="status">Loading photos…</p>}
        {photos.kind === "error" && <p className="status status--error">Could not list the photos: {photos.text}</p>}
        {photos.kind === "ok" && photos.list.length === 0 && <p className="status">No photos were sent.</p>}
        {photos.kind === "ok" && photos.list.map((p) => <IdentityImage key={p.kind + p.sha256} student={item.id} name={name} photo={p} />)}
      </div>
      <div className="idq__decide">
        <button type="button" className="idq__approve" disabled={busy || !live} onClick={() => void decide("approve_identity")} aria-label={`Approve ${name}`}>
          ✓ Approve
        </button>
        <form
          className="idq__reject"
          onSubmit={(e) => {
            e.preventDefault();
            const why = reason.trim();
            if (!why) {
              setSaid("Give a reason: the student reads it before retaking their photos.");
              reasonRef.current?.focus();
              return;
            }
            void decide("reject_identity", why);
          }}
        >
          <input
            ref={reasonRef}
            aria-label={`Reason for rejecting ${name}`}
            placeholder="Reason (the student reads it)"
            maxLength={REASON_MAX_CHARS}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
          <button type="submit" className="danger" disabled={busy || !live} aria-label={`Reject ${name}`}>
            ✗ Reject
          </button>
        </form>
      </div>
      {said && (
        <p className="status status--error" role="alert">
          {said}
        </p>
      )}
    </li>
  );
}

/**
 * One identity photo. The JPEG needs the Bearer token, so it is fetched
 * and shown from a blob URL, revoked when the image goes (or changes).
 */
function IdentityImage({ student, name, photo }: { student: string; name: string; photo: IdentityPhoto }) {
  const { api } = useServices();
  const [src, setSrc] = useState<string | { error: string } | null>(null);
  useEffect(() => {
    let url: string | undefined;
    let on = true;
    api.identityPhoto(student, photo.kind).then(
      (blob) => {
        url = URL.createObjectURL(blob);
        if (on) setSrc(url);
        else URL.revokeObjectURL(url);
      },
      (e: unknown) => on && setSrc({ error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      on = false;
      if (url) URL.revokeObjectURL(url);
    };
    // A new upload of a kind has a new sha256: fetch again.
  }, [api, student, photo.kind, photo.sha256]);
  const label = PHOTO_LABEL[photo.kind] ?? photo.kind;
  return (
    <figure className="idq__photo" data-kind={photo.kind}>
      {src === null && <div className="idq__img idq__img--none">Loading…</div>}
      {src !== null && typeof src !== "string" && <div className="idq__img idq__img--none">Unavailable ({src.error})</div>}
      {typeof src === "string" && <img className="idq__img" src={src} alt={`${label} photo of ${name}`} />}
      <figcaption>
        {label} · {photo.width}×{photo.height} · taken {clock(photo.captured_at)}
      </figcaption>
    </figure>
  );
}
