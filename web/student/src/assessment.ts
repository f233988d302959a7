// The assessment in the exam frame, when it is not the page's own: the
// learning platform's (LTI Proctoring Services: once proctoring is live, the
// page asks the server for the signed LtiStartAssessment message and
// form-posts it into the frame), or the exam's assessment URL, whose access
// code the server tells only while proctoring is live. The server decides
// whether proctoring is live (the camera publishing); the page only asks
// again while the camera is still connecting.

import type { AccessCode, ErrorBody, StartAssessment } from "@proto";

/** The name of the frame the assessment opens in (the form's target). */
export const ASSESSMENT_FRAME = "vigil-assessment";
/** The form field the platform reads the message from (LTI Proctoring Services 1.0). */
const MESSAGE_FIELD = "JWT";
/** How often the page asks again while the camera connects (the server allows 2 a second). */
export const RETRY_MS = 2000;
/** Asking stops after this many tries (three minutes at RETRY_MS). */
export const MAX_TRIES = 90;

export type HandBackResult = { kind: "posted" } | { kind: "ended" } | { kind: "failed"; message: string };

/** The I/O asking needs, injected so the rules can be tested without a browser. */
export interface AskIo {
  /** The POST to the server; throws when the network fails. */
  request(): Promise<{ status: number; body: unknown }>;
  wait(ms: number): Promise<void>;
  /** A sentence for the student about what is happening. */
  status(text: string): void;
}

/** The I/O hand-back needs. */
export interface HandBackIo extends AskIo {
  /** Posts the message into the exam frame. */
  post(message: StartAssessment): void;
}

/** How asking ended: the server's answer, or a refusal that asking again cannot change. */
export type Asked<T> = { kind: "answer"; value: T } | { kind: "refused"; reason: string; message: string };

/**
 * Asks until the server answers while proctoring is live: a refusal for a
 * camera still connecting, a rate limit or a passing outage is asked again;
 * any other refusal ends it.
 */
export async function askWhenProctored<T>(io: AskIo, parse: (body: unknown) => T | null, maxTries = MAX_TRIES): Promise<Asked<T>> {
  for (let i = 0; i < maxTries; i++) {
    let res: { status: number; body: unknown };
    try {
      res = await io.request();
    } catch {
      io.status("Reconnecting to vigil…");
      await io.wait(RETRY_MS);
      continue;
    }
    const value = res.status === 200 ? parse(res.body) : null;
    if (value !== null) return { kind: "answer", value };
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
      default:
        return { kind: "refused", reason: error?.reason ?? "unexpected", message: error?.message ?? `vigil answered ${res.status}` };
    }
  }
  return { kind: "refused", reason: "timeout", message: "your camera did not connect to the proctoring service; reload the page to try again" };
}

function isStartAssessment(body: unknown): StartAssessment | null {
  const b = body as Partial<StartAssessment> | null;
  return typeof b?.url === "string" && typeof b.jwt === "string" && /^https?:\/\//.test(b.url) ? { url: b.url, jwt: b.jwt } : null;
}

/** Asks until the server hands the attempt back, then posts it into the frame. */
export async function handBack(io: HandBackIo, maxTries = MAX_TRIES): Promise<HandBackResult> {
  const asked = await askWhenProctored(io, isStartAssessment, maxTries);
  if (asked.kind === "answer") {
    io.status("Opening your exam…");
    io.post(asked.value);
    return { kind: "posted" };
  }
  return asked.reason === "already_ended" ? { kind: "ended" } : { kind: "failed", message: asked.message };
}

/** The exam's access code, once proctoring is live; `null` when the exam has none. */
export async function accessCode(io: AskIo, maxTries = MAX_TRIES): Promise<{ code: string | null } | { failed: string }> {
  const parse = (body: unknown) => {
    const code = (body as Partial<AccessCode> | null)?.code;
    return typeof code === "string" && code.length > 0 ? code : null;
  };
  const asked = await askWhenProctored(io, parse, maxTries);
  if (asked.kind === "answer") return { code: asked.value };
  return asked.reason === "no_access_code" ? { code: null } : { failed: asked.message };
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
