import { describe, expect, it } from 'vitest';
import type { LoadedVersion } from '../src/engine.js';
import { ModelManager, type VersionLoader } from '../src/manager.js';

/** A loader whose loads finish when the test says so. */
class ManualLoader implements VersionLoader {
  readonly loads = new Map<number, { resolve: (s: LoadedVersion) => void; reject: (e: Error) => void }>();
  readonly unloaded: number[] = [];
  load(_model: string, version: number): Promise<LoadedVersion> {
    return new Promise((resolve, reject) => this.loads.set(version, { resolve, reject }));
  }
  async unload(_model: string, version: number): Promise<void> {
    this.unloaded.push(version);
  }
  finish(version: number): void {
    this.loads.get(version)!.resolve({ signatures: { serving_default: { inputs: {}, outputs: {}, method_name: `v${version}` } }, imageInputs: {} });
  }
}

const dirs = (...versions: number[]) => versions.map((version) => ({ version, dir: `/base/${version}` }));
const states = (manager: ModelManager) => manager.status('m', { kind: 'latest' }).map((s) => `${s.version}:${s.state}`);
/** Waits (bounded) until a load has gone through: loads also read the version's provenance file. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
}

describe('ModelManager', () => {
  it('switches versions without a gap and unloads the old one only after its last request', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader);
    manager.addModel('m', {});
    manager.setAspiredVersions('m', dirs(1));
    expect(states(manager)).toEqual(['1:LOADING']);
    expect(() => manager.acquire('m', { kind: 'latest' })).toThrow('Servable not found for request: Latest(m)');
    loader.finish(1);
    await manager.settled();
    const first = manager.acquire('m', { kind: 'latest' });
    expect(first.version).toBe(1);

    // Version 2 appears and version 1 disappears before 2 has loaded: 1 keeps serving.
    manager.setAspiredVersions('m', dirs(2));
    expect(states(manager)).toEqual(['2:LOADING', '1:AVAILABLE']);
    const stillOld = manager.acquire('m', { kind: 'latest' });
    expect(stillOld.version).toBe(1);

    loader.finish(2);
    await until(() => states(manager)[0] === '2:AVAILABLE');
    expect(states(manager)).toEqual(['2:AVAILABLE', '1:UNLOADING']);
    expect(manager.acquire('m', { kind: 'latest' }).version).toBe(2);
    expect(() => manager.acquire('m', { kind: 'version', version: 1 })).toThrow('Servable not found for request: Specific(m, 1)');
    expect(loader.unloaded).toEqual([]);

    first.release();
    first.release(); // a second release is ignored
    expect(loader.unloaded).toEqual([]);
    stillOld.release();
    await manager.settled();
    expect(loader.unloaded).toEqual([1]);
    expect(states(manager)).toEqual(['2:AVAILABLE', '1:END']);
  });

  it('reports failed loads as END with an error and retries them on later scans', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader, { maxLoadAttempts: 2 });
    manager.addModel('m', {});
    manager.setAspiredVersions('m', dirs(7));
    loader.loads.get(7)!.reject(new Error('saved_model.pb is truncated'));
    await manager.settled();
    expect(manager.status('m', { kind: 'version', version: 7 })).toEqual([
      { version: '7', state: 'END', status: { error_code: 'UNKNOWN', error_message: 'saved_model.pb is truncated' } },
    ]);
    loader.loads.clear();
    manager.setAspiredVersions('m', dirs(7));
    expect(loader.loads.has(7)).toBe(true);
    loader.loads.get(7)!.reject(new Error('still truncated'));
    await manager.settled();
    loader.loads.clear();
    manager.setAspiredVersions('m', dirs(7));
    expect(loader.loads.has(7)).toBe(false); // two attempts were allowed
  });

  it('keeps the serving version when a new one fails to load, until a good one is AVAILABLE', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader, { maxLoadAttempts: 2 });
    manager.addModel('m', {});
    manager.setAspiredVersions('m', dirs(3));
    loader.finish(3);
    await manager.settled();
    // The latest policy now aspires to version 4 alone, which is corrupt.
    manager.setAspiredVersions('m', dirs(4));
    loader.loads.get(4)!.reject(new Error('saved_model.pb is truncated'));
    await manager.settled();
    expect(manager.status('m', { kind: 'latest' })).toEqual([
      { version: '4', state: 'END', status: { error_code: 'UNKNOWN', error_message: 'saved_model.pb is truncated' } },
      { version: '3', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ]);
    const lease = manager.acquire('m', { kind: 'latest' });
    expect(lease.version).toBe(3);
    lease.release();
    // Retries that fail change nothing either; version 5 then takes over and 3 is retired.
    manager.setAspiredVersions('m', dirs(4));
    loader.loads.get(4)!.reject(new Error('still truncated'));
    await manager.settled();
    expect(states(manager)).toEqual(['4:END', '3:AVAILABLE']);
    manager.setAspiredVersions('m', dirs(5));
    loader.finish(5);
    await until(() => states(manager).includes('3:END'));
    expect(states(manager)).toEqual(['5:AVAILABLE', '4:END', '3:END']);
    expect(loader.unloaded).toEqual([3]);
  });

  it('retires versions nobody aspires to when nothing new is coming', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader);
    manager.addModel('m', {});
    manager.setAspiredVersions('m', dirs(1, 2));
    loader.finish(1);
    loader.finish(2);
    await manager.settled();
    manager.setAspiredVersions('m', dirs(2));
    await manager.settled();
    expect(states(manager)).toEqual(['2:AVAILABLE', '1:END']);
    manager.setAspiredVersions('m', []);
    await manager.settled();
    expect(states(manager)).toEqual(['2:END', '1:END']);
    expect(loader.unloaded).toEqual([1, 2]);
  });

  it('resolves labels and says which model, version or label is unknown', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader);
    manager.addModel('m', { stable: 1, canary: 2 });
    manager.setAspiredVersions('m', dirs(1, 2));
    loader.finish(1);
    loader.finish(2);
    await manager.settled();
    expect(manager.acquire('m', { kind: 'label', label: 'stable' }).version).toBe(1);
    expect(manager.acquire('m', { kind: 'label', label: 'canary' }).signatures.serving_default.method_name).toBe('v2');
    // TF Serving's GetModelStatusWithModelSpec ignores labels: every version, newest first.
    expect(manager.status('m', { kind: 'label', label: 'canary' }).map((s) => s.version)).toEqual(['2', '1']);
    expect(() => manager.acquire('m', { kind: 'label', label: 'beta' })).toThrow('Unrecognized servable version label: beta');
    expect(() => manager.acquire('x', { kind: 'latest' })).toThrow('Servable not found for request: Latest(x)');
    expect(() => manager.status('x', { kind: 'latest' })).toThrow('Could not find any versions of model x');
    expect(() => manager.status('m', { kind: 'version', version: 3 })).toThrow('Could not find version 3 of model m');
  });
});

describe('ModelManager with names that are Object.prototype members', () => {
  it('counts a model named __proto__, and finds no label "constructor" nor signature "toString"', async () => {
    const loader = new ManualLoader();
    const manager = new ModelManager(loader);
    manager.addModel('__proto__', { stable: 1 });
    manager.setAspiredVersions('__proto__', dirs(1));
    loader.finish(1);
    await manager.settled();
    expect(Object.entries(manager.availableCounts())).toEqual([['__proto__', 1]]);
    expect(() => manager.acquire('__proto__', { kind: 'label', label: 'constructor' })).toThrow('Unrecognized servable version label: constructor');
    const lease = manager.acquire('__proto__', { kind: 'label', label: 'stable' });
    expect(lease.signatures.toString).toBeUndefined();
    expect(Object.keys(lease.signatures)).toEqual(['serving_default']);
    lease.release();
  });
});
