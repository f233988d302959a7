import type { ErrorBody, ExamSnapshot, IncidentRecord } from "@proto";

/** A refusal or failure from the HTTP API, with the server's reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
  /** Whether retrying cannot help (authn/authz/unknown exam). */
  get fatal(): boolean {
    return this.status === 401 || this.status === 403 || this.status === 404;
  }
}

export type Fetch = typeof fetch;

/** The proctor's view of the HTTP API, authenticated with the join token. */
export class Api {
  constructor(
    readonly base: string,
    readonly exam: string,
    private readonly token: string,
    private readonly fetchFn: Fetch = (...a) => fetch(...a),
  ) {}

  private async get(path: string): Promise<Response> {
    const res = await this.fetchFn(`${this.base}/api/v1/exams/${encodeURIComponent(this.exam)}${path}`, {
      headers: { authorization: `Bearer ${this.token}` },
      cache: "no-store",
    });
    if (!res.ok) {
      let reason = `http_${res.status}`;
      let message = res.statusText;
      try {
        const body = (await res.json()) as ErrorBody;
        reason = body.error.reason;
        message = body.error.message;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, reason, message);
    }
    return res;
  }

  async snapshot(): Promise<ExamSnapshot> {
    return (await (await this.get("/snapshot")).json()) as ExamSnapshot;
  }

  async incidents(student: string): Promise<IncidentRecord[]> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/incidents`)).json()) as IncidentRecord[];
  }

  /** The evidence frame as a blob (show it through `URL.createObjectURL`). */
  async evidence(sha256: string): Promise<Blob> {
    return (await this.get(`/evidence/${sha256}`)).blob();
  }
}
