// Credentials for Vertex AI and Cloud Storage: Application Default Credentials (gcloud auth
// application-default login, a service account, the metadata server), or an OAuth access token given
// explicitly (TENSORSKY_ACCESS_TOKEN, e.g. from `gcloud auth print-access-token`, or a test double's token).
import { Storage } from '@google-cloud/storage';
import { auth as googleapisAuth } from 'googleapis/build/src/apis/aiplatform/index.js';
import type { aiplatform_v1 } from 'googleapis/build/src/apis/aiplatform/index.js';

export const ACCESS_TOKEN_ENV = 'TENSORSKY_ACCESS_TOKEN';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** The access token from TENSORSKY_ACCESS_TOKEN, if set. */
export function accessTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = env[ACCESS_TOKEN_ENV]?.trim();
  return token ? token : undefined;
}

export type VertexAuth = NonNullable<aiplatform_v1.Options['auth']>;

/** googleapis credentials: a fixed access token, else Application Default Credentials. */
export function vertexAuth(accessToken?: string): VertexAuth {
  if (accessToken) return tokenClient(accessToken);
  return new googleapisAuth.GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] });
}

/**
 * A client that sends a fixed access token. googleapis and @google-cloud/storage are pinned to versions
 * that share one google-auth-library major, so the same client class serves both.
 */
function tokenClient(accessToken: string) {
  const client = new googleapisAuth.OAuth2();
  client.setCredentials({ access_token: accessToken });
  return client;
}

export interface StorageClientOptions {
  projectId?: string;
  /** JSON API root other than https://storage.googleapis.com (an emulator on loopback is called without credentials). */
  apiEndpoint?: string;
  accessToken?: string;
  /** Per-request timeout; default the library's. */
  timeoutMs?: number;
  /** Let the library retry failed requests (default true; a dry run asks once). */
  autoRetry?: boolean;
}

export function createStorage(options: StorageClientOptions): Storage {
  const loopback = options.apiEndpoint !== undefined && isLoopback(options.apiEndpoint);
  return new Storage({
    projectId: options.projectId,
    apiEndpoint: options.apiEndpoint,
    useAuthWithCustomEndpoint: options.apiEndpoint !== undefined && !loopback,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.autoRetry === undefined ? {} : { retryOptions: { autoRetry: options.autoRetry } }),
    ...(options.accessToken && !loopback ? { authClient: tokenClient(options.accessToken) } : {}),
  });
}

function isLoopback(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
