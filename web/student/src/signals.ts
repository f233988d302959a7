// Weak signals, pure: what the page can tell about the camera and the
// browser that might mean a fake picture or a student inspecting the page.
// Each has innocent causes (a school's own camera software, a zoomed page),
// so the server caps what they add to a score (vigil-core `score`): they
// support a case and never make one.

/** The track's settings that matter here (MediaTrackSettings, as far as browsers fill it). */
export interface CameraFacts {
  label: string;
  /** Set by browsers on a screen, window or tab capture. */
  displaySurface?: string;
}

/**
 * Virtual camera drivers by the names they give their devices. Chromium's
 * own fake device (a command-line flag, used by vigil's tests) is not here:
 * nobody can switch it on from a web page or a settings screen.
 */
const VIRTUAL_CAMERAS: ReadonlyArray<[RegExp, string]> = [
  [/\bobs\b/i, "OBS"],
  [/virtual/i, "a virtual camera"],
  [/manycam/i, "ManyCam"],
  [/xsplit/i, "XSplit"],
  [/snap camera/i, "Snap Camera"],
  [/mmhmm/i, "mmhmm"],
  [/camtwist/i, "CamTwist"],
  [/e2esoft|vcam/i, "VCam"],
  [/splitcam/i, "SplitCam"],
  [/youcam/i, "YouCam"],
  [/chromacam/i, "ChromaCam"],
  [/droidcam|iriun|epoccam|\bcamo\b/i, "a phone used as a camera"],
  [/nvidia broadcast/i, "NVIDIA Broadcast"],
];

/** Labels Chromium gives captured screens, windows and tabs. */
const CAPTURE_LABEL = /^(screen|window|web-contents-media-stream):/i;

/** Why the camera looks like something other than a camera, or null. */
export function cameraSuspicion(c: CameraFacts): string | null {
  if (c.displaySurface) return `screen share as the camera (${c.displaySurface})`;
  if (CAPTURE_LABEL.test(c.label)) return `screen share as the camera (${c.label.slice(0, 60)})`;
  for (const [pattern, name] of VIRTUAL_CAMERAS) {
    if (pattern.test(c.label)) return `virtual camera: ${name} ("${c.label.slice(0, 60)}")`;
  }
  return null;
}

export interface WindowFacts {
  outerWidth: number;
  innerWidth: number;
  outerHeight: number;
  innerHeight: number;
  /** Browser zoom, as devicePixelRatio now over what it was when the page loaded. */
  zoom: number;
}

/** Docked developer tools are at least this wide (side) or tall (bottom), in screen pixels. */
const DOCKED_MIN_PX = 200;
/** The browser's own toolbars, tabs and bookmarks take up to this much height. */
const TOOLBARS_MAX_PX = 160;

/**
 * Whether docked developer tools look open: the page is much smaller than
 * its window. Undocked tools cannot be seen from the page at all, and a
 * sidebar (bookmarks, reading list) looks the same, which is why this is a
 * weak signal.
 */
export function devtoolsLikelyOpen(w: WindowFacts): boolean {
  const zoom = Number.isFinite(w.zoom) && w.zoom > 0 ? w.zoom : 1;
  const wide = w.outerWidth - w.innerWidth * zoom;
  const tall = w.outerHeight - w.innerHeight * zoom;
  if (!(w.outerWidth > 0 && w.outerHeight > 0)) return false;
  return wide >= DOCKED_MIN_PX || tall >= TOOLBARS_MAX_PX + DOCKED_MIN_PX;
}
