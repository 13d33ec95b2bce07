// Errors that carry the HTTP status TensorFlow Serving would answer with; the message is the body's "error".

export class ServeError extends Error {
  override name = 'ServeError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** 400: the request is malformed or does not fit the signature (TF Serving's INVALID_ARGUMENT). */
export const invalidArgument = (message: string) => new ServeError(400, message);
/** 404: unknown model, version, label or signature (TF Serving's NOT_FOUND). */
export const notFound = (message: string) => new ServeError(404, message);
/** 504: the request's compute budget ran out (TF Serving's DEADLINE_EXCEEDED, --rest_api_timeout_in_ms). */
export const deadlineExceeded = (message: string) => new ServeError(504, message);
/** 499: the client went away before its answer (TF Serving's CANCELLED, nginx's "client closed request"). */
export const cancelled = (message: string) => new ServeError(499, message);
/** 503: overloaded or shutting down (TF Serving's UNAVAILABLE); the client may retry. */
export const unavailable = (message: string) => new ServeError(503, message);

/** The one-line message of anything thrown. */
export function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
