import { describe, expect, it } from "vitest";
import type { IdentityPhoto } from "@proto";
import { PHOTO_SIDE, UPLOAD_RETRY_MS, identityKinds, photoSize, uploadPhoto, type UploadIo } from "../../src/identity.ts";

const photo: IdentityPhoto = { kind: "face", sha256: "ab".repeat(32), width: 640, height: 480, bytes: 30_000, captured_at: 1 };

function scripted(replies: Array<{ status: number; body: unknown } | "network">) {
  const waited: number[] = [];
  let posts = 0;
  const io: UploadIo = {
    post() {
      posts++;
      const r = replies.shift();
      if (!r || r === "network") return Promise.reject(new Error("network"));
      return Promise.resolve(r);
    },
    wait(ms) {
      waited.push(ms);
      return Promise.resolve();
    },
  };
  return { io, waited, posts: () => posts };
}

const refusal = (status: number, reason: string, message = reason, retry_after_ms?: number) => ({
  status,
  body: { error: { reason, message, ...(retry_after_ms === undefined ? {} : { retry_after_ms }) } },
});

describe("identity photos", () => {
  it("the exam's check says which photos, in order", () => {
    expect(identityKinds("off")).toEqual([]);
    expect(identityKinds("photo")).toEqual(["face"]);
    expect(identityKinds("photo_and_id")).toEqual(["face", "id_document"]);
  });

  it("photo size: the camera's picture, scaled down (never up) to a longest side of PHOTO_SIDE; too small is refused", () => {
    expect(photoSize(640, 480)).toEqual({ width: 640, height: 480 });
    expect(photoSize(1920, 1080)).toEqual({ width: PHOTO_SIDE, height: 720 });
    expect(photoSize(1080, 1920)).toEqual({ width: 720, height: PHOTO_SIDE });
    expect(photoSize(3840, 3840)).toEqual({ width: PHOTO_SIDE, height: PHOTO_SIDE });
    expect(photoSize(160, 120)).toEqual({ width: 160, height: 120 });
    expect(photoSize(120, 160)).toEqual({ width: 120, height: 160 });
    expect(photoSize(159, 120)).toBeNull();
    expect(photoSize(200, 100)).toBeNull();
    expect(photoSize(0, 0)).toBeNull();
  });
});

describe("uploadPhoto", () => {
  it("returns the stored photo", async () => {
    const { io, posts } = scripted([{ status: 200, body: photo }]);
    expect(await uploadPhoto(io)).toEqual({ ok: photo });
    expect(posts()).toBe(1);
  });

  it("asks again on a rate limit (after retry_after_ms), a busy server or a network error", async () => {
    const { io, waited, posts } = scripted([refusal(429, "rate_limited", "wait", 2500), "network", refusal(503, "unavailable"), { status: 200, body: photo }]);
    expect(await uploadPhoto(io)).toEqual({ ok: photo });
    expect(posts()).toBe(4);
    expect(waited).toEqual([2500, UPLOAD_RETRY_MS, UPLOAD_RETRY_MS]);
  });

  it("stops at a refusal a retry cannot change, with the server's words", async () => {
    const { io, posts } = scripted([refusal(400, "dimensions_out_of_range", "the picture is 100×80")]);
    expect(await uploadPhoto(io)).toEqual({ failed: "dimensions_out_of_range", message: "the picture is 100×80" });
    expect(posts()).toBe(1);
    const stale = scripted([refusal(409, "stale_transition", "photos are taken while waiting to start")]);
    expect(await uploadPhoto(stale.io)).toMatchObject({ failed: "stale_transition" });
  });

  it("gives up after maxTries, saying why", async () => {
    const { io, posts } = scripted(["network", "network", "network"]);
    expect(await uploadPhoto(io, 3)).toEqual({ failed: "unavailable", message: "the server could not be reached" });
    expect(posts()).toBe(3);
  });

  it("a 200 that is not a photo is not taken for one", async () => {
    const { io } = scripted([{ status: 200, body: { nonsense: true } }]);
    expect(await uploadPhoto(io)).toMatchObject({ failed: "http_200" });
  });
});
