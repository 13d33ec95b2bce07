// What the container runs (bin/container-start.js): `tensorsky serve` configured from the environment
// as TensorFlow Serving's image is (MODEL_NAME, MODEL_BASE_PATH; the model is MODEL_BASE_PATH/MODEL_NAME;
// arguments after the image name are more serve flags). MODEL_BASE_PATH may be gs://BUCKET/FOLDER: the
// model's numbered versions are then copied into a local folder first (TF Serving reads gs:// itself;
// tensorsky serve reads local files). PORT is the HTTP port as Cloud Run and other platforms set it, so it
// sets the REST port; TF Serving's --port (gRPC) is GRPC_PORT here.
import { existsSync, statSync } from 'node:fs';
import { ContainerConfigError, containerConfig, type ContainerConfig } from './container-config.js';
import { processOutput, type Output } from './output.js';

/** `tensorsky serve` flags for the configuration, then the container's own arguments (they win, as later flags do). */
export function serveArguments(config: ContainerConfig, modelBasePath: string, extra: readonly string[]): string[] {
  return [
    'serve',
    '--model_name', config.modelName,
    '--model_base_path', modelBasePath,
    '--port', String(config.grpcPort),
    '--rest_api_port', String(config.restPort),
    ...extra,
  ];
}

/** Copies a gs:// model, then serves; resolves with the exit code once serve stops (SIGTERM). */
export async function containerStart(extra: readonly string[], env: NodeJS.ProcessEnv = process.env, output: Output = processOutput): Promise<number> {
  const say = (line: string) => output.err(`tensorsky container: ${line}`);
  try {
    const config = containerConfig(env);
    const basePath = config.modelSource.startsWith('gs://') ? await syncFromCloudStorage(config, env, say) : checkLocalModel(config.modelSource);
    say(`serving ${config.modelName} from ${basePath}: REST on port ${config.restPort}, gRPC on port ${config.grpcPort}`);
    // Loaded once the model is in place: the engines take seconds to load, a refused configuration need not wait.
    const { main } = await import('./main.js');
    return await main(serveArguments(config, basePath, extra), output);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    say(message.split('\n')[0]);
    return 1;
  }
}

async function syncFromCloudStorage(config: ContainerConfig, env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<string> {
  // Lazy, as in deploy: only a gs:// model needs the Cloud Storage client.
  const { accessTokenFromEnv, createStorage, syncModelRepository } = await import('@tensorsky/deploy');
  // The storage client itself reads STORAGE_EMULATOR_HOST (an emulator, for tests and local runs; no credentials).
  const storage = createStorage({ accessToken: accessTokenFromEnv(env) });
  const started = Date.now();
  try {
    const report = await syncModelRepository({ storage, source: config.modelSource, dir: config.localDir, log: say });
    say(`versions ${report.versions.join(', ')} of ${config.modelSource} are in ${config.localDir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    throw new ContainerConfigError(`MODEL_BASE_PATH/MODEL_NAME = ${config.modelSource}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return config.localDir;
}

function checkLocalModel(dir: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ContainerConfigError(
      `MODEL_BASE_PATH/MODEL_NAME = ${dir} is not a folder: mount the model repository there (docker run -v "$PWD/models:/models" -e MODEL_NAME=...) or set MODEL_BASE_PATH=gs://BUCKET/FOLDER`,
    );
  }
  return dir;
}
