// Where deploy puts a model version: its GCS folder, and the serving image nearest the region.
import { describe, expect, it } from 'vitest';
import { parseModelVersion } from '@tensorsky/cloud-errors';
import { defaultServingImage, modelPrefix } from '../src/index.js';

describe('deploy paths', () => {
  it('puts a version under models/<model>/<version>/', () => {
    expect(modelPrefix('jean_inception', parseModelVersion('v1'))).toBe('models/jean_inception/v1/');
    expect(() => modelPrefix('../etc', parseModelVersion('v1'))).toThrow(/invalid model name/);
  });

  it('picks the prebuilt serving image from the registry of the region', () => {
    expect(defaultServingImage('europe-west4')).toBe('europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest');
    expect(defaultServingImage('us-central1')).toBe('us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest');
    expect(defaultServingImage('asia-northeast1')).toBe('asia-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest');
  });
});
