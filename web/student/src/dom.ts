// Building the page: a small element factory and the screen switch.

export type Child = Node | string | null | undefined | false;
type Attr = string | boolean | ((e: Event) => void);

/** `h("p", {class: "x", onclick: f}, "text", child)`: `on…` attributes become listeners, `true` an empty attribute, `false` none. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, Attr> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/** An element the page's HTML always has. */
export function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el;
}

/** Replaces the screen and moves focus to its heading (for screen readers and keyboards). */
export function showScreen(title: string, ...children: Child[]): void {
  const h1 = h("h1", { tabindex: "-1" }, title);
  byId("main").replaceChildren(h1, ...children.filter((c): c is Node | string => !!c));
  document.title = `${title} · vigil`;
  h1.focus();
}
