/** The join link's fragment: `#token=JWT` (and, for tests, `&exam=ID`). */
export interface JoinParams {
  token: string;
  /** The exam to load: the fragment's `exam`, else the token's `exam` claim. */
  exam: string;
  /** The proctor's id (the token's `sub`). */
  subject: string;
}

/** Decodes a JWT's payload without verifying it (the server verifies). */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    const bin = atob(padded);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return json && typeof json === "object" ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function parseJoinFragment(hash: string): JoinParams | { error: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return { error: "No join token in the link. Open the proctor link you were given (…/dashboard/#token=…)." };
  const claims = decodeJwtPayload(token);
  if (!claims) return { error: "The join token in the link is malformed." };
  const exam = params.get("exam") ?? (typeof claims.exam === "string" ? claims.exam : undefined);
  if (!exam) return { error: "The join token names no exam." };
  return { token, exam, subject: typeof claims.sub === "string" ? claims.sub : "" };
}
