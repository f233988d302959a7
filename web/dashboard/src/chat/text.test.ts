import { describe, expect, it } from "vitest";
import { CHAT_MAX_CHARS, charCount, checkDraft, cleanChatText, composerKey, newChatId } from "./text";

describe("chat text", () => {
  it("counts characters as the server does: an emoji is one", () => {
    expect(charCount("abc")).toBe(3);
    expect("😀".length).toBe(2);
    expect(charCount("😀é")).toBe(2);
  });

  it("keeps line breaks and tabs, makes CRLF a line feed, drops other controls, trims the ends", () => {
    expect(cleanChatText("  one\r\ntwo\rthree\tfour\n\n")).toBe("one\ntwo\nthree\tfour");
    expect(cleanChatText("a\u0000b\u0007c\u001bd\u007fe\u0085f")).toBe("abcdef");
    expect(cleanChatText("<b>not html</b>")).toBe("<b>not html</b>");
  });

  it("allows 1 to 1,000 characters, and says by how much a long one is over", () => {
    expect(checkDraft("   \n ")).toEqual({ text: "", count: 0, ok: false });
    expect(checkDraft("hi")).toEqual({ text: "hi", count: 2, ok: true });
    const full = "x".repeat(CHAT_MAX_CHARS);
    expect(checkDraft(full).ok).toBe(true);
    // 1,000 emoji are 2,000 UTF-16 units but 1,000 characters: allowed.
    expect(checkDraft("😀".repeat(CHAT_MAX_CHARS)).ok).toBe(true);
    const over = checkDraft(`${full}yz`);
    expect(over.ok).toBe(false);
    expect(over.count).toBe(1002);
    expect(over.problem).toMatch(/2 characters over the 1,000 allowed/);
  });

  it("makes ids in the server's grammar, different each time", () => {
    const a = newChatId();
    expect(a).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(newChatId()).not.toBe(a);
    expect(newChatId((b) => b.fill(255))).toBe(`p-${"ff".repeat(12)}`);
  });

  it("Enter sends; Shift+Enter, Alt+Enter and an input method's Enter do not", () => {
    expect(composerKey({ key: "Enter", shiftKey: false })).toBe("send");
    expect(composerKey({ key: "Enter", shiftKey: false, ctrlKey: true })).toBe("send");
    expect(composerKey({ key: "Enter", shiftKey: true })).toBe("default");
    expect(composerKey({ key: "Enter", shiftKey: false, altKey: true })).toBe("default");
    expect(composerKey({ key: "Enter", shiftKey: false, isComposing: true })).toBe("default");
    expect(composerKey({ key: "a", shiftKey: false })).toBe("default");
  });
});
