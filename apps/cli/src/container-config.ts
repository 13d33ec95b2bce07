// The container's configuration, from the environment as TensorFlow Serving's image takes it
// (MODEL_NAME, MODEL_BASE_PATH; the model is MODEL_BASE_PATH/MODEL_NAME), and its HEALTHCHECK. Kept apart
// from container-start.ts so that the healthcheck, run every 30 s, loads nothing else.
import os from 'node:os';
import path from 'node:path';
import { processOutput, type Output } from './output.js';

export const CONTAINER_DEFAULTS = { modelName: 'model', modelBasePath: '/models', restPort: 8501, grpcPort: 8500 } as const;

export class ContainerConfigError extends Error {
  override name = 'ContainerConfigError';
}

export interface ContainerConfig {
  modelName: string;
  /** MODEL_BASE_PATH/MODEL_NAME: a local folder or gs://BUCKET/FOLDER/MODEL_NAME. */
  modelSource: string;
  /** Where a gs:// model's versions are copied (MODEL_CACHE_DIR/MODEL_NAME). */
  localDir: string;
  restPort: number;
  grpcPort: number;
}

/** The configuration the environment describes; throws ContainerConfigError naming the variable at fault. */
export function containerConfig(env: NodeJS.ProcessEnv): ContainerConfig {
  const modelName = (env.MODEL_NAME ?? '').trim() || CONTAINER_DEFAULTS.modelName;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(modelName) || modelName.includes('..')) {
    throw new ContainerConfigError(`MODEL_NAME=${JSON.stringify(modelName)} is not a model name: use letters, digits, _ . or - (e.g. jean_inception)`);
  }
  const basePath = ((env.MODEL_BASE_PATH ?? '').trim() || CONTAINER_DEFAULTS.modelBasePath).replace(/(.)\/+$/, '$1');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(basePath) && !basePath.startsWith('gs://')) {
    throw new ContainerConfigError(`MODEL_BASE_PATH=${basePath}: only local folders and gs://BUCKET/FOLDER are supported`);
  }
  const cacheDir = (env.MODEL_CACHE_DIR ?? '').trim() || path.join(os.tmpdir(), 'tensorsky-models');
  return {
    modelName,
    modelSource: basePath.startsWith('gs://') ? `${basePath}/${modelName}` : path.resolve(basePath, modelName),
    localDir: path.resolve(cacheDir, modelName),
    restPort: port(env, ['REST_API_PORT', 'PORT'], CONTAINER_DEFAULTS.restPort),
    grpcPort: port(env, ['GRPC_PORT'], CONTAINER_DEFAULTS.grpcPort),
  };
}

function port(env: NodeJS.ProcessEnv, names: readonly string[], fallback: number): number {
  for (const name of names) {
    const value = env[name]?.trim();
    if (!value) continue;
    const number = Number(value);
    if (!/^\d+$/.test(value) || number > 65535) throw new ContainerConfigError(`${name}=${JSON.stringify(value)} is not a port number (0-65535; 0 turns the API off)`);
    return number;
  }
  return fallback;
}

/** The image's HEALTHCHECK: 0 when /healthz on the REST port answers 200 within timeoutMs, else 1. */
export async function containerHealthcheck(env: NodeJS.ProcessEnv = process.env, output: Output = processOutput, timeoutMs = 4000): Promise<number> {
  let restPort: number;
  try {
    restPort = containerConfig(env).restPort;
  } catch (err) {
    output.err(`tensorsky healthcheck: ${(err as Error).message}`);
    return 1;
  }
  if (restPort === 0) {
    output.out('tensorsky healthcheck: REST is off (REST_API_PORT=0), nothing to ask');
    return 0;
  }
  const url = `http://127.0.0.1:${restPort}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    (res.ok ? output.out : output.err)(`tensorsky healthcheck: ${url} ${res.status} ${body}`);
    return res.ok ? 0 : 1;
  } catch (err) {
    output.err(`tensorsky healthcheck: ${url} did not answer: ${(err as Error).message}`);
    return 1;
  }
}
