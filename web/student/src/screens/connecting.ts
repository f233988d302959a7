// Waiting screens: for the server's welcome, and for the camera check of a
// page reloaded mid-exam.

import { h, showScreen } from "../dom.ts";

export function connectingScreen(): void {
  showScreen("Connecting to your exam…", h("p", {}, "This takes a moment."));
}

export function resumingScreen(): void {
  showScreen("Resuming your exam…", h("p", {}, "Starting the camera check again."));
}
