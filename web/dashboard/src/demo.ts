/**
 * Synthetic exam data: the fixture for tests, and a live demo for the shell
 * (`/?demo=1000`) until the socket client exists. Not used in production.
 */
import type { ExamSnapshot, Level, Presence, ScoringRules, StudentView } from "@proto";
import type { ScoreStore } from "./store/scoreStore";
import { levelFor } from "./store/scoreStore";

export const DEMO_RULES: ScoringRules = { half_life_s: 300, weights: {}, watch_at: 4, alert_at: 8 };

/** Student `i`'s id: s000, s001, … */
export const demoId = (i: number): string => `s${String(i).padStart(3, "0")}`;

/** `n` students, all live, score 0 at `now`, seq 0. */
export function demoSnapshot(n: number, now = 1_700_000_000_000): ExamSnapshot {
  const students: StudentView[] = [];
  for (let i = 0; i < n; i++) {
    students.push({
      student: { id: demoId(i), name: `Student ${i + 1}` },
      score: { seq: 0, score: 0, level: "ok", as_of: now },
      presence: "live",
      quality: "good",
      session: { phase: "in_progress", closes_at: now + 3 * 3600_000, breaks_left: 0, as_of: now },
    });
  }
  return {
    exam: {
      id: "demo",
      title: "Demo exam",
      settings: {
        window: { opens_at: now, closes_at: now + 3 * 3600_000 },
        scoring: DEMO_RULES,
        privacy: "events_only",
        microphone: false,
        evidence_retention_days: 30,
        stall_after_s: 10,
        disabled_detectors: [],
        identity_check: "off",
        identity_auto_approve: false,
      },
    },
    students,
    server_time: now,
    may_configure: false,
  };
}

/** Feeds `store` a demo snapshot and random updates; returns a stop function. */
export function startDemo(store: ScoreStore, n: number, updatesPerSecond = 200): () => void {
  const seqs = new Array<number>(n).fill(0);
  const scores = new Array<number>(n).fill(0);
  store.loadSnapshot(demoSnapshot(n, Date.now()));
  const presences: Presence[] = ["live", "live", "live", "stalled", "offline"];
  const timer = setInterval(() => {
    const now = Date.now();
    for (let k = 0; k < updatesPerSecond / 10; k++) {
      const i = Math.floor(Math.random() * n);
      if (Math.random() < 0.05) {
        store.applyPresence({ student_id: demoId(i), presence: presences[Math.floor(Math.random() * 5)]!, at: now });
        continue;
      }
      scores[i] = Math.max(0, scores[i]! + (Math.random() < 0.6 ? 1 : -1.5));
      const level: Level = levelFor(scores[i], DEMO_RULES);
      seqs[i]! += 1;
      store.applyScore({ student_id: demoId(i), emitted_at: now, seq: seqs[i]!, score: scores[i], level, as_of: now });
    }
  }, 100);
  return () => clearInterval(timer);
}
