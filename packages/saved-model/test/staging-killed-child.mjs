// Run by staging.test.ts: takes the lock of the target given, starts assembling it beside the target,
// then dies by SIGKILL half-way, as `kill -9` during an export or a publish would leave things.
import fs from 'node:fs/promises';
import path from 'node:path';
import { register } from 'node:module';

register('./io-ts-loader.mjs', import.meta.url);
const { lockTarget, stagingPath } = await import('../src/staging.ts');

const target = process.argv[2];
await lockTarget(target);
const staging = stagingPath(target, 'incoming');
await fs.mkdir(path.join(staging, 'variables'), { recursive: true });
await fs.writeFile(path.join(staging, 'saved_model.pb'), 'half-written');
process.kill(process.pid, 'SIGKILL');
