// --grpc_socket_path: gRPC on a UNIX socket next to the TCP port, as TF Serving's RunServer starts every
// test server (--grpc_socket_path=/tmp/tf-serving.sock). Like gRPC's core, a socket file left behind by
// an earlier server is replaced; any other file at that path is left alone and the start is refused.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DataType, tensorProto } from '@tensorsky/saved-model';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ServeStartError } from '../src/index.js';
import { PREDICTION_SERVICE } from '../src/grpc-proto.js';
import { grpcClient } from './support/grpc-client.js';
import { HALF_PLUS_TWO, model, startTestServer, tempDir } from './support/harness.js';

describe('--grpc_socket_path', () => {
  it('serves Predict on the UNIX socket, replacing a stale socket file', async () => {
    const dir = await tempDir('serve-socket-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    const socket = path.join(dir, 'tf-serving.sock');
    // A socket file nobody listens on any more: bound by a process that exited without removing it.
    const stale = spawnSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket]);
    expect(stale.status).toBe(0);
    expect((await fs.lstat(socket)).isSocket()).toBe(true);
    const server = await startTestServer({ models: [model('default', HALF_PLUS_TWO)], grpcPort: 0, grpcSocketPath: socket, workers: 1 });
    const client = grpcClient(PREDICTION_SERVICE, `unix:${socket}`);
    try {
      const reply = await new Promise<any>((resolve, reject) =>
        client.Predict({ model_spec: { name: 'default' }, inputs: { x: tensorProto(DataType.DT_FLOAT, [2], [1, 2]) } }, { deadline: Date.now() + 10_000 }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );
      expect(reply.outputs.y.float_val).toEqual([2.5, 3]);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses to start when another kind of file is at the path, and leaves it', async () => {
    const dir = await tempDir('serve-socket-file-');
    onTestFinished(() => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'not-a-socket');
    await fs.writeFile(file, 'keep me');
    const start = startTestServer({ models: [model('default', HALF_PLUS_TWO)], grpcPort: 0, grpcSocketPath: file, workers: 1 });
    await expect(start).rejects.toThrow(ServeStartError);
    await expect(start).rejects.toThrow(/^cannot listen for gRPC on the UNIX socket .*not-a-socket: .*; choose another --grpc_socket_path$/);
    expect(await fs.readFile(file, 'utf8')).toBe('keep me');
  });
});
