// An independent gRPC client for serve's tests: Python's grpcio with stubs generated at test time from
// our .proto files by grpc_tools (Debian's python3-grpcio, python3-grpc-tools). Tests that use it are
// skipped, with a message, when python3 lacks them.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EXAMPLE_PROTO_DIR, TENSORFLOW_PROTO_DIR } from '@tensorsky/saved-model';
import { SERVING_PROTO_DIR } from '../../src/grpc-proto.js';

/** The Python interpreter that has grpcio and grpc_tools, if any. */
export function findPython(): string | undefined {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import grpc, grpc_tools.protoc, google.protobuf'], { timeout: 20_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** TF Serving's APIs, generated into `dir` as Python modules (tensorflow_pb2, tensorflow_serving.apis.*_pb2[_grpc]). */
export async function generateServingStubs(python: string, dir: string): Promise<{ stderr: string; status: number | null }> {
  const tf = path.join(dir, 'tf');
  await fs.mkdir(path.join(tf, 'tensorflow', 'core', 'example'), { recursive: true });
  // grpc_tools' bundled protoc (3.5 in Debian's python3-grpc-tools) predates proto3 `optional`, which
  // tensorflow.proto uses for byte-exact FunctionDef re-encoding only: hand it a copy without the label.
  const tensorflowProto = await fs.readFile(path.join(TENSORFLOW_PROTO_DIR, 'tensorflow.proto'), 'utf8');
  await fs.writeFile(path.join(tf, 'tensorflow.proto'), tensorflowProto.replace(/^(\s*)optional /gm, '$1'));
  for (const file of ['example.proto', 'feature.proto']) {
    await fs.copyFile(path.join(EXAMPLE_PROTO_DIR, 'tensorflow', 'core', 'example', file), path.join(tf, 'tensorflow', 'core', 'example', file));
  }
  const apis = ['model', 'predict', 'get_model_metadata', 'status', 'get_model_status', 'model_service', 'input', 'classification', 'regression', 'inference', 'prediction_service'];
  const protoc = spawnSync(
    python,
    [
      ...['-m', 'grpc_tools.protoc', `-I${SERVING_PROTO_DIR}`, `-I${tf}`, `--python_out=${dir}`, `--grpc_python_out=${dir}`],
      ...apis.map((p) => `tensorflow_serving/apis/${p}.proto`),
      ...['tensorflow/core/protobuf/error_codes.proto', 'tensorflow/core/example/example.proto', 'tensorflow/core/example/feature.proto', 'tensorflow.proto'],
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { stderr: protoc.stderr, status: protoc.status };
}

/** Runs a Python client script (asynchronously: the server answers from this process's event loop). */
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
