// No join token in the URL: ask for the link (or the bare token) and reload with it.

import { h, showScreen } from "../dom.ts";

export function joinScreen(): void {
  const input = h("input", { id: "link", type: "text", autocomplete: "off", required: true, spellcheck: "false" });
  const form = h(
    "form",
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = input.value.trim();
        location.hash = v.includes("#") ? v.slice(v.indexOf("#")) : `#token=${v}`;
        location.reload();
      },
    },
    h("label", { for: "link" }, "Your join link (or its token)"),
    input,
    h("p", {}, h("button", { type: "submit" }, "Join")),
  );
  showScreen("Join your exam", h("p", {}, "Open the join link you were sent, or paste it here."), form);
}
