// Engine workers are worker_threads, which run JavaScript only: build dist/ before the tests so the
// workers run the same code as the sources under test.
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

export default mergeConfig(shared, defineConfig({ test: { globalSetup: ['test/support/build-dist.ts'] } }));
