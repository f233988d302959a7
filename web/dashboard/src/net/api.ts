import type {
  Accommodations,
  ChatHistory,
  Decision,
  ErrorBody,
  Exam,
  ExamSettings,
  ExamSnapshot,
  IdentityPhotoKind,
  IdentityPhotos,
  IncidentRecord,
  IncidentReview,
  RecordedAction,
  RecordingSegment,
  ReviewIncident,
  ReviewQueue,
  SetAccessCode,
  SetDecision,
  StudentReview,
  StudentView,
} from "@proto";

/** A refusal or failure from the HTTP API, with the server's reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** The server's word on when to ask again (with `rate_limited`). */
    readonly retryAfterMs?: number,
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

  private get(path: string): Promise<Response> {
    return this.request(path, { headers: { authorization: `Bearer ${this.token}` }, cache: "no-store" });
  }

  private put(path: string, body: unknown): Promise<Response> {
    return this.request(path, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    const res = await this.fetchFn(`${this.base}/api/v1/exams/${encodeURIComponent(this.exam)}${path}`, init);
    if (!res.ok) {
      let reason = `http_${res.status}`;
      let message = res.statusText;
      let retryAfterMs: number | undefined;
      try {
        const body = (await res.json()) as ErrorBody;
        reason = body.error.reason;
        message = body.error.message;
        retryAfterMs = body.error.retry_after_ms;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, reason, message, retryAfterMs);
    }
    return res;
  }

  async snapshot(): Promise<ExamSnapshot> {
    return (await (await this.get("/snapshot")).json()) as ExamSnapshot;
  }

  async incidents(student: string): Promise<IncidentRecord[]> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/incidents`)).json()) as IncidentRecord[];
  }

  /** Replaces the exam's settings (an instructor's token); the exam as it now is. */
  async putSettings(settings: ExamSettings): Promise<Exam> {
    return (await (await this.put("/settings", settings)).json()) as Exam;
  }

  /** What the exam's proctors did to `student`, oldest first. */
  async actions(student: string): Promise<RecordedAction[]> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/actions`)).json()) as RecordedAction[];
  }

  /** Replaces a student's accommodations (an instructor's token); their tile as it now is. */
  async putAccommodations(student: string, accommodations: Accommodations): Promise<StudentView> {
    const res = await this.put(`/students/${encodeURIComponent(student)}/accommodations`, accommodations);
    return (await res.json()) as StudentView;
  }

  async putAccessCode(code: string): Promise<void> {
    const body: SetAccessCode = { code };
    await this.put("/access-code", body);
  }

  /** The exam's review as CSV (one row per student). */
  async exportCsv(): Promise<Blob> {
    return (await this.get("/export.csv")).blob();
  }

  /** A student's PDF report. */
  async reportPdf(student: string): Promise<Blob> {
    return (await this.get(`/students/${encodeURIComponent(student)}/report.pdf`)).blob();
  }

  /** The evidence frame as a blob (show it through `URL.createObjectURL`). */
  async evidence(sha256: string): Promise<Blob> {
    return (await this.get(`/evidence/${sha256}`)).blob();
  }

  /** One page of a student's conversation (with the announcements) after `after`. */
  async chat(student: string, after: number): Promise<ChatHistory> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/chat?after=${after}`)).json()) as ChatHistory;
  }

  /** Which identity photos a student has sent (the latest of each kind). */
  async identityPhotos(student: string): Promise<IdentityPhotos> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/identity`)).json()) as IdentityPhotos;
  }

  /**
   * One identity photo (a JPEG) as a blob: it needs the Bearer header, so
   * an `<img src>` cannot fetch it; show it through `URL.createObjectURL`.
   */
  async identityPhoto(student: string, kind: IdentityPhotoKind): Promise<Blob> {
    return (await this.get(`/students/${encodeURIComponent(student)}/identity/${kind}`)).blob();
  }

  /** A student's recorded video, as its segments oldest first (none unless the exam records). */
  async recording(student: string): Promise<RecordingSegment[]> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/recording`)).json()) as RecordingSegment[];
  }

  /**
   * One segment (a WebM file of about a minute) as a blob: it needs the
   * Bearer header, so a `<video src>` cannot fetch it; play it through
   * `URL.createObjectURL`.
   */
  async recordingSegment(student: string, sha256: string): Promise<Blob> {
    return (await this.get(`/students/${encodeURIComponent(student)}/recording/${sha256}`)).blob();
  }

  // --- after the exam: review ------------------------------------------

  /** Every student of the exam, highest review priority first, with the latest decision on each. */
  async reviewQueue(): Promise<ReviewQueue> {
    return (await (await this.get("/review")).json()) as ReviewQueue;
  }

  /** One student's whole record from the store (the server audits each read). */
  async studentReview(student: string): Promise<StudentReview> {
    return (await (await this.get(`/students/${encodeURIComponent(student)}/review`)).json()) as StudentReview;
  }

  /**
   * A new version of the decision on `student`; refused with 409
   * `stale_transition` when `body.based_on` is not the latest version.
   */
  async putDecision(student: string, body: SetDecision): Promise<Decision> {
    return (await (await this.put(`/students/${encodeURIComponent(student)}/decision`, body)).json()) as Decision;
  }

  /** Confirms or dismisses one incident of `student`. */
  async putIncidentReview(student: string, incident: string, body: ReviewIncident): Promise<IncidentReview> {
    const path = `/students/${encodeURIComponent(student)}/incidents/${encodeURIComponent(incident)}/review`;
    return (await (await this.put(path, body)).json()) as IncidentReview;
  }
}
