// Failures from Google Cloud (HTTP errors of the JSON APIs, failed long-running operations, missing
// credentials, unreachable hosts) turned into one line that says what failed and what to do about it.
// Messages are built from the server's error message only: never from request configs (they hold tokens).

/** Google's canonical error codes, by gRPC number (long-running operations report these). */
const GRPC_STATUS = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

const HTTP_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 408: 'DEADLINE_EXCEEDED',
  409: 'ALREADY_EXISTS', 412: 'FAILED_PRECONDITION', 413: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED',
  500: 'INTERNAL', 501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Where a call went and what to suggest when the resource is missing. */
export interface CloudContext {
  /** "Vertex AI", "Cloud Storage", "TF Serving". */
  service: string;
  /** What was being done, e.g. "models.upload" or "upload of gs://b/models/m/v1/saved_model.pb". */
  action: string;
  project?: string;
  region?: string;
  /** What to do when the answer is NOT_FOUND (e.g. how to create the bucket). */
  notFoundHint?: string;
}

export class CloudError extends Error {
  override name = 'CloudError';
  constructor(
    message: string,
    /** Canonical status (PERMISSION_DENIED, NOT_FOUND, RESOURCE_EXHAUSTED, ...) or a network error code. */
    readonly reason: string,
    /** HTTP status when there was an HTTP answer. */
    readonly httpStatus?: number,
    /** What failed, without the advice: "Vertex AI models.list failed (ENOTFOUND: ...)". */
    readonly summary = message,
  ) {
    super(message);
  }

  /** Worth retrying the same request later: quota, overload, transient network failures. */
  get retryable(): boolean {
    return ['RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(this.reason);
  }
}

/** A failed long-running operation's `error` (google.rpc.Status). */
export function operationError(status: { code?: number | null; message?: string | null }, context: CloudContext): CloudError {
  const reason = GRPC_STATUS[status.code ?? 2] ?? 'UNKNOWN';
  return describe(reason, undefined, status.message ?? '', context);
}

/** Any error thrown by googleapis, @google-cloud/storage, google-auth-library or fetch, as a CloudError. */
export function toCloudError(err: unknown, context: CloudContext): CloudError {
  if (err instanceof CloudError) return err;
  const e = err as {
    name?: string;
    message?: string;
    code?: unknown;
    status?: unknown;
    response?: { status?: number; data?: unknown };
    cause?: unknown;
  };
  const httpStatus = typeof e.response?.status === 'number' ? e.response.status : typeof e.code === 'number' ? e.code : undefined;
  if (httpStatus !== undefined && httpStatus >= 400) {
    const body = googleErrorBody(e.response?.data);
    const reason = body?.status ?? HTTP_STATUS[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
    return describe(reason, httpStatus, body?.message ?? firstLine(e.message ?? ''), context);
  }
  const message = firstLine(e.message ?? String(err));
  if (/default credentials|could not refresh access token|invalid_grant|reauth/i.test(message)) {
    return describe('UNAUTHENTICATED', undefined, message, context);
  }
  const network = networkCode(err);
  if (network) return describe(network, undefined, message, context);
  if (e.name === 'AbortError' || /timeout|timed out/i.test(message)) return describe('DEADLINE_EXCEEDED', undefined, message, context);
  return new CloudError(`${context.service} ${context.action} failed: ${message}`, 'UNKNOWN');
}

function describe(reason: string, httpStatus: number | undefined, serverMessage: string, context: CloudContext): CloudError {
  const what = `${context.service} ${context.action} failed`;
  const detail = serverMessage ? `${httpStatus ? `${httpStatus} ` : ''}${reason}: ${clip(serverMessage)}` : `${httpStatus ? `${httpStatus} ` : ''}${reason}`;
  return new CloudError(`${what} (${detail}); ${hint(reason, serverMessage, context)}`, reason, httpStatus, `${what} (${detail})`);
}

function hint(reason: string, serverMessage: string, context: CloudContext): string {
  const project = context.project ? ` --project ${context.project}` : '';
  switch (reason) {
    case 'UNAUTHENTICATED':
      return 'sign in with `gcloud auth application-default login` (or point GOOGLE_APPLICATION_CREDENTIALS at a service account key)';
    case 'PERMISSION_DENIED':
      if (/SERVICE_DISABLED|has not been used|is disabled|not enabled/i.test(serverMessage)) {
        return `enable the APIs: gcloud services enable aiplatform.googleapis.com storage.googleapis.com${project}`;
      }
      if (/billing/i.test(serverMessage)) return 'enable billing for the project (console: Billing), then retry';
      return context.service === 'Cloud Storage'
        ? 'grant your account roles/storage.objectAdmin on the bucket, and check --bucket and --project_id'
        : 'grant your account roles/aiplatform.user (and roles/storage.objectViewer on the bucket for the Vertex AI service agent), and check --project_id';
    case 'NOT_FOUND':
      return context.notFoundHint ?? `check --project_id${context.region ? ` and --region (now ${context.region})` : ''}`;
    case 'RESOURCE_EXHAUSTED':
      return `quota or rate limit reached${context.region ? ` in ${context.region}` : ''}: retry later, use fewer replicas or a smaller --machine_type, or request more quota (console: IAM & Admin > Quotas)`;
    case 'ALREADY_EXISTS':
      return 'it exists already; rerun (deploy reuses existing resources) or pick another name';
    case 'FAILED_PRECONDITION':
      return /billing/i.test(serverMessage) ? 'enable billing for the project (console: Billing), then retry' : 'fix the state the message names, then retry';
    case 'INVALID_ARGUMENT':
    case 'OUT_OF_RANGE':
      return 'check the flags and the model (see the message)';
    case 'UNAVAILABLE':
    case 'INTERNAL':
    case 'UNKNOWN':
      return 'the service had a transient problem: retry in a minute';
    case 'DEADLINE_EXCEEDED':
      return 'the request took too long: retry, or raise --timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the API host: check your network${context.region ? ` and --region (now ${context.region})` : ''}`;
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return 'cannot reach the API host: check your network, proxy settings and the URL';
    default:
      return 'see the message';
  }
}

function googleErrorBody(data: unknown): { message?: string; status?: string } | undefined {
  let parsed = data;
  if (typeof data === 'string') {
    try {
      parsed = JSON.parse(data);
    } catch {
      return data.trim() ? { message: data } : undefined;
    }
  }
  const error = (parsed as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return { message: error };
  if (error && typeof error === 'object') {
    const { message, status } = error as { message?: unknown; status?: unknown };
    return { message: typeof message === 'string' ? message : undefined, status: typeof status === 'string' ? status : undefined };
  }
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
