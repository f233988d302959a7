// The chat panel: a button in the header with the unread count, opening a
// panel (a non-modal dialog, above the pause and break overlays so the
// student can always reach a proctor) with the conversation, newest at the
// bottom, and a text box. Every message is set as text (text nodes, never
// HTML): what a proctor or student typed can never become markup here.
// What to show comes from chat.ts; sending goes through the outbox.

import { type ChatLine, MAX_CHAT_CHARS, checkChatText } from "../chat.ts";
import { byId, h } from "../dom.ts";

export interface ChatActions {
  /** The student sends `text` (already checked and cleaned). */
  send(text: string): void;
  /** The student dismisses a message the server refused. */
  dismiss(id: string): void;
  /** The panel opened (or a message arrived while open): everything shown is read. */
  read(): void;
}

/** A line's identity in the list: stored messages by seq, others by their id. */
const keyOf = (l: ChatLine) => (l.kind === "stored" ? `s${l.message.seq}` : `l${l.local.id}`);
/** What a line's element shows besides its text; a change makes a new element. */
const stateOf = (l: ChatLine) => (l.kind === "stored" ? "stored" : `${l.local.state}:${l.local.error ?? ""}`);

const timeText = (at: number) => new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** A message's text, set as textContent: whatever was typed stays text, never markup. */
function textOf(text: string): HTMLParagraphElement {
  const p = h("p", { class: "chat-text" });
  p.textContent = text;
  return p;
}

export class ChatPanel {
  private readonly toggle: HTMLButtonElement;
  private readonly badge: HTMLSpanElement;
  private readonly panel: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly box: HTMLTextAreaElement;
  private readonly count: HTMLSpanElement;
  private readonly sendButton: HTMLButtonElement;
  /** Says "New message from your proctor" to screen readers while the panel is closed. */
  private readonly news: HTMLSpanElement;
  private readonly items = new Map<string, { li: HTMLLIElement; state: string }>();
  private unread = 0;

  constructor(private readonly actions: ChatActions) {
    this.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    this.toggle = h(
      "button",
      { type: "button", id: "chat-toggle", class: "secondary chat-toggle", "aria-expanded": "false", "aria-controls": "chat-panel", hidden: true, onclick: () => (this.isOpen() ? this.close() : this.open()) },
      "Chat",
      this.badge,
    );
    this.news = h("span", { class: "visually-hidden", role: "status" });
    byId("chat-slot").append(this.toggle, this.news);

    this.list = h("ol", { class: "chat-log", role: "log", "aria-label": "Messages", tabindex: "0" });
    this.box = h("textarea", { id: "chat-text", rows: "3", "aria-describedby": "chat-count chat-help" });
    this.count = h("span", { id: "chat-count", class: "chat-count" }, `0 / ${MAX_CHAT_CHARS}`);
    this.sendButton = h("button", { type: "submit", disabled: true }, "Send");
    const form = h(
      "form",
      {
        class: "chat-form",
        onsubmit: (e: Event) => {
          e.preventDefault();
          this.submit();
        },
      },
      h("label", { for: "chat-text" }, "Your message to the proctors"),
      this.box,
      h("p", { class: "chat-row" }, h("span", { id: "chat-help", class: "hint" }, "Enter sends; Shift+Enter starts a new line."), this.count, this.sendButton),
    );
    this.box.addEventListener("input", () => this.updateCount());
    this.box.addEventListener("keydown", (e) => {
      // Enter sends; Shift+Enter (and Enter while an input method composes a character) does not.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    const close = h("button", { type: "button", class: "secondary", onclick: () => this.close() }, "Close");
    this.panel = h(
      "section",
      { id: "chat-panel", class: "chat-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "chat-title", hidden: true },
      h("div", { class: "chat-head" }, h("h2", { id: "chat-title" }, "Chat with your proctors"), close),
      h("p", { class: "hint" }, "Your proctors read this during the exam. Announcements go to every student."),
      this.list,
      form,
    );
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        this.close();
      }
    });
    document.body.append(this.panel);
  }

  /** Shown from the first welcome; hidden when the page cannot be connected at all. */
  setAvailable(available: boolean): void {
    this.toggle.hidden = !available;
    if (!available) this.close(false);
  }

  isOpen(): boolean {
    return !this.panel.hidden;
  }

  open(): void {
    this.toggle.hidden = false;
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.list.scrollTop = this.list.scrollHeight;
    this.box.focus();
    this.actions.read();
  }

  close(refocus = true): void {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    if (!refocus) return;
    // Opened from a pause or break overlay: back to it, not to the header underneath.
    const overlay = document.querySelector<HTMLElement>(".overlay [tabindex='-1']");
    if (overlay) overlay.focus();
    else if (!this.toggle.hidden) this.toggle.focus();
  }

  /** Shows `lines` (oldest first) and the unread count; only what changed is touched. */
  render(lines: readonly ChatLine[], unread: number): void {
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const wanted: HTMLLIElement[] = [];
    const keep = new Set<string>();
    for (const line of lines) {
      const key = keyOf(line);
      const state = stateOf(line);
      let item = this.items.get(key);
      if (!item || item.state !== state) {
        item = { li: this.line(line), state };
        this.items.get(key)?.li.remove();
        this.items.set(key, item);
      }
      keep.add(key);
      wanted.push(item.li);
    }
    for (const [key, item] of this.items) {
      if (!keep.has(key)) {
        item.li.remove();
        this.items.delete(key);
      }
    }
    // In order, moving only what is out of place: a live region re-announces moved nodes.
    wanted.forEach((li, i) => {
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] ?? null);
    });
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
    this.setUnread(unread);
  }

  private setUnread(n: number): void {
    if (n > this.unread && !this.isOpen()) this.news.textContent = n === 1 ? "1 new message from your proctors" : `${n} new messages from your proctors`;
    this.unread = n;
    this.badge.textContent = String(n);
    this.badge.hidden = n === 0;
    this.toggle.setAttribute("aria-label", n === 0 ? "Chat with your proctors" : `Chat with your proctors, ${n} unread`);
  }

  private line(l: ChatLine): HTMLLIElement {
    if (l.kind === "stored") {
      const m = l.message;
      const who = l.announcement ? "Announcement to every student" : l.mine ? "You" : "Proctor";
      const cls = l.announcement ? "announcement" : l.mine ? "mine" : "theirs";
      return h(
        "li",
        { class: `chat-msg ${cls}`, "data-seq": String(m.seq) },
        h("p", { class: "chat-meta" }, h("strong", {}, who), " · ", h("time", { datetime: new Date(m.at).toISOString() }, timeText(m.at))),
        textOf(m.text),
      );
    }
    const { local } = l;
    if (local.state === "sending") {
      return h(
        "li",
        { class: "chat-msg mine sending", "data-id": local.id },
        h("p", { class: "chat-meta" }, h("strong", {}, "You")),
        textOf(local.text),
        h("p", { class: "chat-state" }, "sending…"),
      );
    }
    return h(
      "li",
      { class: "chat-msg mine failed", "data-id": local.id },
      h("p", { class: "chat-meta" }, h("strong", {}, "You")),
      textOf(local.text),
      h(
        "p",
        { class: "chat-state error" },
        `Not sent: ${local.error || local.reason || "refused"}. `,
        h("button", { type: "button", class: "secondary small", onclick: () => this.actions.dismiss(local.id) }, "Dismiss"),
      ),
    );
  }

  private updateCount(): { text: string; problem: string | null } {
    const c = checkChatText(this.box.value);
    this.count.textContent = `${c.length} / ${MAX_CHAT_CHARS}`;
    this.count.classList.toggle("error", c.problem === "too_long");
    this.sendButton.disabled = c.problem !== null;
    return c;
  }

  private submit(): void {
    const c = this.updateCount();
    if (c.problem !== null) return;
    this.actions.send(c.text);
    this.box.value = "";
    this.updateCount();
    this.box.focus();
  }
}
