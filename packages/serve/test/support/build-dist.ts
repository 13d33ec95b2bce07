// vitest globalSetup: compiles this package (tsc -p tsconfig.lib.json) so worker threads load fresh code.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function buildDist(): void {
  const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.lib.json'], { cwd: packageDir, stdio: 'inherit' });
}
