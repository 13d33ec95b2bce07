// Hostile and careless clients: decompression bombs (built at test time), names that are Object.prototype
// members, clients that leave mid-body, a main thread too busy to read bodies in time. Only loopback
// traffic; every loop is bounded.
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { imagePath, jpegBomb, pngBomb } from '@tensorsky/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ModelServer } from '../src/index.js';
import { HALF_PLUS_TWO, get, model, post, startTestServer, tempDir, waitFor } from './support/harness.js';
import { writeImageBatchModel } from './support/image-model.js';

const PREDICT = '/v1/models/images:predict';
const b64 = (bytes: Uint8Array) => ({ b64: Buffer.from(bytes).toString('base64') });

describe('image limits through the real engine', () => {
  let server: ModelServer;
  let base: string;
  const log: string[] = [];
  let good: Uint8Array;
  let bomb: Buffer;
  beforeAll(async () => {
    base = await tempDir('serve-hardening-');
    await writeImageBatchModel(path.join(base, '1'));
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      workers: 2,
      models: [model('images', base)],
      imageLimits: { maxImages: 64 },
      log: (line) => log.push(line),
    });
    good = await fs.readFile(imagePath('image_png_test.png'));
    bomb = await pngBomb();
  });
  afterAll(async () => {
    await server?.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  const goodReply = { status: 200, body: { predictions: [[expect.any(Number), expect.any(Number), expect.any(Number)]] } };

  it.each([
    ['a PNG bomb (16383x16383 zeros, 260 KB)', () => bomb, 'instance 0 is 16383x16383 = 268,402,689 pixels'],
    ['a JPEG header claiming 16000x16000', () => jpegBomb(), 'instance 0 is 16000x16000 = 256,000,000 pixels'],
  ])('refuses %s with 400 at once, and serves the next image', async (_what, bytes, message) => {
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    const reply = await post(server, PREDICT, { instances: [b64(bytes())] });
    // Refused from the header in the main thread: milliseconds when the machine is quiet. The bound is
    // loose because test suites share 2 cores; decoding the bomb would take tens of seconds and gigabytes.
    expect(performance.now() - started).toBeLessThan(2500);
    expect(reply).toEqual({ status: 400, body: { error: `${message}, more than the limit of 50,000,000 per image (--max_image_pixels); send a smaller image` } });
    expect(await post(server, PREDICT, { instances: [b64(good)] })).toEqual(goodReply);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100e6);
  });

  it('survives ten bombs at once', async () => {
    const rss = process.memoryUsage().rss;
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => post(server, PREDICT, { instances: [b64(i % 2 ? bomb : jpegBomb())] })));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(400));
    expect(await post(server, PREDICT, { instances: [b64(good)] })).toEqual(goodReply);
    expect(process.memoryUsage().rss - rss).toBeLessThan(100e6);
    expect(log.filter((line) => /internal error|stopped/.test(line))).toEqual([]);
  });

  it('names the instance of a batch that fails, and counts images against --max_images_per_request', async () => {
    const instances = Array.from({ length: 64 }, () => b64(good));
    instances[37] = b64(bomb);
    const reply = await post(server, PREDICT, { instances });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toMatch(/^instance 37 is 16383x16383 = 268,402,689 pixels/);
    instances[37] = b64(Buffer.from('not an image'));
    expect((await post(server, PREDICT, { instances })).body.error).toMatch(/^instance 37 is not a JPEG, PNG, GIF or BMP image/);
    instances[37] = b64((await fs.readFile(imagePath('cat.jpg'))).subarray(0, 3000));
    expect((await post(server, PREDICT, { instances })).body.error).toMatch(/^instance 37: invalid JPEG data: .*premature end/);
    const tooMany = await post(server, PREDICT, { instances: Array.from({ length: 65 }, () => b64(good)) });
    expect(tooMany).toEqual({
      status: 400,
      body: { error: 'the request has 65 images, more than the limit of 64 per request (--max_images_per_request); send them in several requests' },
    });
  });

  it('says which shape an image input takes instead of failing inside the graph', async () => {
    expect(await post(server, PREDICT, { inputs: b64(good) })).toEqual({
      status: 400,
      body: { error: '"inputs" takes shape [-1], got a single value: send a list, one element per example' },
    });
    expect(await post(server, PREDICT, { instances: [[b64(good)]] })).toEqual({ status: 400, body: { error: '"instances" takes shape [-1], got shape [1, 1]' } });
    expect(await post(server, PREDICT, { inputs: [b64(good)] })).toEqual({ status: 200, body: { outputs: [expect.any(Array)] } });
  });
});

describe('names from requests that are Object.prototype members', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startTestServer({ models: [model('half_plus_two', HALF_PLUS_TWO, { versionLabels: { stable: 123 } })] });
  });
  afterAll(() => server?.close());

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('%s is an unknown signature, label and input', async (name) => {
    const signature = await post(server, '/v1/models/half_plus_two:predict', { signature_name: name, instances: [1] });
    expect(signature.status).toBe(400);
    expect(signature.body.error).toMatch(new RegExp(`^Serving signature name: "${name}" not found in signature def of model half_plus_two version 123; it has: `));
    // Status ignores labels (TF Serving's GetModelStatusWithModelSpec): every version, as for the model alone.
    const label = await get(server, `/v1/models/half_plus_two/labels/${name}`);
    expect(label).toEqual(await get(server, '/v1/models/half_plus_two'));
    expect(await post(server, `/v1/models/half_plus_two/labels/${name}:predict`, { instances: [1] })).toEqual({
      status: 400,
      body: { error: `Unrecognized servable version label: ${name} (model half_plus_two)` },
    });
    const input = await post(server, '/v1/models/half_plus_two:predict', `{"instances": [{"${name}": [1]}]}`);
    expect(input).toEqual({ status: 400, body: { error: `signature 'serving_default' has no input '${name}'; its inputs are: x` } });
    expect((await post(server, '/v1/models/half_plus_two:predict', `{"inputs": {"${name}": [1]}}`)).status).toBe(400);
    expect(await post(server, '/v1/models/half_plus_two/labels/stable:predict', { instances: [2] })).toEqual({ status: 200, body: { predictions: [3] } });
  });

  it('shows control characters of a name escaped, and refuses an empty batch', async () => {
    expect(await post(server, '/v1/models/half%0D%0Atwo:predict', { instances: [1] })).toEqual({
      status: 400,
      body: { error: "invalid model name 'half\\r\\ntwo': it contains whitespace, control characters or one of : % ? #" },
    });
    expect(await post(server, '/v1/models/half_plus_two:predict', { inputs: [] })).toEqual({
      status: 400,
      body: { error: '"inputs" is an empty list; send at least one example' },
    });
    expect(await post(server, '/v1/models/half_plus_two:predict', { inputs: { x: [] } })).toEqual({
      status: 400,
      body: { error: "input 'x' is an empty list; send at least one example" },
    });
    expect((await post(server, '/v1/models/half_plus_two:predict', { instances: [{ 'a\rb': [1] }] })).body.error).toBe(
      "signature 'serving_default' has no input 'a\\rb'; its inputs are: x",
    );
  });
});

describe('clients that leave and a busy main thread', () => {
  let server: ModelServer;
  const log: string[] = [];
  beforeAll(async () => {
    server = await startTestServer({ models: [model('half_plus_two', HALF_PLUS_TWO)], requestTimeoutMs: 300, log: (line) => log.push(line) });
  });
  afterAll(() => server?.close());

  /** Sends the headers of a predict whose body is 100 bytes, and its first `sent` bytes. */
  function partialRequest(sent: string): { socket: net.Socket; response: Promise<string> } {
    const socket = net.connect(server.port, '127.0.0.1');
    const response = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c) => (text += c)).on('close', () => resolve(text)).on('error', () => resolve(text));
    });
    socket.write(`POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${BODY.length}\r\n\r\n${sent}`);
    return { socket, response };
  }
  const BODY = '{"instances": [2.0]}'.padEnd(100, ' ');
  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until);
  };
  const metrics = async () => (await get(server, '/monitoring/prometheus/metrics')).body as string;

  it('counts a client that disconnects mid-body as aborted, not as 200 or an internal error', async () => {
    const { socket } = partialRequest(BODY.slice(0, 10));
    await new Promise((r) => setTimeout(r, 100)); // the server reads the headers and starts on the body
    socket.destroy();
    await waitFor('the abort to be counted', async () => /^tensorsky_serve_requests_total\{model="half_plus_two",api="predict",code="aborted"\} 1$/m.test(await metrics()), 5000);
    expect(await metrics()).not.toMatch(/api="predict",code="200"/);
    expect(log.filter((line) => /internal error/.test(line))).toEqual([]);
  });

  it('reads a body that arrived while the main thread was busy past the deadline', async () => {
    const { socket, response } = partialRequest(BODY.slice(0, 10));
    await new Promise((r) => setTimeout(r, 100));
    // Busy in the I/O phase (after a file read), as when handling other requests: the next loop turn
    // runs the expired deadline timer before it reads the rest of the body.
    await fs.readFile(path.join(HALF_PLUS_TWO, '00000123', 'saved_model.pb'));
    socket.write(BODY.slice(10));
    busy(600);
    expect(await response).toMatch(/^HTTP\/1.1 200 [^]*\{"predictions":\[3\.0\]\}$/);
    socket.destroy();
  });

  it('answers 503 with Retry-After, not 408, when the main thread was too busy to read in time', async () => {
    const { socket, response } = partialRequest(BODY.slice(0, 10));
    await new Promise((r) => setTimeout(r, 100));
    busy(600);
    const text = await response;
    expect(text).toMatch(/^HTTP\/1.1 503/);
    expect(text).toMatch(/\r\nRetry-After: 1\r\n/i);
    expect(text).toMatch(/the server is overloaded and could not read the request in time; retry later/);
    socket.destroy();
  });
});
