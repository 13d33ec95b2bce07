// A real GCS JSON API server on loopback for tests: firebase-tools' storage emulator in a child process
// with its own TMPDIR (instances would otherwise share blob files).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gcs-emulator-child.cjs');

export interface GcsEmulator {
  /** JSON API root, e.g. http://127.0.0.1:40123 (give it to @google-cloud/storage as apiEndpoint). */
  url: string;
  stop(): Promise<void>;
}

export async function startGcsEmulator(): Promise<GcsEmulator> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-gcs-'));
  const child = spawn(process.execPath, [CHILD], {
    cwd: path.dirname(CHILD),
    env: { ...process.env, TMPDIR: tmp, STORAGE_EMULATOR_HOST: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the GCS emulator did not start in 30 s: ${stderr}`));
    }, 30_000);
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the GCS emulator exited before listening: ${stderr}`));
    });
  });
  return {
    url,
    stop: async () => {
      stopChild(child);
      await exited;
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function stopChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
