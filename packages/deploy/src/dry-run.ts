// A dry run plans from the current state when it can read it (what is in the bucket, which models and
// endpoints exist). Offline, or without credentials, it cannot: it says so once and plans as for a
// fresh project, printing every call a real run would make. Each read is bounded and never retried,
// so an unreachable host costs seconds, not the minutes of a real run's retries.
import { CloudError } from '@tensorsky/cloud-errors';

/** Longest wait for one read of the current state in a dry run. */
export const DRY_RUN_READ_TIMEOUT_MS = 5000;

export class DryRunReads {
  /** Why the current state could not be read (the first failure), once a read failed that way. */
  unreadable: string | undefined;

  constructor(
    private readonly log: (line: string) => void = () => {},
    readonly timeoutMs = DRY_RUN_READ_TIMEOUT_MS,
  ) {}

  /** `send()`'s answer, or `fresh` (what a new project holds) once the state proved unreadable. */
  async read<T>(send: () => Promise<T>, fresh: T): Promise<T> {
    if (this.unreadable !== undefined) return fresh;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CloudError(`no answer within ${this.timeoutMs / 1000} s`, 'DEADLINE_EXCEEDED')), this.timeoutMs);
    });
    try {
      return await Promise.race([send(), deadline]);
    } catch (err) {
      if (!(err instanceof CloudError) || !cannotRead(err.reason)) throw err;
      this.unreadable = err.summary;
      this.log(`cannot read the current state (${this.unreadable}): planning as for a fresh project`);
      return fresh;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** No credentials, no answer in time, or no network (ENOTFOUND, ECONNREFUSED, ...); not a refusal such as 403. */
function cannotRead(reason: string): boolean {
  return reason === 'UNAUTHENTICATED' || reason === 'DEADLINE_EXCEEDED' || /^E[A-Z_]+$/.test(reason);
}
