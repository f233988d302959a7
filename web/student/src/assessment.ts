// The learning platform's assessment (LTI Proctoring Services): once
// proctoring is live, the page asks the server for the signed
// LtiStartAssessment message and form-posts it into the exam frame, so the
// platform opens the assessment beside the proctoring status. The server
// decides whether proctoring is live (the camera publishing); the page only
// asks again while the camera is still connecting.

import type { ErrorBody, StartAssessment } from "@proto";

/** The name of the frame the assessment opens in (the form's target). */
export const ASSESSMENT_FRAME = "vigil-assessment";
/** The form field the platform reads the message from (LTI Proctoring Services 1.0). */
const MESSAGE_FIELD = "JWT";
/** How often the page asks again while the camera connects (the server allows 2 a second). */
export const RETRY_MS = 2000;
/** Asking stops after this many tries (three minutes at RETRY_MS). */
export const MAX_TRIES = 90;

export type HandBackResult = { kind: "posted" } | { kind: "ended" } | { kind: "failed"; message: string };

/** The I/O hand-back needs, injected so the rules can be tested without a browser. */
export interface HandBackIo {
  /** `POST /api/v1/lti/start-assessment`; throws when the network fails. */
  request(): Promise<{ status: number; body: unknown }>;
  /** Posts the message into the exam frame. */
  post(message: StartAssessment): void;
  wait(ms: number): Promise<void>;
  /** A sentence for the student about what is happening. */
  status(text: string): void;
}

function isStartAssessment(body: unknown): body is StartAssessment {
  const b = body as Partial<StartAssessment> | null;
  return typeof b?.url === "string" && typeof b.jwt === "string" && /^https?:\/\//.test(b.url);
}

/** Asks until the server hands the attempt back, then posts it into the frame. */
export async function handBack(io: HandBackIo, maxTries = MAX_TRIES): Promise<HandBackResult> {
  for (let i = 0; i < maxTries; i++) {
    let res: { status: number; body: unknown };
    try {
      res = await io.request();
    } catch {
      io.status("Reconnecting to vigil before your exam opens…");
      await io.wait(RETRY_MS);
      continue;
    }
    if (res.status === 200 && isStartAssessment(res.body)) {
      io.status("Opening your exam…");
      io.post(res.body);
      return { kind: "posted" };
    }
    const error = (res.body as Partial<ErrorBody> | null)?.error;
    switch (error?.reason) {
      case "not_publishing":
        io.status("Your exam opens as soon as your camera is connected to the proctoring service…");
        await io.wait(RETRY_MS);
        continue;
      case "rate_limited":
      case "unavailable":
        await io.wait(Math.max(RETRY_MS, error.retry_after_ms ?? RETRY_MS));
        continue;
      case "already_ended":
        return { kind: "ended" };
      default:
        return { kind: "failed", message: error?.message ?? `vigil answered ${res.status}` };
    }
  }
  return { kind: "failed", message: "your camera did not connect to the proctoring service; reload the page to try again" };
}

/** Posts `message` as the platform expects it (one form field) into the frame named `target`. */
export function postToFrame(doc: Document, message: StartAssessment, target: string): void {
  const form = doc.createElement("form");
  form.method = "post";
  form.action = message.url;
  form.target = target;
  form.hidden = true;
  const field = doc.createElement("input");
  field.type = "hidden";
  field.name = MESSAGE_FIELD;
  field.value = message.jwt;
  form.append(field);
  doc.body.append(form);
  form.submit();
  form.remove();
}
