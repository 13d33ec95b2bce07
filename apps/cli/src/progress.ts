// How the Vertex AI commands (deploy, undeploy) report what they are doing, on stderr: readable lines
// ("tensorsky deploy: endpoints.deployModel: preparing model (45 s elapsed)"), or with --json one JSON
// object per line for CI, so that stdout keeps only the result document:
//   {"event":"message","message":"uploading 4 files to gs://...","elapsedMs":12}
//   {"event":"upload","operation":"storage.objects.insert","state":"uploaded","file":"saved_model.pb","doneBytes":..,"totalBytes":..,"elapsedMs":..}
//   {"event":"operation","operation":"endpoints.deployModel","state":"creating serving cluster","elapsedMs":95000,"name":"projects/.../operations/..."}
// elapsedMs counts from the command's start for messages, and from the start of the operation otherwise.
import type { OperationProgress, UploadProgress } from '@tensorsky/deploy';
import type { Output } from './output.js';

export interface ProgressReporter {
  log(line: string): void;
  /** Undefined for lines: the Vertex AI client then logs operations as lines itself. */
  onOperation?: (progress: OperationProgress) => void;
  onUpload(progress: UploadProgress): void;
}

export function progressReporter(command: string, output: Output, json: boolean): ProgressReporter {
  const started = Date.now();
  if (!json) {
    const log = (line: string) => output.err(`tensorsky ${command}: ${line}`);
    return { log, onUpload: uploadSteps((p, tenth, fileDone) => {
      const bar = `[${'#'.repeat(tenth)}${'.'.repeat(10 - tenth)}]`;
      log(`${bar} ${formatSizes(p.doneBytes, p.totalBytes)} ${fileDone ? `uploaded ${p.file}` : `uploading ${p.file}`}`);
    }) };
  }
  const emit = (event: Record<string, unknown>) => output.err(JSON.stringify(event));
  let uploadStarted: number | undefined;
  return {
    log: (message) => emit({ event: 'message', message, elapsedMs: Date.now() - started }),
    onOperation: (progress) => emit({ event: 'operation', ...progress }),
    onUpload: uploadSteps((p, _tenth, fileDone) => {
      uploadStarted ??= Date.now();
      emit({
        event: 'upload',
        operation: 'storage.objects.insert',
        state: fileDone ? 'uploaded' : 'uploading',
        file: p.file,
        doneBytes: p.doneBytes,
        totalBytes: p.totalBytes,
        elapsedMs: Date.now() - uploadStarted,
      });
    }),
  };
}

/** Upload progress thinned out to every tenth of the bytes and each finished file. */
function uploadSteps(report: (p: UploadProgress, tenth: number, fileDone: boolean) => void): (p: UploadProgress) => void {
  let shownTenth = -1;
  return (p) => {
    const tenth = p.totalBytes === 0 ? 10 : Math.floor((p.doneBytes / p.totalBytes) * 10);
    const fileDone = p.fileBytes === p.fileSize;
    if (tenth === shownTenth && !fileDone) return;
    shownTenth = tenth;
    report(p, tenth, fileDone);
  };
}

/** "12.3/95.1 MB", or "20/31 kB" below a megabyte. */
function formatSizes(done: number, total: number): string {
  if (total < 1024 * 1024) return `${Math.round(done / 1024)}/${Math.round(total / 1024)} kB`;
  return `${(done / (1024 * 1024)).toFixed(1)}/${(total / (1024 * 1024)).toFixed(1)} MB`;
}
