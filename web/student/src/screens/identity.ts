// The identity check before the exam: a photo of the student's face (and,
// when the exam asks, of an ID document held up to the camera), each shown
// for a retake before it is uploaded, then the submission to the proctors;
// and the wait for their decision. The camera preview stays on screen
// throughout. Which photos, their size and the upload's retries come from
// identity.ts; the phase machine decides which of the two screens shows.

import type { IdentityPhotoKind, RequestAck } from "@proto";
import { h, showScreen } from "../dom.ts";
import { JPEG_QUALITIES, KIND_TEXT, MAX_PHOTO_BYTES, photoSize, type UploadResult } from "../identity.ts";

export interface IdentityIo {
  /** A new `<video>` of the camera. */
  video(): HTMLVideoElement;
  /** Uploads one photo (asked again while the server is busy). */
  upload(kind: IdentityPhotoKind, jpeg: Uint8Array, capturedAt: number): Promise<UploadResult>;
  /** `identity_submit`. */
  submit(): Promise<RequestAck>;
  /** Server time now (photos carry their capture time by the server's clock). */
  now(): number;
}

type Grabbed = { jpeg: Blob; capturedAt: number };

function toBlob(canvas: HTMLCanvasElement, quality: number): Promise<Blob | null> {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

/** Waits (a few seconds at most) until the video has a picture. */
async function hasPicture(video: HTMLVideoElement): Promise<boolean> {
  for (let i = 0; i < 50 && (video.readyState < 2 || video.videoWidth === 0); i++) await new Promise((r) => setTimeout(r, 100));
  return video.readyState >= 2 && video.videoWidth > 0;
}

/**
 * The camera's current picture as a JPEG: as the camera sees it (not
 * mirrored like the preview, so an ID document reads the right way round),
 * the largest quality that fits the server's byte limit.
 */
async function grab(video: HTMLVideoElement, now: () => number): Promise<Grabbed | string> {
  if (!(await hasPicture(video))) return "The camera shows no picture yet. Wait a moment and try again.";
  const size = photoSize(video.videoWidth, video.videoHeight);
  if (!size) return `The camera's picture (${video.videoWidth}×${video.videoHeight}) is too small for a photo.`;
  const canvas = document.createElement("canvas");
  canvas.width = size.width;
  canvas.height = size.height;
  const ctx = canvas.getContext("2d");
  if (!ctx) return "This browser cannot make a photo (no 2D canvas).";
  ctx.drawImage(video, 0, 0, size.width, size.height);
  const capturedAt = now();
  for (const q of JPEG_QUALITIES) {
    const jpeg = await toBlob(canvas, q);
    if (jpeg && jpeg.size <= MAX_PHOTO_BYTES) return { jpeg, capturedAt };
  }
  return "The photo came out too large to send. Try again with a plainer background.";
}

/**
 * Takes the photos `kinds` asks for, one after the other, then submits
 * them. `rejected` is a proctor's reason for refusing the earlier ones.
 */
export function identityCaptureScreen(kinds: readonly IdentityPhotoKind[], rejected: string | undefined, io: IdentityIo): void {
  const video = io.video();
  const step = h("div", { class: "identity-step" });
  const status = h("p", { id: "identity-status", role: "status", "aria-live": "polite" });
  showScreen(
    "Identity check",
    h("p", {}, "Before the exam starts, a proctor checks that it is you. Your photos are kept only as long as the exam's records and are seen only by its proctors."),
    rejected !== undefined
      ? h(
          "div",
          { class: "notice warn", role: "alert" },
          h("p", {}, h("strong", {}, "Your proctor did not accept your photos: "), rejected),
          h("p", {}, "Please take them again."),
        )
      : null,
    h("div", { class: "identity" }, h("div", { class: "identity-live" }, video), step),
    status,
  );
  const say = (text: string, error = false) => {
    status.textContent = text;
    status.className = error ? "error" : "";
  };
  let shown: string | null = null;
  const forgetShown = () => {
    if (shown) URL.revokeObjectURL(shown);
    shown = null;
  };

  const live = (i: number) => {
    forgetShown();
    const kind = kinds[i];
    if (!kind) return void submit();
    const take = h("button", { type: "button" }, "Take photo");
    take.addEventListener("click", () => {
      take.disabled = true;
      say("Taking the photo…");
      void grab(video, () => io.now()).then((g) => {
        take.disabled = false;
        if (typeof g === "string") say(g, true);
        else review(i, g);
      });
    });
    step.replaceChildren(
      h("h2", {}, kinds.length > 1 ? `Photo ${i + 1} of ${kinds.length}: ${KIND_TEXT[kind].short}` : KIND_TEXT[kind].title),
      h("p", {}, KIND_TEXT[kind].how),
      h("p", {}, take),
    );
    say("");
    take.focus();
  };

  const review = (i: number, g: Grabbed) => {
    const kind = kinds[i]!;
    forgetShown();
    shown = URL.createObjectURL(g.jpeg);
    const use = h("button", { type: "button" }, "Use this photo");
    const retake = h("button", { type: "button", class: "secondary", onclick: () => live(i) }, "Retake");
    use.addEventListener("click", () => {
      use.disabled = true;
      retake.disabled = true;
      say("Sending the photo…");
      void g.jpeg
        .arrayBuffer()
        .then((buf) => io.upload(kind, new Uint8Array(buf), g.capturedAt))
        .then((r) => {
          if ("ok" in r) return live(i + 1);
          use.disabled = false;
          retake.disabled = false;
          say(`The photo could not be sent: ${r.message}. Retake it or try again.`, true);
        });
    });
    step.replaceChildren(
      h("h2", {}, `Your ${kind === "face" ? "photo" : "ID document photo"}: is it clear?`),
      h("img", { class: "identity-photo", src: shown, alt: kind === "face" ? "The photo of your face you just took" : "The photo of your ID document you just took" }),
      h("p", {}, kind === "face" ? "Your whole face should be visible and sharp." : "The document's photo and name should be readable."),
      h("p", {}, use, " ", retake),
    );
    say("Check the photo, then use it or take it again.");
    use.focus();
  };

  const submit = async () => {
    step.replaceChildren(h("h2", {}, "Sending your photos to the proctors…"));
    say("Sending…");
    const ack = await io.submit();
    if (ack.status === "ok") {
      // The session's change (waiting for a proctor, or approved) moves the page on.
      say("Sent. Waiting for a proctor…");
      return;
    }
    if (ack.reason === "identity_required") {
      live(0);
      say(`A photo is missing (${ack.message}). Please take the photos again.`, true);
      return;
    }
    const again = h("button", { type: "button", onclick: () => void submit() }, "Try again");
    step.replaceChildren(h("h2", {}, "Your photos could not be sent"), h("p", {}, again));
    say(`The server said: ${ack.message}`, true);
  };

  live(0);
}

/** The photos are with the proctors: the page goes on by itself once they decide. */
export function identityAwaitingScreen(video: HTMLVideoElement): void {
  showScreen(
    "Waiting for approval",
    h("p", {}, "A proctor is checking your photos. Keep this page open: it goes on to the exam by itself once they approve, or asks you for new photos if they do not."),
    h("p", { id: "identity-status", role: "status" }, "Waiting for a proctor's approval…"),
    h("div", { class: "identity-live" }, video),
  );
}
