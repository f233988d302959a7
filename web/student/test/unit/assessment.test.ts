import { describe, expect, it } from "vitest";
import type { StartAssessment } from "@proto";
import { accessCode, handBack, RETRY_MS, type HandBackIo } from "../../src/assessment.ts";

const MESSAGE: StartAssessment = { url: "https://lms.example.edu/start", jwt: "a.b.c" };
const refusal = (status: number, reason: string, retry_after_ms?: number) => ({
  status,
  body: { error: { reason, message: `refused: ${reason}`, retry_after_ms } },
});

/** Answers in order (the last repeats); records what the page did. */
function io(answers: Array<{ status: number; body: unknown } | Error>) {
  const posted: StartAssessment[] = [];
  const waits: number[] = [];
  const statuses: string[] = [];
  let asked = 0;
  const fake: HandBackIo = {
    request: () => {
      const a = answers[Math.min(asked++, answers.length - 1)];
      if (a === undefined) throw new Error("no answers");
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    post: (m) => posted.push(m),
    wait: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    status: (t) => void statuses.push(t),
  };
  return { fake, posted, waits, statuses, asked: () => asked };
}

describe("handing the attempt back to the platform", () => {
  it("asks again while the camera connects, then posts the message once", async () => {
    const t = io([refusal(422, "not_publishing"), new Error("offline"), refusal(429, "rate_limited", 5000), { status: 200, body: MESSAGE }]);
    expect(await handBack(t.fake)).toEqual({ kind: "posted" });
    expect(t.posted).toEqual([MESSAGE]);
    expect(t.waits).toEqual([RETRY_MS, RETRY_MS, 5000]);
    expect(t.statuses.at(-1)).toBe("Opening your exam…");
  });

  it("stops at an ended attempt or a refusal that retrying cannot change", async () => {
    const ended = io([refusal(409, "already_ended")]);
    expect(await handBack(ended.fake)).toEqual({ kind: "ended" });
    const none = io([refusal(422, "no_lti_attempt")]);
    expect(await handBack(none.fake)).toEqual({ kind: "failed", message: "refused: no_lti_attempt" });
    expect(none.asked()).toBe(1);
    // A 200 that is not the message is not posted.
    const odd = io([{ status: 200, body: { url: "javascript:alert(1)", jwt: "x" } }]);
    expect((await handBack(odd.fake)).kind).toBe("failed");
    expect(odd.posted).toEqual([]);
  });

  it("gives up after the last try and says why", async () => {
    const t = io([refusal(422, "not_publishing")]);
    const result = await handBack(t.fake, 3);
    expect(result.kind).toBe("failed");
    expect(t.asked()).toBe(3);
    expect(t.posted).toEqual([]);
  });
});

describe("the exam's access code", () => {
  it("waits for the camera, then gives the code; an exam without one needs none", async () => {
    const t = io([refusal(422, "not_publishing"), { status: 200, body: { code: "tulip-42" } }]);
    expect(await accessCode(t.fake)).toEqual({ code: "tulip-42" });
    expect(t.waits).toEqual([RETRY_MS]);
    expect(await accessCode(io([refusal(404, "no_access_code")]).fake)).toEqual({ code: null });
    expect(await accessCode(io([refusal(401, "expired_token")]).fake)).toEqual({ failed: "refused: expired_token" });
    expect(await accessCode(io([{ status: 200, body: { code: "" } }]).fake, 1)).toHaveProperty("failed");
  });
});
