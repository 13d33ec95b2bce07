// `tensorsky serve` as users run it: the built binary in a child process, gRPC and REST on free loopback ports,
// with TF Serving's test models and the real engine; plus argument errors in-process.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { DataType, tensorProto } from '@tensorsky/saved-model';
import { PREDICTION_SERVICE, WARMUP_FILE, serviceDefinition, warmupFileBytes } from '@tensorsky/serve';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import type { Output } from '../src/output.js';
import { SAVED_MODELS_DIR } from '@tensorsky/fixtures';

const cliRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(cliRoot, '..', '..');
const bin = path.join(cliRoot, 'bin', 'tensorsky.js');
const tfServing = path.join(SAVED_MODELS_DIR, 'tf-serving');
const PredictionClient = grpc.makeGenericClientConstructor(serviceDefinition(PREDICTION_SERVICE), PREDICTION_SERVICE) as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => grpc.Client & { Predict: (...args: unknown[]) => void };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tensorsky-serve-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Served {
  child: ChildProcess;
  url: string;
  grpcAddress: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawns `tensorsky serve ARGS` and resolves once it prints the address it listens on. */
function serve(...args: string[]): Promise<Served> {
  return serveWithNodeFlags([], ...args);
}

/** A port free on 127.0.0.1 now: for tensorsky serve, as for TF Serving, port 0 means off. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function serveWithNodeFlags(nodeFlags: string[], ...args: string[]): Promise<Served> {
  if (!existsSync(path.join(cliRoot, 'dist', 'commands', 'serve.js'))) {
    throw new Error('apps/cli/dist has no serve command: build first (npm run build at the repository root)');
  }
  const ports = ['--port', String(await freePort()), '--rest_api_port', String(await freePort())];
  return launch([...nodeFlags, bin, 'serve', '--host', '127.0.0.1', ...ports, '--workers', '1', ...args]);
}

/** Runs node ARGV and resolves once tensorsky serve prints the addresses it listens on ('' for an API that is off). */
function launch(argv: string[]): Promise<Served> {
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tensorsky serve did not start in 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.stdout!.on('data', (c) => {
      stdout += c;
      const line = /listening on (.*); models: /.exec(stdout)?.[1];
      if (line !== undefined) {
        clearTimeout(timer);
        const url = /(http:\/\/127\.0\.0\.1:\d+) \(REST\)/.exec(line)?.[1] ?? '';
        const grpcAddress = /(127\.0\.0\.1:\d+) \(gRPC\)/.exec(line)?.[1] ?? '';
        resolve({ child, url, grpcAddress, stderr: () => stderr, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tensorsky serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('tensorsky serve (built binary)', () => {
  it('serves half_plus_two over TF Serving REST and stops cleanly on SIGTERM', async () => {
    // Two compute threads: the wasm backend's pool runs inside the worker thread and must not hold up the stop.
    const served = await serve(
      ...['--model_base_path', path.join(tfServing, 'saved_model_half_plus_two_cpu'), '--model_name', 'half_plus_two', '--threads', '2'],
      ...['--rest_api_timeout_in_ms', '60000'],
    );
    try {
      expect(await post(`${served.url}/v1/models/half_plus_two:predict`, { instances: [2.0, 3.0, 4.0] })).toEqual({
        status: 200,
        body: { predictions: [3.0, 3.5, 4.0] },
      });
      expect(await post(`${served.url}/v1/models/half_plus_two:predict`, { inputs: [2.0, 3.0, 4.0] })).toEqual({
        status: 200,
        body: { outputs: [3.0, 3.5, 4.0] },
      });
      const status = await (await fetch(`${served.url}/v1/models/half_plus_two`)).json();
      expect(status).toEqual({ model_version_status: [{ version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
    expect(served.stderr()).toMatch(/SIGTERM: finishing requests in flight, then stopping/);
    expect(served.stderr()).toMatch(/stopped/);
  });

  it("serves TF Serving's documented command line: gRPC on --port, REST on --rest_api_port", async () => {
    const [grpcPort, restPort] = [await freePort(), await freePort()];
    const served = await launch([
      ...[bin, 'serve', `--port=${grpcPort}`, `--rest_api_port=${restPort}`, '--model_name=half_plus_two'],
      ...[`--model_base_path=${path.join(tfServing, 'saved_model_half_plus_two_cpu')}`, '--host=127.0.0.1', '--workers=1'],
    ]);
    const client = new PredictionClient(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    try {
      expect(served.url).toBe(`http://127.0.0.1:${restPort}`);
      expect(served.grpcAddress).toBe(`127.0.0.1:${grpcPort}`);
      // tensorflow_model_server_test.py's half_plus_two: x = [[1], [2], [5]] gives y = [[2.5], [3], [4.5]].
      const x = tensorProto(DataType.DT_FLOAT, [3, 1], [1, 2, 5]);
      const reply = await new Promise<any>((resolve, reject) =>
        client.Predict({ model_spec: { name: 'half_plus_two' }, inputs: { x } }, { deadline: Date.now() + 30_000 }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))),
      );
      expect(reply.outputs.y.float_val).toEqual([2.5, 3, 4.5]);
      expect(reply.model_spec.version.value.toNumber()).toBe(123);
      expect(await post(`${served.url}/v1/models/half_plus_two:predict`, { instances: [[1.0], [2.0], [5.0]] })).toEqual({
        status: 200,
        body: { predictions: [[2.5], [3.0], [4.5]] },
      });
    } finally {
      client.close();
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('turns REST off with --rest_api_port 0 and gRPC off with --port 0, as TF Serving does', async () => {
    const model = ['--model_base_path', path.join(tfServing, 'saved_model_half_plus_two_cpu'), '--host', '127.0.0.1', '--workers', '1'];
    const grpcOnly = await launch([bin, 'serve', '--port', String(await freePort()), '--rest_api_port', '0', ...model]);
    grpcOnly.child.kill('SIGTERM');
    expect(await grpcOnly.exited).toBe(0);
    expect([grpcOnly.url, grpcOnly.grpcAddress]).toEqual(['', expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    const restOnly = await launch([bin, 'serve', '--port', '0', '--rest_api_port', String(await freePort()), ...model]);
    restOnly.child.kill('SIGTERM');
    expect(await restOnly.exited).toBe(0);
    expect([restOnly.url, restOnly.grpcAddress]).toEqual([expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), '']);
  });

  it('starts its worker threads when Node runs with process-wide flags (--expose-gc, --max-old-space-size)', async () => {
    // Worker threads refuse such flags when they are passed explicitly; the server must not crash on them.
    const served = await serveWithNodeFlags(['--expose-gc', '--max-old-space-size=2048'], '--model_base_path', path.join(tfServing, 'saved_model_half_plus_two_cpu'), '--model_name', 'hp');
    try {
      expect(await post(`${served.url}/v1/models/hp:predict`, { instances: [1.0] })).toEqual({ status: 200, body: { predictions: [2.5] } });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('drains a request in flight on SIGTERM: the client finishes sending and gets its answer', async () => {
    const served = await serve('--model_base_path', path.join(tfServing, 'saved_model_half_plus_two_cpu'), '--model_name', 'hp');
    const { port } = new URL(served.url);
    const body = JSON.stringify({ instances: [8.0] });
    const socket = net.connect(Number(port), '127.0.0.1');
    const response = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c) => (text += c)).on('close', () => resolve(text));
    });
    await new Promise((r) => socket.once('connect', r));
    // Half the body now, SIGTERM, the other half later: the request is in flight across the signal.
    socket.write(`POST /v1/models/hp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 8)}`);
    await new Promise((r) => setTimeout(r, 200));
    served.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(8));
    const text = await response;
    expect(text).toMatch(/^HTTP\/1.1 200/);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ predictions: [6.0] });
    expect(await served.exited).toBe(0);
    // The listening socket is closed: new connections are refused.
    await expect(fetch(`${served.url}/v1/models/hp`)).rejects.toThrow();
  });

  it('serves versions and labels from a --model_config_file', async () => {
    const config = path.join(scratch, 'models.config');
    writeFileSync(
      config,
      `model_config_list {
         config {
           name: 'hp'
           base_path: '${path.join(tfServing, 'saved_model_half_plus_two_2_versions')}'
           model_platform: 'tensorflow'
           model_version_policy { specific { versions: 123 versions: 124 } }
           version_labels { key: 'stable' value: 123 }
           version_labels { key: 'canary' value: 124 }
         }
         config { name: 'three' base_path: '${path.join(tfServing, 'saved_model_half_plus_three')}' }
       }`,
    );
    const served = await serve('--model_config_file', config);
    try {
      for (const route of ['hp', 'hp/versions/123', 'hp/versions/124', 'hp/labels/stable', 'hp/labels/canary']) {
        expect(await post(`${served.url}/v1/models/${route}:predict`, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
      }
      expect(await post(`${served.url}/v1/models/three:predict`, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [4.0] } });
      expect(await post(`${served.url}/v1/projects/p/locations/l/endpoints/three:predict`, { instances: [0.0] })).toEqual({
        status: 200,
        body: { predictions: [3.0], deployedModelId: '123', model: 'projects/p/locations/l/models/three', modelDisplayName: 'three', modelVersionId: '123' },
      });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('replays a version\'s warmup requests before serving it, unless --enable_model_warmup=false', async () => {
    const base = path.join(scratch, 'warmup');
    cpSync(path.join(tfServing, 'saved_model_half_plus_two_cpu'), base, { recursive: true });
    mkdirSync(path.join(base, '00000123', 'assets.extra'));
    const request = { signatureName: 'serving_default', inputs: { x: tensorProto(DataType.DT_FLOAT, [2, 1], [1, 2], { fields: true }) } };
    writeFileSync(path.join(base, '00000123', WARMUP_FILE), warmupFileBytes([request]));
    for (const [flags, replayed] of [[[], true], [['--enable_model_warmup=false'], false]] as const) {
      const served = await serve('--model_base_path', base, ...flags);
      try {
        if (replayed) expect(served.stderr()).toMatch(/default@123: warmup: 1 requests replayed in \d+ ms/);
        else expect(served.stderr()).not.toMatch(/warmup: /);
        expect(await post(`${served.url}/v1/models/default:predict`, { instances: [[2.0]] })).toEqual({ status: 200, body: { predictions: [[3.0]] } });
      } finally {
        served.child.kill('SIGTERM');
      }
      expect(await served.exited).toBe(0);
    }
  });
});

// TF Serving's command lines, flag for flag: those of its docs (docker.md, serving_config.md) and of
// tensorflow_model_server_test_base.py's RunServer (which every case of tensorflow_model_server_test.py
// starts the server with), on free ports and scratch paths.
describe("TF Serving's documented command lines", () => {
  /** RunServer's flags: --port, --rest_api_port, --rest_api_timeout_in_ms, --grpc_socket_path, ..., --grpc_channel_arguments. */
  async function runServer(socket: string, ...modelFlags: string[]): Promise<Served & { grpcPort: number }> {
    const [grpcPort, restPort] = [await freePort(), await freePort()];
    const served = await launch([
      ...[bin, 'serve', `--port=${grpcPort}`, `--rest_api_port=${restPort}`, '--rest_api_timeout_in_ms=5000', `--grpc_socket_path=${socket}`],
      ...modelFlags,
      '--grpc_channel_arguments=grpc.so_reuseaddr=1',
    ]);
    return { ...served, grpcPort };
  }

  async function grpcPredict(address: string, name: string, extra: object = {}): Promise<{ y: number[]; version: number }> {
    const client = new PredictionClient(address, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<any>((resolve, reject) =>
        client.Predict(
          { model_spec: { name, ...extra }, inputs: { x: tensorProto(DataType.DT_FLOAT, [1], [2]) } },
          { deadline: Date.now() + 30_000 },
          (err: unknown, res: unknown) => (err ? reject(err) : resolve(res)),
        ),
      );
      return { y: reply.outputs.y.float_val, version: reply.model_spec.version.value.toNumber() };
    } finally {
      client.close();
    }
  }

  it('testGoodModelConfig: --model_config_file (good_model_config.txt), gRPC on the port and on --grpc_socket_path', async () => {
    const config = path.join(scratch, 'good_model_config.conf');
    writeFileSync(
      config,
      `model_config_list: {
  config: {
    name: "half_plus_two",
    base_path: "${path.join(tfServing, 'saved_model_half_plus_two_cpu')}",
    model_platform: "tensorflow"
  },
  config: {
    name: "half_plus_three",
    base_path: "${path.join(tfServing, 'saved_model_half_plus_three')}",
    model_platform: "tensorflow"
  }
}
`,
    );
    const socket = path.join(scratch, 'tf-serving.sock');
    const served = await runServer(socket, `--model_config_file=${config}`);
    try {
      expect(await grpcPredict(`127.0.0.1:${served.grpcPort}`, 'half_plus_two')).toEqual({ y: [3.0], version: 123 });
      expect(await grpcPredict(`127.0.0.1:${served.grpcPort}`, 'half_plus_three')).toEqual({ y: [4.0], version: 123 });
      expect(await grpcPredict(`unix:${socket}`, 'half_plus_two')).toEqual({ y: [3.0], version: 123 });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('testPrometheusEndpoint: --monitoring_config_file (monitoring_config.txt) serves TF Serving\'s metrics', async () => {
    const monitoring = path.join(scratch, 'monitoring_config.txt');
    writeFileSync(monitoring, 'prometheus_config: {\n  enable: true,\n  path: "/monitoring/prometheus/metrics"\n}\n');
    const model = path.join(tfServing, 'saved_model_half_plus_two_cpu');
    const served = await runServer(path.join(scratch, 'prometheus.sock'), '--model_name=default', `--model_base_path=${model}`, `--monitoring_config_file=${monitoring}`);
    try {
      expect(await post(`${served.url}/v1/models/default:predict`, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
      const text = await (await fetch(`${served.url}/monitoring/prometheus/metrics`)).text();
      expect(text).toContain('# TYPE');
      expect(text).toMatch(/^:tensorflow:serving:request_count\{model_name="default",status="OK"\} 1$/m);
      expect(text).toMatch(/^:tensorflow:serving:request_latency_count\{model_name="default",API="predict",entrypoint="REST"\} 1$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('RunServer with batching_parameters_file: --enable_batching --batching_parameters_file (batching_config.txt)', async () => {
    const batching = path.join(scratch, 'batching_config.txt');
    writeFileSync(batching, 'max_batch_size { value: 128 }\nbatch_timeout_micros { value: 0 }\nmax_enqueued_batches { value: 1000000 }\nnum_batch_threads { value: 8 }\n');
    const model = path.join(tfServing, 'saved_model_half_plus_two_cpu');
    const served = await runServer(path.join(scratch, 'batching.sock'), '--model_name=default', `--model_base_path=${model}`, '--enable_batching', `--batching_parameters_file=${batching}`);
    try {
      const x = Array.from({ length: 300 }, (_, i) => i);
      const reply = await post(`${served.url}/v1/models/default:predict`, { instances: x });
      expect(reply.status).toBe(200);
      expect(reply.body.predictions).toEqual(x.map((v) => 0.5 * v + 2));
      expect(await grpcPredict(`127.0.0.1:${served.grpcPort}`, 'default')).toEqual({ y: [3.0], version: 123 });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });

  it('serving_config.md: a config file with version labels, polled (--model_config_file_poll_wait_seconds=60), labels given at start', async () => {
    const config = path.join(scratch, 'models.config');
    writeFileSync(
      config,
      `model_config_list {
  config {
    name: 'my_model'
    base_path: '${path.join(tfServing, 'saved_model_half_plus_two_2_versions')}'
    model_platform: 'tensorflow'
    model_version_policy {
      specific {
        versions: 123
        versions: 124
      }
    }
    version_labels {
      key: 'stable'
      value: 123
    }
    version_labels {
      key: 'canary'
      value: 124
    }
  }
}
`,
    );
    const [grpcPort, restPort] = [await freePort(), await freePort()];
    const served = await launch([
      ...[bin, 'serve', `--port=${grpcPort}`, `--rest_api_port=${restPort}`, `--model_config_file=${config}`],
      ...['--model_config_file_poll_wait_seconds=60', '--allow_version_labels_for_unavailable_models'],
    ]);
    try {
      expect(await grpcPredict(`127.0.0.1:${grpcPort}`, 'my_model', { version_label: 'stable' })).toEqual({ y: [3.0], version: 123 });
      expect(await grpcPredict(`127.0.0.1:${grpcPort}`, 'my_model', { version_label: 'canary' })).toEqual({ y: [3.0], version: 124 });
      expect(await post(`${served.url}/v1/models/my_model/labels/canary:predict`, { instances: [2.0] })).toEqual({ status: 200, body: { predictions: [3.0] } });
    } finally {
      served.child.kill('SIGTERM');
    }
    expect(await served.exited).toBe(0);
  });
});

describe('tensorsky serve argument errors', () => {
  async function run(...argv: string[]) {
    const err: string[] = [];
    const output: Output = { out: () => {}, err: (line) => err.push(line), json: () => {} };
    const code = await main(argv, output);
    return { code, err: err.join('\n') };
  }

  // Exit 2: a flag's value is a usage error; exit 1: what the flags point at is wrong.
  it.each([
    [['serve'], 1, /tensorsky: nothing to serve: give --model_base_path DIR/],
    [['serve', '--model_base_path', '/a', '--model_config_file', '/b'], 1, /give either --model_base_path or --model_config_file, not both/],
    [['serve', '--model_base_path', path.join(scratch, 'missing')], 1, /model base path .*missing is not a directory/],
    [['serve', '--model_config_file', path.join(scratch, 'missing.config')], 1, /cannot read model config file/],
    [['serve', '--model_base_path', tfServing, '--model_name', '../x'], 1, /model name '..\/x' is not allowed/],
    [['serve', '--model_base_path', tfServing, '--max_batch_size', '0'], 2, /--max_batch_size must be an integer >= 1, got 0/],
    [['serve', '--model_base_path', tfServing, '--threads', '0'], 2, /--threads must be an integer >= 1, got 0/],
    [['serve', '--model_base_path', tfServing, '--rest_api_port', '-1'], 2, /--rest_api_port must be an integer >= 0, got -1/],
    [['serve', '--model_base_path', tfServing, '--port', '1.5'], 2, /--port must be an integer >= 0, got 1.5/],
    [['serve', '--model_base_path', tfServing, '--port', '0', '--rest_api_port', '0'], 2, /--port 0 and --rest_api_port 0 turn off both APIs; give one of them a port/],
    [['serve', '--model_base_path', tfServing, '--port', '9000', '--rest_api_port', '9000'], 2, /--port and --rest_api_port are both 9000; gRPC and REST need different ports/],
    [['serve', '--model_base_path', tfServing, '--rest_api_timeout_in_ms', '-5'], 2, /--rest_api_timeout_in_ms must be an integer >= 0, got -5/],
    [['serve', '--model_base_path', tfServing, '--rest-api-timeout-in-ms', '1.5'], 2, /--rest-api-timeout-in-ms must be an integer >= 0, got 1.5/],
    [['serve', '--model_base_path', tfServing, '--max_image_pixels', '0'], 2, /--max_image_pixels must be an integer >= 1, got 0/],
    [['serve', '--model_base_path', tfServing, '--max-request-pixels', '1.5'], 2, /--max-request-pixels must be an integer >= 1, got 1.5/],
    [['serve', '--model_base_path', tfServing, '--max_images_per_request', '-3'], 2, /--max_images_per_request must be an integer >= 1, got -3/],
    [['serve', '--model_base_path', tfServing, '--max_gif_frames', '0'], 2, /--max_gif_frames must be an integer >= 1, got 0/],
    [['serve', '--model_base_path', tfServing, '--batching_parameters_file', '/b.txt'], 2, /--batching_parameters_file is set without --enable_batching .*; add --enable_batching/],
    [['serve', '--model_base_path', tfServing, '--enable_batching', '--batching_parameters_file', path.join(scratch, 'none.txt')], 1, /cannot read --batching_parameters_file/],
    [['serve', '--model_base_path', tfServing, '--monitoring_config_file', path.join(scratch, 'none.txt')], 1, /cannot read --monitoring_config_file/],
    [
      ['serve', '--model_base_path', tfServing, '--tensorflow_intra_op_parallelism=2', '--tensorflow_inter_op_parallelism=2', '--tensorflow_session_parallelism=2'],
      2,
      /configure either --tensorflow_session_parallelism or \(--tensorflow_intra_op_parallelism, --tensorflow_inter_op_parallelism\), not all three/,
    ],
    [['serve', '--model_base_path', tfServing, '--grpc_channel_arguments', 'grpc.x'], 2, /--grpc_channel_arguments takes key=value pairs separated by commas, got "grpc.x"/],
    [['serve', '--model_base_path', tfServing, '--model_config_file_poll_wait_seconds', '-1'], 2, /--model_config_file_poll_wait_seconds must be an integer >= 0, got -1/],
  ])('%j fails with a one-line message', async (argv, exitCode, message) => {
    const { code, err } = await run(...argv);
    expect(code).toBe(exitCode);
    expect(err).toMatch(message);
    expect(err.split('\n')).toHaveLength(1);
  });
});
