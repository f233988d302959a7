import { describe, expect, it } from "vitest";
import { cameraSuspicion, devtoolsLikelyOpen } from "../../src/signals.ts";

describe("camera suspicion", () => {
  it("names virtual cameras by their drivers' labels", () => {
    expect(cameraSuspicion({ label: "OBS Virtual Camera" })).toBe('virtual camera: OBS ("OBS Virtual Camera")');
    expect(cameraSuspicion({ label: "ManyCam Virtual Webcam" })).toMatch(/^virtual camera: /);
    expect(cameraSuspicion({ label: "DroidCam Source 3" })).toBe('virtual camera: a phone used as a camera ("DroidCam Source 3")');
    expect(cameraSuspicion({ label: "e2eSoft VCam" })).toMatch(/VCam/);
  });

  it("sees a screen share offered as the camera", () => {
    expect(cameraSuspicion({ label: "screen:0:0" })).toBe("screen share as the camera (screen:0:0)");
    expect(cameraSuspicion({ label: "Integrated Camera", displaySurface: "monitor" })).toBe("screen share as the camera (monitor)");
    expect(cameraSuspicion({ label: "web-contents-media-stream://12:3" })).toMatch(/^screen share/);
  });

  it("leaves real cameras, Chromium's test device and empty labels alone", () => {
    for (const label of ["Integrated Camera (04f2:b6dd)", "FaceTime HD Camera", "Logitech BRIO", "fake_device_0", "", "Observation deck cam"]) {
      expect(cameraSuspicion({ label })).toBeNull();
    }
  });
});

describe("developer tools", () => {
  const win = { outerWidth: 1440, innerWidth: 1440, outerHeight: 900, innerHeight: 780, zoom: 1 };

  it("a page as large as its window (less the toolbars) has none open", () => {
    expect(devtoolsLikelyOpen(win)).toBe(false);
  });

  it("a page narrower than its window by a docked panel has them open, at the side or the bottom", () => {
    expect(devtoolsLikelyOpen({ ...win, innerWidth: 1000 })).toBe(true);
    expect(devtoolsLikelyOpen({ ...win, innerHeight: 450 })).toBe(true);
  });

  it("browser zoom alone is not developer tools", () => {
    // 150%: the page is 960 CSS pixels wide in a 1440-pixel window.
    expect(devtoolsLikelyOpen({ ...win, innerWidth: 960, innerHeight: 520, zoom: 1.5 })).toBe(false);
    expect(devtoolsLikelyOpen({ ...win, innerWidth: 600, zoom: 1.5 })).toBe(true);
  });

  it("nonsense sizes say nothing", () => {
    expect(devtoolsLikelyOpen({ ...win, outerWidth: 0, outerHeight: 0 })).toBe(false);
    expect(devtoolsLikelyOpen({ ...win, innerWidth: 500, zoom: Number.NaN })).toBe(true);
  });
});
