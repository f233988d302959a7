// System check: camera, WebRTC and the face check (WebGL in a worker) must
// work before the student may continue. The models download meanwhile, with
// their progress shown (download.ts), so that a slow line reads as a slow
// line, and the face check starts once they are in. The camera and the worker started here keep running for the rest of
// the page life. The uplink is measured alongside (uplink.ts), and the row
// says what video it allows; it never holds the student back.

import type { Camera } from "../camera.ts";
import { h, showScreen } from "../dom.ts";
import { describe, type DownloadView } from "../download.ts";
import { checkWebRtc } from "../rtc.ts";
import { planForUplink, uplinkWords, type Uplink } from "../uplink.ts";
import type { Vision } from "../vision.ts";

function checkRow(what: string): { li: HTMLLIElement; set: (cls: string, text: string) => void } {
  const res = h("span", { class: "pending" }, "checking…");
  const li = h("li", {}, h("span", { class: "what" }, what), res);
  return {
    li,
    set: (cls, text) => {
      res.className = cls;
      res.textContent = text;
    },
  };
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function checkScreen(
  camera: Camera,
  microphone: boolean,
  downloadModels: (onView: (v: DownloadView) => void) => Promise<void>,
  startVision: () => Promise<Vision>,
  onContinue: () => void,
  measureUplink: () => Promise<Uplink>,
): Promise<void> {
  const cam = checkRow("Camera");
  const dl = checkRow("Download of the proctoring models");
  const bar = h("progress", { max: "1", value: "0", "aria-label": "Download of the proctoring models" });
  dl.li.append(bar);
  const mic = checkRow("Microphone");
  const rtc = checkRow("Video link (WebRTC)");
  const gl = checkRow("Face check (WebGL in a worker)");
  const up = checkRow("Upload speed");
  const next = h("button", { type: "button", disabled: true, onclick: onContinue }, "Continue");
  const retry = h("button", { type: "button", class: "secondary", onclick: () => location.reload() }, "Check again");
  showScreen(
    "System check",
    h(
      "p",
      {},
      microphone
        ? "We check that your computer can run the exam. Your browser may ask to use the camera and the microphone: please allow both."
        : "We check that your computer can run the exam. Your browser may ask to use the camera: please allow it.",
    ),
    h("ul", { class: "checks" }, cam.li, mic.li, rtc.li, dl.li, gl.li, up.li),
    h("p", {}, next, " ", retry),
  );
  // The download starts at once: it goes on while the student answers the
  // browser's camera and microphone prompts.
  const downloaded = downloadModels((v) => {
    bar.value = v.total > 0 ? v.done / v.total : 1;
    dl.set(v.complete ? "ok" : v.stalled ? "fail" : "pending", describe(v));
  });
  let micOk = !microphone;
  if (microphone) {
    try {
      const t = await camera.startMicrophone();
      mic.set("ok", `working (${t.label || "microphone"})`);
      micOk = true;
    } catch (e) {
      mic.set("fail", `not available: ${message(e)}. This exam needs the microphone: allow it and check again.`);
    }
  } else {
    mic.set("ok", "not needed for this exam");
  }
  // Alongside the rest: the Continue button never waits for it.
  up.set("pending", "measuring…");
  void measureUplink().then(
    (u) => {
      const plan = planForUplink(u, microphone);
      up.set(u.kind === "unknown" ? "unknown" : plan.level === "full" ? "ok" : "reduced", uplinkWords(u, plan));
    },
    (e: unknown) => up.set("unknown", uplinkWords({ kind: "unknown", why: message(e) }, planForUplink({ kind: "unknown", why: "" }, microphone))),
  );
  let camOk = false;
  try {
    const s = await camera.start();
    const st = s.getVideoTracks()[0]?.getSettings() ?? {};
    cam.set("ok", `working (${st.width ?? "?"}×${st.height ?? "?"})`);
    camOk = true;
  } catch (e) {
    cam.set("fail", `not available: ${message(e)}. Allow the camera and check again.`);
  }
  const r = await checkWebRtc(camera.track() ?? null);
  rtc.set(r.ok ? "ok" : "fail", r.detail);
  await downloaded;
  let visionOk = false;
  if (camOk) {
    try {
      const v = await startVision();
      gl.set(v.webgl ? "ok" : "fail", v.webgl ? `working (${v.webgl}; ${v.model ?? "?"})` : "no WebGL in workers");
      visionOk = !!v.webgl;
    } catch (e) {
      gl.set("fail", `could not start: ${message(e)}`);
    }
  } else {
    gl.set("fail", "needs the camera");
  }
  next.disabled = !(camOk && visionOk && micOk);
  if (!next.disabled) next.focus();
}
