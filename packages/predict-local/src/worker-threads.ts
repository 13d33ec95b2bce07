// Starting worker threads from a package that tests run from its TypeScript sources: a thread needs
// JavaScript and the process's flags minus those a thread refuses. Shared by the image front's decode
// pool and serve's engine workers.

/**
 * The compiled module `file` (relative to the module at `moduleUrl`). When that module runs from its
 * TypeScript sources (tests), the package's build in dist/ is used: a worker thread cannot run .ts.
 */
export function compiledModuleUrl(file: string, moduleUrl: string): URL {
  const url = new URL(file, moduleUrl);
  if (moduleUrl.endsWith('.ts')) url.pathname = url.pathname.replace(/\/src\/((?:(?!\/src\/).)*)$/, '/dist/$1');
  return url;
}

/** V8 and process flags that worker threads refuse in an explicit execArgv. */
const PROCESS_WIDE_FLAG = /^--(expose[-_]gc|max[-_]old[-_]space[-_]size|max[-_]semi[-_]space[-_]size|stack[-_]size|title|v8[-_]options|max[-_]http[-_]header[-_]size)\b/;

/**
 * Node flags for worker threads. By default a thread inherits the parent's flags and Node leaves out
 * the process-wide ones (--expose-gc, --max-old-space-size, ...), which a thread refuses when they are
 * passed explicitly. Only a test runner's "@tensorsky/source" condition must go (it points packages at
 * TypeScript sources, which a worker cannot run); then the list is passed explicitly, keeping only the
 * flags a thread accepts.
 */
export function workerExecArgv(): string[] | undefined {
  const isCondition = (arg: string) => arg === '--conditions' || arg === '-C' || arg.startsWith('--conditions=');
  // Node 20 passes the parent's --input-type to workers, which then refuse to start (a server started
  // from `node --input-type=module` or `node -e`): it only concerns the parent's own entry.
  const isInputType = (arg: string) => arg === '--input-type' || arg.startsWith('--input-type=');
  if (!process.execArgv.some((arg) => isCondition(arg) || isInputType(arg))) return undefined;
  const args: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i];
    if (arg === '--conditions' || arg === '-C' || arg === '--input-type') i++;
    else if (!isCondition(arg) && !isInputType(arg) && !PROCESS_WIDE_FLAG.test(arg)) args.push(arg);
  }
  return args;
}
