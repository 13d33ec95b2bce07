// What a check is and what the checks of one run share. pipeline.ts runs the list in checks.ts in order;
// each check reads what the earlier ones produced from the run and says whether the rest can go on.
import type { LocalModel, TensorInfoSummary } from '@tensorsky/predict-local';
import type { ImageEncoding } from '@tensorsky/saved-model';
import type { Backend, ExportAndVerifyOptions } from './options.js';
import type { ReferenceModel } from './reference-model.js';
import type { CheckName, CheckResult, VerifyReport } from './report/types.js';

/** The signature input that takes the encoded image. */
export type ImageTensor = TensorInfoSummary & { encoding: ImageEncoding };

export interface VerifyRun {
  readonly options: ExportAndVerifyOptions;
  readonly settings: VerifyReport['settings'] & { backend: Backend };
  /** Filled in by the checks; the loop appends their results. */
  readonly report: VerifyReport;
  readonly log: (line: string) => void;
  readonly imagePaths: readonly string[];
  // Set by the check that produces them (export, signature, golden). A check runs only when every check
  // before it went far enough to set what it reads (else they stopped the run), hence the `!` where read.
  reference?: ReferenceModel;
  modelDir?: string;
  exported?: LocalModel;
  input?: ImageTensor;
  output?: string;
  /** The exported model's first call, reported apart from the latency samples. */
  warmupMs?: number;
}

/** A check's verdict. `stop` says why the checks after it cannot run: they are reported as skipped. */
export interface CheckOutcome {
  status: CheckResult['status'];
  summary: string;
  problems?: string[];
  stop?: string;
}

export interface Check {
  name: CheckName;
  /** Whether this run includes the check at all; default always. */
  enabled?: (options: ExportAndVerifyOptions) => boolean;
  run(run: VerifyRun): Promise<CheckOutcome>;
  /** When `run` throws, the check fails with the error's first line; this says why the rest cannot run (default: they can). */
  stopsOnError?: string;
}

/** An error's first line, for a report cell. */
export function errorLine(err: unknown): string {
  return ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').trim();
}
