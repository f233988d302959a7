import { useCallback, useEffect, useState } from "react";
import type { Decision, ReviewQueue } from "@proto";
import { useServices } from "../services";
import { Aborted, errorText, retryRateLimited } from "../net/retry";
import { QUEUE, type Route } from "../review/route";
import { DEFAULT_QUEUE_CRITERIA, nextUndecided, withDecision, type QueueCriteria } from "../review/queue";
import { ReviewQueuePage } from "./ReviewQueue";
import { StudentReviewPage } from "./StudentReview";
import { useNavigate } from "./useRoute";

export type QueueLoad =
  | { readonly kind: "loading" }
  | { readonly kind: "error"; readonly text: string }
  | { readonly kind: "ok"; readonly queue: ReviewQueue; readonly reloading: boolean; readonly reloadError?: string };

/** A fetch starts: the list shown stays (marked), an error gives way to "loading". */
const reloading = (l: QueueLoad): QueueLoad => (l.kind === "ok" ? { ...l, reloading: true } : { kind: "loading" });

/**
 * The after-exam review: the queue (`…&view=review`) and one student's
 * page (`…&student=ID`). Holds what outlives a page change: the queue as
 * last fetched, its filters and the selected student, so that coming back
 * from a student finds the list as it was left, that student selected,
 * and the decision just made already in it.
 *
 * The queue is fetched on arrival and each time the reviewer comes back to
 * it (decisions and incident readings change the order), not while a
 * student's page is open.
 */
export function ReviewView({ route }: { route: Extract<Route, { view: "review" }> }) {
  const { api } = useServices();
  const navigate = useNavigate();
  const student = route.student;
  const [load, setLoad] = useState<QueueLoad>({ kind: "loading" });
  const [waitMs, setWaitMs] = useState<number | null>(null);
  const [criteria, setCriteria] = useState<QueueCriteria>(DEFAULT_QUEUE_CRITERIA);
  const [selected, setSelected] = useState<{ id: string | undefined; index: number }>({ id: student, index: 0 });
  // A new fetch each time the queue comes into view (and on Reload).
  const [fetches, setFetches] = useState(0);
  const [shownStudent, setShownStudent] = useState(student);
  if (shownStudent !== student) {
    setShownStudent(student);
    if (student === undefined) {
      setFetches((n) => n + 1);
      setLoad(reloading);
    }
    // The student whose page is (or was last) open is the queue's selection.
    else setSelected((s) => ({ ...s, id: student }));
  }

  useEffect(() => {
    const ctrl = new AbortController();
    retryRateLimited(() => api.reviewQueue(), { signal: ctrl.signal, onWait: setWaitMs }).then(
      (queue) => {
        if (ctrl.signal.aborted) return;
        setWaitMs(null);
        setLoad({ kind: "ok", queue, reloading: false });
      },
      (e: unknown) => {
        if (ctrl.signal.aborted || e instanceof Aborted) return;
        setWaitMs(null);
        // A failed reload keeps the list it had, and says so.
        setLoad((l) => (l.kind === "ok" ? { ...l, reloading: false, reloadError: errorText(e) } : { kind: "error", text: errorText(e) }));
      },
    );
    return () => ctrl.abort();
  }, [api, fetches]);

  const reload = useCallback(() => {
    setFetches((n) => n + 1);
    setLoad(reloading);
  }, []);
  const open = useCallback((id: string) => navigate({ view: "review", student: id }), [navigate]);
  const back = useCallback(() => navigate(QUEUE), [navigate]);
  const onDecided = useCallback((id: string, decision: Decision) => {
    setLoad((l) => (l.kind === "ok" ? { ...l, queue: withDecision(l.queue, id, decision) } : l));
  }, []);

  if (student !== undefined) {
    const queue = load.kind === "ok" ? load.queue : undefined;
    const next = queue ? nextUndecided(queue.students, student) : undefined;
    const position = queue ? queue.students.findIndex((r) => r.student.id === student) : -1;
    return (
      <StudentReviewPage
        key={student}
        id={student}
        next={next ? { id: next.student.id, name: next.student.name } : undefined}
        queueKnown={queue !== undefined}
        position={position >= 0 && queue ? { at: position + 1, of: queue.students.length } : undefined}
        onBack={back}
        onOpen={open}
        onDecided={onDecided}
      />
    );
  }
  return (
    <ReviewQueuePage
      load={load}
      waitMs={waitMs}
      criteria={criteria}
      onCriteria={setCriteria}
      selected={selected}
      onSelect={setSelected}
      onOpen={open}
      onReload={reload}
    />
  );
}
