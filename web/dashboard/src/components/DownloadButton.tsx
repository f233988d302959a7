import { useState } from "react";

/**
 * A download of something the server makes for the exam's proctors (a CSV,
 * a PDF report). It needs the Bearer token, so it cannot be a plain link:
 * the file is fetched, then saved through a blob URL that is revoked at once.
 */
export function DownloadButton({ label, filename, fetchBlob }: { label: string; filename: string; fetchBlob: () => Promise<Blob> }) {
  const [state, setState] = useState<{ kind: "idle" } | { kind: "busy" } | { kind: "error"; text: string }>({ kind: "idle" });
  const download = async () => {
    setState({ kind: "busy" });
    try {
      const blob = await fetchBlob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = filename;
      a.click();
      URL.revokeObjectURL(url);
      setState({ kind: "idle" });
    } catch (e) {
      setState({ kind: "error", text: e instanceof Error ? e.message : String(e) });
    }
  };
  return (
    <span className="download">
      <button type="button" onClick={() => void download()} disabled={state.kind === "busy"}>
        {state.kind === "busy" ? "Preparing…" : label}
      </button>
      {state.kind === "error" && (
        <span role="alert" className="download__error">
          {" "}
          {state.text}
        </span>
      )}
    </span>
  );
}
