// The version manager, after TF Serving's AspiredVersionsManager with its availability-preserving
// policy: aspired versions are loaded and become AVAILABLE; versions no longer aspired are retired only
// once an aspired version is AVAILABLE (the newest of them keeps serving while a new version loads or
// after it failed to), and are unloaded only after the last request holding them has finished (reference
// counting). A switch therefore never drops a request, and a corrupt new version does not take the model down.
// Each version's provenance (where its weights came from) is read as it loads, so that a model with
// random weights is said to be one in the log, in its metadata and in /healthz.
import { checkProvenance, type ProvenanceCheck } from '@tensorsky/saved-model';
import { withoutPrototypes, type ImageInputMap, type LoadedVersion, type SignatureMap } from './engine.js';
import { errorMessage, invalidArgument, notFound, ServeError, shown } from './errors.js';
import type { VersionDir } from './repository.js';

/** TF Serving's ModelVersionStatus.State names. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

/** Which version a request asks for: the newest available, a number, or a label (stable, canary). */
export type VersionSpec = { kind: 'latest' } | { kind: 'version'; version: number } | { kind: 'label'; label: string };

/** Loads a version into every engine (and back out); implemented by the worker pool. */
export interface VersionLoader {
  load(model: string, version: number, dir: string): Promise<LoadedVersion>;
  unload(model: string, version: number): Promise<void>;
  /** False while no engine can run a loaded version (its workers are being replaced); default true. */
  isServing?(model: string, version: number): boolean;
}

/** One entry of GET /v1/models/{m}, exactly as TF Serving prints it. */
export interface ModelVersionStatus {
  version: string;
  state: VersionState;
  status: { error_code: string; error_message: string };
}

/** A version held by one request; release() exactly once when the request is done with it. */
export interface Lease {
  model: string;
  version: number;
  signatures: SignatureMap;
  /** The inputs of each signature that take encoded images. */
  imageInputs: ImageInputMap;
  provenance: ProvenanceCheck;
  release(): void;
}

interface VersionEntry {
  version: number;
  dir: string;
  state: VersionState;
  refs: number;
  attempts: number;
  signatures?: SignatureMap;
  imageInputs?: ImageInputMap;
  provenance?: ProvenanceCheck;
  error?: string;
}

interface ModelEntry {
  /** A Map: labels come from request URLs ("constructor" must not be found). */
  labels: Map<string, number>;
  /** False once a config reload removed the model: its versions are retired, its statuses stay readable. */
  configured: boolean;
  aspired: Set<number>;
  versions: Map<number, VersionEntry>;
}

export interface ManagerOptions {
  /** Load attempts per version before giving up (TF Serving's max_num_load_retries + 1). */
  maxLoadAttempts?: number;
  log?: (line: string) => void;
}

export class ModelManager {
  private readonly models = new Map<string, ModelEntry>();
  private readonly pending = new Set<Promise<void>>();
  private readonly maxLoadAttempts: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly loader: VersionLoader,
    options: ManagerOptions = {},
  ) {
    this.maxLoadAttempts = options.maxLoadAttempts ?? 5;
    this.log = options.log ?? (() => {});
  }

  /** Adds a model, or (config reload) sets the labels of one already known, keeping its versions. */
  addModel(name: string, labels: Record<string, number>): void {
    const existing = this.models.get(name);
    if (existing) {
      existing.labels = new Map(Object.entries(labels));
      existing.configured = true;
      return;
    }
    this.models.set(name, { labels: new Map(Object.entries(labels)), configured: true, aspired: new Set(), versions: new Map() });
  }

  /**
   * A config reload dropped the model: no version is aspired any more, so each is unloaded once its
   * last request is done (TF Serving's source emits an empty aspired list for it).
   */
  removeModel(name: string): void {
    const model = this.model(name);
    model.configured = false;
    model.labels = new Map();
    this.setAspiredVersions(name, []);
  }

  /** The models of the current config. */
  modelNames(): string[] {
    return [...this.models].filter(([, m]) => m.configured).map(([name]) => name);
  }

  /**
   * Checks the labels of a new config as TF Serving's ServerCore::UpdateModelVersionLabelMap does: a
   * label may only point at a version that is AVAILABLE now. With allowUnavailable
   * (--allow_version_labels_for_unavailable_models) a new label, or one that keeps its version, may point
   * anywhere; a label moving to another version must still point at an AVAILABLE one, so that requests
   * by that label never go to a version still loading.
   */
  checkLabels(configs: { name: string; versionLabels: Record<string, number> }[], allowUnavailable: boolean): void {
    for (const { name, versionLabels } of configs) {
      const model = this.models.get(name);
      for (const [label, version] of Object.entries(versionLabels)) {
        const current = model?.labels.get(label);
        if (allowUnavailable && (current === undefined || current === version)) continue;
        if (model?.versions.get(version)?.state === 'AVAILABLE') continue;
        throw new ServeError(
          400,
          `Request to assign label to version ${version} of model ${name}, which is not currently available for inference` +
            (allowUnavailable ? '' : ' (--allow_version_labels_for_unavailable_models allows new labels to point at versions not loaded yet)'),
          'FAILED_PRECONDITION',
        );
      }
    }
  }

  /** Sets the versions that should be served; loads new ones and retires the rest when it is safe. */
  setAspiredVersions(name: string, versions: VersionDir[]): void {
    const model = this.model(name);
    model.aspired = new Set(versions.map((v) => v.version));
    for (const { version, dir } of versions) {
      const entry = model.versions.get(version);
      if (!entry) this.startLoad(name, model, version, dir, 0);
      // An END version comes back when it reappears after an unload, or to retry a failed load.
      else if (entry.state === 'END' && entry.error === undefined) this.startLoad(name, model, version, dir, 0);
      else if (entry.state === 'END' && entry.attempts < this.maxLoadAttempts) this.startLoad(name, model, version, dir, entry.attempts);
    }
    this.reconcile(name, model);
  }

  /** Takes a reference on the version a request resolves to; throws 404 when it is not AVAILABLE, 400 for an unknown label. */
  acquire(name: string, spec: VersionSpec): Lease {
    const model = this.models.get(name);
    if (!model) throw notFound(`Servable not found for request: ${describeSpec(name, spec)}`);
    let entry: VersionEntry | undefined;
    if (spec.kind === 'latest') {
      for (const e of model.versions.values()) {
        if (e.state === 'AVAILABLE' && (!entry || e.version > entry.version)) entry = e;
      }
    } else {
      const version = spec.kind === 'version' ? spec.version : this.labelVersion(name, model, spec.label);
      entry = model.versions.get(version);
      if (entry?.state !== 'AVAILABLE') entry = undefined;
    }
    if (!entry) throw notFound(`Servable not found for request: ${describeSpec(name, spec)}`);
    const held = entry;
    held.refs++;
    let released = false;
    return {
      model: name,
      version: held.version,
      signatures: held.signatures!,
      imageInputs: held.imageInputs ?? {},
      provenance: held.provenance!,
      release: () => {
        if (released) return;
        released = true;
        held.refs--;
        if (held.refs === 0 && held.state === 'UNLOADING') this.finishUnload(name, held);
      },
    };
  }

  /** GET /v1/models/{m}[/versions/{v}|/labels/{l}]: statuses, newest version first. */
  status(name: string, spec: VersionSpec): ModelVersionStatus[] {
    const model = this.models.get(name);
    if (!model || model.versions.size === 0) throw notFound(`Could not find any versions of model ${name}`);
    let entries = [...model.versions.values()].sort((a, b) => b.version - a.version);
    // TF Serving's GetModelStatusWithModelSpec looks only at model_spec.version: a label (known or not)
    // gets the statuses of all versions, as a request naming the model alone does.
    if (spec.kind === 'version') {
      const { version } = spec;
      entries = entries.filter((e) => e.version === version);
      if (entries.length === 0) throw notFound(`Could not find version ${version} of model ${name}`);
    }
    return entries.map((e) => ({
      version: String(e.version),
      state: this.servedState(name, e),
      status: e.error === undefined ? { error_code: 'OK', error_message: '' } : { error_code: 'UNKNOWN', error_message: e.error },
    }));
  }

  /** The warnings of every AVAILABLE version (random weights), each naming its model and version. */
  availableWarnings(): string[] {
    const warnings: string[] = [];
    for (const [name, model] of this.models) {
      for (const e of model.versions.values()) {
        if (e.state === 'AVAILABLE') warnings.push(...e.provenance!.warnings.map((w) => `model ${name} version ${e.version}: ${w}`));
      }
    }
    return warnings;
  }

  /** Number of AVAILABLE versions per model. */
  availableCounts(): Record<string, number> {
    const counts: Record<string, number> = Object.create(null); // a model may be named "__proto__"
    for (const [name, model] of this.models) {
      if (!model.configured) continue;
      counts[name] = [...model.versions.values()].filter((e) => this.servedState(name, e) === 'AVAILABLE').length;
    }
    return counts;
  }

  /** Resolves once no load or unload is under way. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** An AVAILABLE version no engine can run now is LOADING again: its replacement workers load it. */
  private servedState(name: string, entry: VersionEntry): VersionState {
    return entry.state === 'AVAILABLE' && this.loader.isServing?.(name, entry.version) === false ? 'LOADING' : entry.state;
  }

  private model(name: string): ModelEntry {
    const model = this.models.get(name);
    if (!model) throw new Error(`model ${name} was never added to the manager`);
    return model;
  }

  private labelVersion(name: string, model: ModelEntry, label: string): number {
    const version = model.labels.get(label);
    // INVALID_ARGUMENT in TF Serving (ServerCore::GetModelVersionForLabel), which its REST API answers with 400.
    if (version === undefined) throw invalidArgument(`Unrecognized servable version label: ${shown(label)} (model ${name})`);
    return version;
  }

  private startLoad(name: string, model: ModelEntry, version: number, dir: string, attempts: number): void {
    const entry: VersionEntry = { version, dir, state: 'START', refs: 0, attempts: attempts + 1 };
    model.versions.set(version, entry);
    entry.state = 'LOADING';
    this.track(
      // Read while the version is on disk: its files may be removed once it is loaded.
      Promise.all([this.loader.load(name, version, dir), checkProvenance(dir)]).then(
        ([{ signatures, imageInputs }, provenance]) => {
          entry.signatures = withoutPrototypes(signatures);
          entry.imageInputs = imageInputs;
          entry.provenance = provenance;
          entry.state = 'AVAILABLE';
          this.log(`model ${name} version ${version} is AVAILABLE (${dir})`);
          for (const warning of provenance.warnings) this.log(`model ${name} version ${version}: warning: ${warning}`);
        },
        (err) => {
          entry.state = 'END';
          entry.error = errorMessage(err);
          const retry = entry.attempts < this.maxLoadAttempts ? '; will retry on the next scan' : '; giving up';
          this.log(`model ${name} version ${version} failed to load: ${entry.error}${retry}`);
        },
      ).then(() => this.reconcile(name, model)),
    );
  }

  /**
   * Retires AVAILABLE versions that are no longer aspired, as TF Serving's AvailabilityPreservingPolicy
   * does: all of them once an aspired version is AVAILABLE (or none is aspired at all); otherwise all but
   * the newest, which keeps serving while aspired versions load, and when they fail to.
   */
  private reconcile(name: string, model: ModelEntry): void {
    const entries = [...model.versions.values()];
    const aspiredAvailable = entries.some((e) => e.state === 'AVAILABLE' && model.aspired.has(e.version));
    let retiring = entries.filter((e) => e.state === 'AVAILABLE' && !model.aspired.has(e.version)).sort((a, b) => a.version - b.version);
    if (model.aspired.size > 0 && !aspiredAvailable) retiring = retiring.slice(0, -1);
    for (const entry of retiring) {
      entry.state = 'UNLOADING';
      this.log(`model ${name} version ${entry.version} is UNLOADING (${entry.refs} requests in flight)`);
      if (entry.refs === 0) this.finishUnload(name, entry);
    }
  }

  private finishUnload(name: string, entry: VersionEntry): void {
    this.track(
      this.loader
        .unload(name, entry.version)
        .catch((err) => this.log(`model ${name} version ${entry.version}: unload failed: ${errorMessage(err)}`))
        .then(() => {
          entry.state = 'END';
          entry.signatures = undefined;
          entry.imageInputs = undefined;
          entry.provenance = undefined;
          this.log(`model ${name} version ${entry.version} is END (unloaded)`);
        }),
    );
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

function describeSpec(name: string, spec: VersionSpec): string {
  if (spec.kind === 'latest') return `Latest(${name})`;
  if (spec.kind === 'version') return `Specific(${name}, ${spec.version})`;
  return `Label(${name}, ${shown(spec.label)})`;
}
