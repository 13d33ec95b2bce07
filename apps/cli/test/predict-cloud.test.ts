// `tensorsky predict-cloud --url` against the built `tensorsky serve` in a child process on loopback,
// with an image classifier written at test time; the truth is `tensorsky predict` on the same SavedModel.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './support/run-cli.js';
import { isolateCloudSettings } from '../../../packages/deploy/test/helpers/fake-cloud.js';
import { writeImageClassifier } from '../../../packages/deploy/test/helpers/image-model.js';
import { IMAGES_DIR } from '@tensorsky/fixtures';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(cliRoot, 'bin', 'tensorsky.js');
const IMAGES = IMAGES_DIR;
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-cli-predict-cloud-'));
const base = path.join(scratch, 'jean_inception');
let serve: ChildProcess;
let url = '';

beforeAll(async () => {
  if (!existsSync(path.join(cliRoot, 'dist', 'commands', 'serve.js'))) {
    throw new Error('apps/cli/dist has no serve command: build first (npm run build at the repository root)');
  }
  await writeImageClassifier(path.join(base, '1'), 'b64');
  // REST on a port free now; --port 0 turns gRPC off (TF Serving's rule).
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const ports = ['--port', '0', '--rest_api_port', String(port)];
  serve = spawn(process.execPath, [bin, 'serve', '--model_base_path', base, '--model_name', 'jean_inception', '--host', '127.0.0.1', ...ports, '--workers', '1', '--backend', 'wasm'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  serve.stderr!.on('data', (c) => (stderr += c));
  url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`tensorsky serve did not start in 60 s: ${stderr}`)), 60_000);
    serve.stdout!.on('data', (c) => {
      stdout += c;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    serve.once('exit', (code) => reject(new Error(`tensorsky serve exited with ${code}: ${stderr}`)));
  });
});
afterAll(() => {
  serve?.kill('SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe('tensorsky predict-cloud --url', () => {
  it('answers like tensorsky predict on the same SavedModel', async () => {
    const images = ['camera.jpg', 'hubble.jpg'].flatMap((name) => ['--image', path.join(IMAGES, name)]);
    const remote = await run('predict-cloud', ...images, '--url', url, '--model_name', 'jean_inception', '--decode_preds_fn', 'inception', '--top', '6', '--json');
    expect(remote.err).toEqual([]);
    expect(remote.json[0]).toMatchObject({ target: `TF Serving model jean_inception at ${url}`, requests: 1 });
    const local = await run('predict', ...images, '--model_path', path.join(base, '1'), '--decode_preds_fn', 'inception', '--top', '6', '--backend', 'wasm', '--json');
    expect(local.code).toBe(0);
    const strip = (predictions: any[]) => predictions.map((p) => ({ image: p.image, top: p.top.map((t: any) => [t.index, t.label]) }));
    expect(strip(remote.json[0].predictions)).toEqual(strip(local.json[0].predictions));
    remote.json[0].predictions.forEach((p: any, i: number) =>
      p.top.forEach((t: any, k: number) => expect(t.score).toBeCloseTo(local.json[0].predictions[i].top[k].score, 6)),
    );

    const table = await run('predict-cloud', '--image', path.join(IMAGES, 'camera.jpg'), '--url', url, '--model_name', 'jean_inception', '--model_version', '1', '--top', '3', '--table');
    expect(table.out[1]).toMatch(/^rank +score +label +id$/);
    expect(table.out.slice(2).map((l) => l.trim().split(/ +/)[2])).toEqual(remote.json[0].predictions[0].top.slice(0, 3).map((t: any) => t.label));
  });

  it('rejects an image too large for one request with a clear one-line message', async () => {
    const file = path.join(scratch, 'huge.bmp');
    writeFileSync(file, bmp(700, 600));
    const result = await run('predict-cloud', '--image', file, '--url', url, '--model_name', 'jean_inception');
    expect(result.code).toBe(1);
    expect(result.err).toHaveLength(1);
    expect(result.err[0]).toMatch(/^tensorsky: .*huge\.bmp makes a 1\.\d\d MB request \(base64 adds a third to the file's size\), over the 1\.50 MB limit of one online prediction; resize or recompress it/);
  });

  it('says where to send the images when no target is given', async () => {
    const cat = path.join(IMAGES, 'cat.jpg');
    const nameTheModel = 'tensorsky: name the model: --model_name and --model_version as given to tensorsky deploy, or --endpoint ID (or call a TF Serving server with --url)';
    expect((await run('predict-cloud', '--image', cat)).err).toEqual([nameTheModel]);
    expect((await run('predict-cloud', '--image', cat, '--project_id', 'my-project')).err).toEqual([nameTheModel]);
    // No project in the flags, the environment or gcloud's (here absent) configuration.
    const gcloud = path.join(scratch, 'no-gcloud');
    const saved = { ...process.env };
    isolateCloudSettings(gcloud);
    try {
      expect((await run('predict-cloud', '--image', cat, '--model_name', 'm', '--model_version', 'v1')).err).toEqual([
        `tensorsky: no Google Cloud project: give --project_id, set GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT, or run \`gcloud config set project PROJECT_ID\` (tensorsky reads ${path.join(gcloud, 'configurations', 'config_default')}); or call a TF Serving server with --url`,
      ]);
    } finally {
      process.env = saved;
    }
    expect((await run('predict-cloud', '--image', cat, '--url', url)).err).toEqual(['tensorsky: --url needs --model_name: the name the server serves the model under']);
  });
});

/** An uncompressed 24-bit BMP (BITMAPINFOHEADER) of the given size, 1.26 MB for 700x600. */
function bmp(width: number, height: number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const file = Buffer.alloc(54 + row * height);
  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(54, 10);
  file.writeUInt32LE(40, 14);
  file.writeInt32LE(width, 18);
  file.writeInt32LE(height, 22);
  file.writeUInt16LE(1, 26);
  file.writeUInt16LE(24, 28);
  file.writeUInt32LE(row * height, 34);
  for (let i = 54; i < file.length; i++) file[i] = (i * 2654435761) >>> 24;
  return file;
}
