// The calls a deployment makes, as REST (method, URL, JSON body): printed by --dry-run instead of being
// sent, and reported after being sent with --verbose. Bodies never hold credentials; headers are never shown.

export interface RestCall {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
}

/** "POST https://.../models:upload {json}" on one line. */
export function formatRestCall(call: RestCall): string {
  return call.body === undefined ? `${call.method} ${call.url}` : `${call.method} ${call.url} ${JSON.stringify(call.body)}`;
}

/** Joins an API root (with or without a trailing slash) and a path, adding query parameters that are set. */
export function restUrl(root: string, pathname: string, query: Record<string, string | number | undefined> = {}): string {
  const url = new URL(pathname.replace(/^\/+/, ''), root.endsWith('/') ? root : `${root}/`);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  return url.toString();
}
