// Shared vitest settings: tests import workspace packages from their TypeScript sources
// (the "@tensorsky/source" export condition), so a test run never needs a stale dist/.
// Each run also writes test-results/vitest.json, which tools/test-summary.mjs totals for CI.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@tensorsky/source'] },
  ssr: { resolve: { conditions: ['@tensorsky/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    // Engine onnx's on-disk cache stays off (tests must not fill ~/.cache); its own tests turn it on in a temp dir.
    env: { TENSORSKY_ONNX_CACHE: '0' },
  },
});
