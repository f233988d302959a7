// The student's own record after the exam: what was flagged and kept, what
// reviewers read and decided, and a form to answer the latest decision.
// Evidence frames need the page's token, so they are fetched and shown from
// blob URLs.

import type { Appeal, StudentRecord } from "@proto";
import { h, showScreen } from "../dom.ts";
import { checkAppeal, recordView, type DecisionLine } from "../record.ts";

const time = (ms: number) => new Date(ms).toLocaleString();

async function api(token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${location.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function errorOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { reason?: string; message?: string } };
    return `${body.error?.message ?? res.statusText} (${body.error?.reason ?? res.status})`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

function evidenceImage(token: string, sha: string): HTMLElement {
  const img = h("img", { alt: "The frame kept as evidence", class: "record__frame", width: "160", height: "120" });
  void api(token, "GET", `/api/v1/me/evidence/${sha}`).then(async (res) => {
    if (!res.ok) {
      img.replaceWith(h("span", { class: "record__gone" }, "(the frame is no longer kept)"));
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    img.setAttribute("src", url);
  });
  return img;
}

function appealForm(token: string, d: DecisionLine, reload: () => void): HTMLElement {
  const area = h("textarea", { id: `appeal-${d.version}`, rows: "4", maxlength: "5000" });
  const said = h("p", { role: "status" });
  const send = async () => {
    const check = checkAppeal(area.value);
    if (!check.ok) {
      said.textContent = check.why;
      return;
    }
    const res = await api(token, "POST", "/api/v1/me/appeals", { decision_version: d.version, text: check.text });
    if (res.ok) reload();
    else said.textContent = `Not sent: ${await errorOf(res)}`;
  };
  return h(
    "form",
    { class: "record__appeal", onsubmit: (e: Event) => (e.preventDefault(), void send()) },
    h("label", { for: `appeal-${d.version}` }, "Your answer to this decision (you can send one):"),
    area,
    h("p", {}, h("button", { type: "submit" }, "Send my answer")),
    said,
  );
}

function appealText(a: Appeal): HTMLElement {
  return h("blockquote", { class: "record__answer" }, h("strong", {}, `Your answer (${time(a.at)}): `), a.text);
}

/** Shows the record of the student whose token this is. */
export async function recordScreen(token: string): Promise<void> {
  showScreen("Your exam record", h("p", { role: "status" }, "Loading…"));
  const res = await api(token, "GET", "/api/v1/me/record");
  if (!res.ok) {
    showScreen("Your exam record", h("p", { class: "error" }, `Your record could not be shown: ${await errorOf(res)}`));
    return;
  }
  const record = (await res.json()) as StudentRecord;
  const view = recordView(record);
  const reload = () => void recordScreen(token);
  const incidents = view.incidents.length
    ? h(
        "ol",
        { class: "record__incidents" },
        ...view.incidents.map((i) =>
          h(
            "li",
            { "data-incident": i.id },
            h("strong", {}, i.what),
            ` at ${time(i.at)}`,
            i.duringPause ? " (while your exam was paused)" : null,
            h("br"),
            i.reading ?? "Not reviewed",
            i.evidence ? h("br") : null,
            i.evidence ? evidenceImage(token, i.evidence) : null,
          ),
        ),
      )
    : h("p", {}, "Nothing was flagged.");
  const decisions = view.decisions.length
    ? h(
        "ol",
        { class: "record__decisions" },
        ...view.decisions.map((d) =>
          h(
            "li",
            { "data-version": String(d.version) },
            h("strong", {}, d.verdict),
            ` (version ${d.version}, ${time(d.at)}): `,
            d.note,
            d.appeal ? appealText(d.appeal) : null,
            d.mayAppeal ? appealForm(token, d, reload) : null,
          ),
        ),
      )
    : h("p", {}, "No reviewer has decided yet.");
  showScreen(
    "Your exam record",
    h("p", {}, `${record.exam_title}: ${record.student.name}`),
    h("h2", {}, "What was flagged"),
    incidents,
    h("h2", {}, "Decisions"),
    decisions,
  );
}
