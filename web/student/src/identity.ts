// The identity check's rules, without the DOM: which photos the exam asks
// for, how big a photo is made from the camera picture, and the upload of
// one photo (asked again while the server is busy or rate limits it).
// screens/identity.ts takes the photos; the proctors decide.

import type { ErrorBody, IdentityCheck, IdentityPhoto, IdentityPhotoKind } from "@proto";

/** The server's limits for a photo: bytes, and each side in pixels. */
export const MAX_PHOTO_BYTES = 512 * 1024;
/** 160×120 at the least (either way round: a phone's camera may be upright). */
export const MIN_LONG_SIDE = 160;
export const MIN_SHORT_SIDE = 120;
/**
 * The longest side a photo is made at: a face or an ID card held up to a
 * webcam is readable there, and the JPEG stays well under the byte limit.
 */
export const PHOTO_SIDE = 1280;
/** JPEG qualities tried in turn until the photo fits in MAX_PHOTO_BYTES. */
export const JPEG_QUALITIES = [0.85, 0.7, 0.55, 0.4] as const;

/** The photos the exam asks for, in the order they are taken. */
export function identityKinds(check: IdentityCheck): IdentityPhotoKind[] {
  switch (check) {
    case "off":
      return [];
    case "photo":
      return ["face"];
    case "photo_and_id":
      return ["face", "id_document"];
  }
}

/** What the student is asked to do for each photo. */
export const KIND_TEXT: Record<IdentityPhotoKind, { title: string; short: string; how: string }> = {
  face: {
    title: "A photo of your face",
    short: "your face",
    how: "Look at the camera with your whole face in the picture and light in front of you.",
  },
  id_document: {
    title: "A photo of your ID document",
    short: "your ID document",
    how: "Hold your ID document (student card, passport or identity card) up to the camera, photo side towards it, close enough that it can be read.",
  },
};

/**
 * The photo's size for a camera picture of `width`×`height`: scaled down
 * (never up) so that its longest side is at most PHOTO_SIDE; null when the
 * camera gives a picture too small for the server to take.
 */
export function photoSize(width: number, height: number): { width: number; height: number } | null {
  if (!(width > 0 && height > 0)) return null;
  const scale = Math.min(1, PHOTO_SIDE / Math.max(width, height));
  const w = Math.round(width * scale);
  const hgt = Math.round(height * scale);
  if (Math.max(w, hgt) < MIN_LONG_SIDE || Math.min(w, hgt) < MIN_SHORT_SIDE) return null;
  return { width: w, height: hgt };
}

/** The I/O an upload needs: `post` throws when the network fails. */
export interface UploadIo {
  post(): Promise<{ status: number; body: unknown }>;
  wait(ms: number): Promise<void>;
}

export type UploadResult = { ok: IdentityPhoto } | { failed: string; message: string };

/** Waits between tries when the server gives no time of its own. */
export const UPLOAD_RETRY_MS = 1000;

/**
 * Uploads one photo: accepted (200), or refused for a reason a retry cannot
 * change (not a JPEG, too large, not waiting any more: the server's words
 * are shown). A rate limit, a busy server or a network error is asked again,
 * after the server's `retry_after_ms` when it gives one, up to `maxTries`.
 */
export async function uploadPhoto(io: UploadIo, maxTries = 6): Promise<UploadResult> {
  let last: UploadResult = { failed: "unavailable", message: "the server could not be reached" };
  let waitMs = 0;
  for (let i = 0; i < maxTries; i++) {
    if (i > 0) await io.wait(Math.max(UPLOAD_RETRY_MS, waitMs));
    waitMs = 0;
    let res: { status: number; body: unknown };
    try {
      res = await io.post();
    } catch {
      last = { failed: "unavailable", message: "the server could not be reached" };
      continue;
    }
    if (res.status === 200 && isPhoto(res.body)) return { ok: res.body };
    const err = (res.body as Partial<ErrorBody> | null)?.error;
    const reason = err?.reason ?? `http_${res.status}`;
    last = { failed: reason, message: err?.message ?? `the server answered ${res.status}` };
    if (!(reason === "rate_limited" || reason === "unavailable" || res.status >= 500 || res.status === 429)) return last;
    waitMs = err?.retry_after_ms ?? 0;
  }
  return last;
}

function isPhoto(body: unknown): body is IdentityPhoto {
  const b = body as Partial<IdentityPhoto> | null;
  return typeof b?.sha256 === "string" && (b.kind === "face" || b.kind === "id_document");
}
