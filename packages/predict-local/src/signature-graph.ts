// A SavedModel signature's graph as the engines run it: frozen, its variables (read from the
// checkpoint's tensor bundle) made constants.
import fs from 'node:fs';
import path from 'node:path';
import { freezeSignatureGraph, getMetaGraph, readTensorBundle, type BundleTensor, type FrozenGraph, type LoadedSavedModel } from '@tensorsky/saved-model';

function readVariables(dir: string): Map<string, BundleTensor> | undefined {
  const prefix = path.join(dir, 'variables', 'variables');
  return fs.existsSync(`${prefix}.index`) ? readTensorBundle(prefix) : undefined;
}

/** The signature's graph with its variables frozen in. */
export function frozenSignatureGraph(loaded: LoadedSavedModel, tags: string[], key: string): FrozenGraph {
  return freezeSignatureGraph(getMetaGraph(loaded.savedModel, tags), { signature: key, variables: readVariables(loaded.dir), dir: loaded.dir });
}
