/**
 * What a proctor types, made into what the server accepts (`ProctorChatSend.text`:
 * 1–1,000 characters, line breaks and tabs allowed, no other control
 * characters), and the composer's keys. Apart from React so it is tested alone.
 */

/** The server's limit, in characters (Unicode scalar values, as Rust counts them). */
export const CHAT_MAX_CHARS = 1000;

/**
 * Characters as the server counts them: code points, not UTF-16 units, so
 * an emoji counts once (a `maxLength` attribute would count it twice).
 */
export function charCount(s: string): number {
  return [...s].length;
}

/** Unicode `Cc` other than tab and line feed: the server refuses a message with one. */
const refusedControl = (c: number) => (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);

/**
 * The text to send: line endings made `\n` (a pasted CRLF would otherwise
 * be refused as a control character), other control characters dropped
 * (they are invisible, so the proctor does not mean them), and the ends
 * trimmed (a trailing Shift+Enter is not part of the message).
 */
export function cleanChatText(raw: string): string {
  let out = "";
  for (const ch of raw.replace(/\r\n?/g, "\n")) {
    if (!refusedControl(ch.codePointAt(0)!)) out += ch;
  }
  return out.trim();
}

export interface ChatDraft {
  /** What would be sent. */
  readonly text: string;
  /** Its length in characters, for the counter. */
  readonly count: number;
  /** Whether it may be sent as it is. */
  readonly ok: boolean;
  /** Why not, when there is something to say (empty needs no sentence). */
  readonly problem?: string;
}

export function checkDraft(raw: string): ChatDraft {
  const text = cleanChatText(raw);
  const count = charCount(text);
  if (count === 0) return { text, count, ok: false };
  if (count > CHAT_MAX_CHARS) {
    return { text, count, ok: false, problem: `Too long: ${count - CHAT_MAX_CHARS} characters over the ${CHAT_MAX_CHARS.toLocaleString("en")} allowed.` };
  }
  return { text, count, ok: true };
}

/**
 * A message id (the server's grammar: 1–64 of `[A-Za-z0-9._-]`): "p-" and
 * 96 random bits in hex. `getRandomValues` rather than `randomUUID`, which
 * exists only in secure contexts (a server reached over plain http).
 */
export function newChatId(fill: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  const bytes = fill(new Uint8Array(12));
  return `p-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export interface KeyLike {
  key: string;
  shiftKey: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  /** An input method is composing (e.g. Japanese): its Enter confirms the word. */
  isComposing?: boolean;
}

/** What a key in the composer does: Enter sends, Shift+Enter (and the rest) keeps its default. */
export function composerKey(e: KeyLike): "send" | "default" {
  if (e.key !== "Enter" || e.isComposing) return "default";
  if (e.shiftKey || e.altKey) return "default";
  return "send";
}
