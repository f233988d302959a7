import { describe, expect, it } from "vitest";
import { Api, ApiError } from "./api";

/** A fetch that records requests and answers from a table. */
function fakeFetch(answer: (url: string) => Response) {
  const requests: { url: string; auth: string | null; method?: string; body?: unknown }[] = [];
  const fetchFn = (input: string, init?: RequestInit) => {
    const url = input;
    requests.push({
      url,
      auth: new Headers(init?.headers).get("authorization"),
      ...(init?.method ? { method: init.method } : {}),
      ...(typeof init?.body === "string" ? { body: JSON.parse(init.body) as unknown } : {}),
    });
    return Promise.resolve(answer(url));
  };
  return { requests, fetchFn: fetchFn as unknown as typeof fetch };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("the proctor's API", () => {
  it("reads a conversation page, identity photos and one photo with the Bearer token", async () => {
    const { requests, fetchFn } = fakeFetch((url) => {
      if (url.includes("/chat")) return json({ messages: [], more: false });
      if (url.endsWith("/identity")) return json({ photos: [{ kind: "face", sha256: "ab", width: 320, height: 240, bytes: 9, captured_at: 1 }] });
      return new Response(new Uint8Array([0xff, 0xd8, 0xff]), { headers: { "content-type": "image/jpeg" } });
    });
    const api = new Api("http://vigil.test", "ex 1", "TOKEN", fetchFn);
    expect(await api.chat("s/1", 42)).toEqual({ messages: [], more: false });
    expect((await api.identityPhotos("s/1")).photos[0]!.kind).toBe("face");
    const blob = await api.identityPhoto("s/1", "id_document");
    expect(blob.size).toBe(3);
    expect(requests).toEqual([
      { url: "http://vigil.test/api/v1/exams/ex%201/students/s%2F1/chat?after=42", auth: "Bearer TOKEN" },
      { url: "http://vigil.test/api/v1/exams/ex%201/students/s%2F1/identity", auth: "Bearer TOKEN" },
      { url: "http://vigil.test/api/v1/exams/ex%201/students/s%2F1/identity/id_document", auth: "Bearer TOKEN" },
    ]);
  });

  it("carries the server's reason and retry delay in its errors", async () => {
    const { fetchFn } = fakeFetch(() => json({ error: { reason: "rate_limited", message: "slow down", retry_after_ms: 700 } }, 429));
    const err = await new Api("http://vigil.test", "e", "T", fetchFn).chat("s", 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, reason: "rate_limited", retryAfterMs: 700, message: "rate_limited: slow down" });
    expect((err as ApiError).fatal).toBe(false);
  });

  it("reads the review queue and a student's record, and writes decisions and incident readings", async () => {
    const decision = { version: 2, verdict: "concern", note: "seen twice", reviewer: "p1", at: 5, previous: "no_concern" };
    const { requests, fetchFn } = fakeFetch((url) => {
      if (url.endsWith("/review") && url.includes("/incidents/")) return json({ incident_id: "i 1", verdict: "dismissed", note: "glare", reviewer: "p1", at: 6 });
      if (url.endsWith("/review") && url.includes("/students/")) return json({ student: { id: "s/1", name: "S" } });
      if (url.endsWith("/review")) return json({ students: [], decided: 0 });
      return json(decision);
    });
    const api = new Api("http://vigil.test", "ex", "TOKEN", fetchFn);
    expect(await api.reviewQueue()).toMatchObject({ decided: 0 });
    expect((await api.studentReview("s/1")).student.id).toBe("s/1");
    expect(await api.putDecision("s/1", { verdict: "concern", note: "seen twice", based_on: 1 })).toEqual(decision);
    expect((await api.putIncidentReview("s/1", "i 1", { verdict: "dismissed", note: "glare" })).verdict).toBe("dismissed");
    expect(requests).toEqual([
      { url: "http://vigil.test/api/v1/exams/ex/review", auth: "Bearer TOKEN" },
      { url: "http://vigil.test/api/v1/exams/ex/students/s%2F1/review", auth: "Bearer TOKEN" },
      { url: "http://vigil.test/api/v1/exams/ex/students/s%2F1/decision", auth: "Bearer TOKEN", method: "PUT", body: { verdict: "concern", note: "seen twice", based_on: 1 } },
      { url: "http://vigil.test/api/v1/exams/ex/students/s%2F1/incidents/i%201/review", auth: "Bearer TOKEN", method: "PUT", body: { verdict: "dismissed", note: "glare" } },
    ]);
  });

  it("carries a stale decision's refusal (409 stale_transition) to the caller", async () => {
    const { fetchFn } = fakeFetch(() => json({ error: { reason: "stale_transition", message: "p2 decided meanwhile" } }, 409));
    const err = await new Api("http://vigil.test", "e", "T", fetchFn).putDecision("s", { verdict: "concern", note: "x", based_on: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, reason: "stale_transition", message: "stale_transition: p2 decided meanwhile" });
  });
});
