// Config reloads, as TF Serving's ServerCore::ReloadConfig does them (from HandleReloadConfigRequest
// or a --model_config_file polled every --model_config_file_poll_wait_seconds): the server comes to
// serve the new ModelConfigList and only it. Labels are checked first (a label may only point at an
// AVAILABLE version), then new models are added and dropped ones retired, and the reload returns once
// the new models are AVAILABLE. Nothing is dropped: a retired model's versions unload after their last
// request, and models in both configs keep serving throughout. Reloads run one at a time.
import { isDeepStrictEqual } from 'node:util';
import { ServeError, errorMessage } from './errors.js';
import type { ModelManager } from './manager.js';
import { readModelConfigFile, type ModelConfig } from './model-config.js';
import type { RepositoryPoller } from './repository.js';

export interface ConfigReloaderOptions {
  /** --allow_version_labels_for_unavailable_models: new labels may point at versions not loaded yet. */
  allowVersionLabelsForUnavailableModels: boolean;
  log: (line: string) => void;
}

export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private lastFileError: string | undefined;

  constructor(
    private current: ModelConfig[],
    private readonly manager: ModelManager,
    private readonly poller: RepositoryPoller,
    private readonly options: ConfigReloaderOptions,
  ) {}

  /** The config served now. */
  get config(): ModelConfig[] {
    return this.current;
  }

  /** Applies a new config after the reloads before it; rejects with TF Serving's status when it is refused or a new model fails to load. */
  reload(configs: ModelConfig[]): Promise<void> {
    const run = this.queue.then(() => this.apply(configs));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Re-reads `file` every `intervalMs` and reloads when it changed; errors are logged and the config served stays. */
  watchFile(file: string, intervalMs: number): void {
    if (intervalMs <= 0) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        this.polling = this.reloadFile(file).finally(() => {
          if (!this.stopped) tick();
        });
      }, intervalMs);
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await this.queue;
  }

  private async reloadFile(file: string): Promise<void> {
    try {
      await this.reload(await readModelConfigFile(file));
      this.lastFileError = undefined;
    } catch (err) {
      // Logged once until it changes: the file is read again at every poll.
      const message = errorMessage(err);
      if (message !== this.lastFileError) this.options.log(`cannot reload --model_config_file ${file}: ${message}; still serving the previous config`);
      this.lastFileError = message;
    }
  }

  private async apply(configs: ModelConfig[]): Promise<void> {
    if (this.stopped || isDeepStrictEqual(configs, this.current)) return;
    this.manager.checkLabels(configs, this.options.allowVersionLabelsForUnavailableModels);
    const names = new Set(configs.map((c) => c.name));
    const before = new Set(this.current.map((c) => c.name));
    const added = configs.filter((c) => !before.has(c.name));
    for (const config of configs) this.manager.addModel(config.name, config.versionLabels);
    this.poller.setModels(configs);
    const removed = this.current.filter((c) => !names.has(c.name));
    for (const config of removed) this.manager.removeModel(config.name);
    this.current = configs;
    this.options.log(
      `model config reloaded: serving ${configs.map((c) => c.name).join(', ')}` +
        (added.length ? `; added ${added.map((c) => c.name).join(', ')}` : '') +
        (removed.length ? `; retiring ${removed.map((c) => c.name).join(', ')}` : ''),
    );
    await this.poller.pollAgain();
    await this.manager.settled();
    // As ServerCore::WaitUntilModelsAvailable: the reload succeeds once every new model serves.
    const available = this.manager.availableCounts();
    const missing = added.filter((c) => !(available[c.name] > 0));
    if (missing.length > 0) {
      const why = missing.map((c) => `{${c.name}: ${this.whyUnavailable(c)}}`).join(', ');
      throw new ServeError(500, `${missing.length} model(s) did not become available: {${why}}`, 'UNKNOWN');
    }
  }

  private whyUnavailable(config: ModelConfig): string {
    try {
      const failed = this.manager.status(config.name, { kind: 'latest' }).find((s) => s.status.error_code !== 'OK');
      return failed ? `version ${failed.version} failed to load: ${failed.status.error_message}` : 'no version loaded';
    } catch {
      return `no version found under ${config.basePath}`;
    }
  }
}
