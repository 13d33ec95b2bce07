// Errors that carry what TensorFlow Serving would answer with: the HTTP status of its REST API and the
// canonical status code of its gRPC API (they differ where TF Serving's two fronts differ, e.g. an
// unknown signature is 400 over REST and FAILED_PRECONDITION over gRPC). The message is the body's
// "error" or the gRPC status details.

/** TensorFlow's (and gRPC's) canonical status codes this server answers with. */
export type StatusCode =
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

export class ServeError extends Error {
  override name = 'ServeError';
  constructor(
    readonly status: number,
    message: string,
    readonly code: StatusCode = STATUS_CODES[status] ?? (status < 500 ? 'INVALID_ARGUMENT' : 'INTERNAL'),
  ) {
    super(message);
  }
}

/** The gRPC code of an HTTP status, where TF Serving's http_rest_api_handler maps them one to one. */
const STATUS_CODES: Record<number, StatusCode> = {
  404: 'NOT_FOUND',
  413: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** 400: the request is malformed or does not fit the signature (TF Serving's INVALID_ARGUMENT). */
export const invalidArgument = (message: string) => new ServeError(400, message);
/** 404: unknown model or version (TF Serving's NOT_FOUND). */
export const notFound = (message: string) => new ServeError(404, message);
/** 504: the request's compute budget ran out (TF Serving's DEADLINE_EXCEEDED, --rest_api_timeout_in_ms). */
export const deadlineExceeded = (message: string) => new ServeError(504, message);
/** nginx's "client closed request": the client went away before its answer (TF Serving's CANCELLED); never sent. */
export const CLIENT_CLOSED = 499;
export const cancelled = (message: string) => new ServeError(CLIENT_CLOSED, message);
/** 503: overloaded or shutting down (TF Serving's UNAVAILABLE); the client may retry. */
export const unavailable = (message: string) => new ServeError(503, message);

/** Text from a request (a name, a label) as it may appear in a one-line message: control characters escaped. */
export function shown(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));
}

/** The one-line message of anything thrown. */
export function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
