// Shared vitest settings: tests import workspace packages from their TypeScript sources
// (the "@tensorsky/source" export condition), so a test run never needs a stale dist/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@tensorsky/source'] },
  ssr: { resolve: { conditions: ['@tensorsky/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
