// The model repository, as TF Serving's file-system storage path source sees it: BASE/<version>/ holds a
// SavedModel, versions are the directory names that are integers ("00000123" is version 123). A version
// policy picks which of them should be served (the "aspired" versions).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ModelConfig, VersionPolicy } from './model-config.js';

export interface VersionDir {
  version: number;
  dir: string;
}

/**
 * The version directories under `basePath` that hold a saved_model.pb, ascending. A directory whose
 * saved_model.pb has not appeared yet is not a version yet (copy new versions in, then rename).
 */
export async function listVersionDirs(basePath: string): Promise<VersionDir[]> {
  const entries = await fs.readdir(basePath, { withFileTypes: true });
  const found = new Map<number, VersionDir>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry.name)) continue;
    const version = Number(entry.name);
    if (!Number.isSafeInteger(version) || found.has(version)) continue;
    const dir = path.join(basePath, entry.name);
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(dir)));
    if (isDir && (await isFile(path.join(dir, 'saved_model.pb')))) found.set(version, { version, dir });
  }
  return [...found.values()].sort((a, b) => a.version - b.version);
}

/** The versions a policy wants served out of those present (ascending input). */
export function aspiredVersions(present: VersionDir[], policy: VersionPolicy): VersionDir[] {
  switch (policy.kind) {
    case 'latest':
      return present.slice(-policy.numVersions);
    case 'all':
      return present;
    case 'specific':
      return present.filter((v) => policy.versions.includes(v.version));
  }
}

/** Scans one model's base path and applies its policy; a missing base path counts as no versions. */
export async function scanModel(config: ModelConfig): Promise<VersionDir[]> {
  let present: VersionDir[];
  try {
    present = await listVersionDirs(config.basePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return aspiredVersions(present, config.versionPolicy);
}

/**
 * Polls every model's base path and reports the aspired versions, like TF Serving's
 * --file_system_poll_wait_seconds. Scans never overlap; a failed scan is reported and retried next time.
 */
export class RepositoryPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private models: ModelConfig[],
    private readonly onAspired: (model: ModelConfig, versions: VersionDir[]) => void,
    private readonly onError: (model: ModelConfig, err: unknown) => void,
  ) {}

  /** The models to scan from now on (a config reload); a scan under way finishes with the old list. */
  setModels(models: ModelConfig[]): void {
    this.models = models;
  }

  /** Scans all models once now. */
  pollOnce(): Promise<void> {
    this.running ??= (async () => {
      for (const model of this.models) {
        try {
          const versions = await scanModel(model);
          if (!this.stopped) this.onAspired(model, versions);
        } catch (err) {
          this.onError(model, err);
        }
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Scans all models once a scan under way (which may have read the old model list) is over. */
  async pollAgain(): Promise<void> {
    await this.running;
    await this.pollOnce();
  }

  /** Polls every `intervalMs` until stop(); 0 disables polling (TF Serving's poll wait of 0 does the same). */
  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    const tick = () => {
      this.timer = setTimeout(() => void this.pollOnce().then(() => !this.stopped && tick()), intervalMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function isFile(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isFile() ?? false;
}
