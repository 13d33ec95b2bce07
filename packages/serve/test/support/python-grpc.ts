// Python's grpcio as an independent gRPC client in tests: stubs generated at test time with grpc_tools'
// protoc from every .proto file under SERVING_PROTO_DIR (and saved-model's tensorflow.proto and tf.Example protos), so that a
// proto file added there is compiled too. Skipped by callers when python3 lacks grpc and grpc_tools.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { EXAMPLE_PROTO_DIR, TENSORFLOW_PROTO_DIR } from '@tensorsky/saved-model';
import { SERVING_PROTO_DIR } from '../../src/grpc-proto.js';

/** The Python interpreter that has grpcio and grpc_tools (Debian's python3-grpcio, python3-grpc-tools), if any. */
export function findGrpcPython(): string | undefined {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import grpc, grpc_tools.protoc, google.protobuf'], { timeout: 20_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** Writes Python stubs of TF Serving's protos into `dir` (importable with `dir` on sys.path); returns protoc's stderr ('' when fine). */
export async function generatePythonStubs(python: string, dir: string): Promise<{ status: number | null; stderr: string }> {
  // grpc_tools' bundled protoc (3.5 in Debian's python3-grpc-tools) predates proto3 `optional`, which
  // tensorflow.proto uses for byte-exact FunctionDef re-encoding only: hand it a copy without the label.
  await fs.mkdir(path.join(dir, 'tf'), { recursive: true });
  const tensorflowProto = await fs.readFile(path.join(TENSORFLOW_PROTO_DIR, 'tensorflow.proto'), 'utf8');
  await fs.writeFile(path.join(dir, 'tf', 'tensorflow.proto'), tensorflowProto.replace(/^(\s*)optional /gm, '$1'));
  const protos = (await fs.readdir(SERVING_PROTO_DIR, { recursive: true })).filter((f) => f.endsWith('.proto')).sort();
  // tf.Example's protos (tensorflow/core/example/*.proto), which TF Serving's input.proto imports.
  const examples = (await fs.readdir(path.join(EXAMPLE_PROTO_DIR, 'tensorflow'), { recursive: true }))
    .filter((f) => f.endsWith('.proto'))
    .map((f) => `tensorflow/${f}`)
    .sort();
  const protoc = spawnSync(
    python,
    [
      ...['-m', 'grpc_tools.protoc', `-I${SERVING_PROTO_DIR}`, `-I${path.join(dir, 'tf')}`, `-I${EXAMPLE_PROTO_DIR}`, `--python_out=${dir}`, `--grpc_python_out=${dir}`],
      ...protos,
      ...examples,
      'tensorflow.proto',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { status: protoc.status, stderr: protoc.stderr };
}

/** Runs `python script args` asynchronously (the server under test answers from this process's event loop). */
export function runPython(python: string, script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Generates the stubs in a temporary folder, runs `script` (a Python client printing one JSON object) with
 * that folder and the server's gRPC address as arguments, and returns what it printed. Fails the test when
 * protoc or the client writes to stderr or exits non-zero.
 */
export async function runPythonClient(python: string, script: string, grpcAddress: string): Promise<Record<string, any>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tensorsky-python-grpc-'));
  try {
    expect(await generatePythonStubs(python, dir)).toEqual({ status: 0, stderr: '' });
    await fs.writeFile(path.join(dir, 'client.py'), script);
    const run = await runPython(python, path.join(dir, 'client.py'), [dir, grpcAddress]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
