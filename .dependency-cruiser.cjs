// The import rules of the workspace (issue 12), checked by `npm run check:structure` in CI.
// dependency-cruiser resolves the TypeScript sources as the tests do: `.js` specifiers map to `.ts`
// files (tsConfig) and `@tensorsky/*` names resolve through the workspace links to each package's
// `src/index.ts` (the `@tensorsky/source` export condition), so the graph it checks is the real one,
// across packages included.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files that import each other cannot be understood, tested or moved one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-tools-import',
      severity: 'error',
      comment:
        'tools/ holds repository scripts; a package (or its tests) that imports them does not work ' +
        'outside this repository. Shared test configuration lives at the root (vitest.shared.ts).',
      from: { path: '^(packages|apps)/' },
      to: { path: '^tools/' },
    },
    {
      name: 'no-relative-cross-package',
      severity: 'error',
      comment:
        'Import another package by its @tensorsky name (its public index.ts), never by a relative ' +
        'path into its folder: that skips its public API and breaks once published. (Tests may share ' +
        "another package's test helpers by path: those are not published.)",
      from: { path: '^(packages|apps)/([^/]+)/src/' },
      to: { path: '^(packages|apps)/', pathNot: '^$1/$2/', dependencyTypes: ['local'] },
    },
    {
      name: 'saved-model-is-the-base',
      severity: 'error',
      comment: 'Data flows export -> saved-model -> predict-local -> serve / predict-cloud: saved-model imports none of ours.',
      from: { path: '^packages/saved-model/src/' },
      to: { path: '^(packages|apps)/', pathNot: '^packages/saved-model/' },
    },
    {
      name: 'no-src-imports-test',
      severity: 'error',
      comment: 'Published code must not depend on test files or test helpers.',
      from: { path: '^(packages|apps)/[^/]+/src/' },
      to: { path: ['^(packages|apps)/[^/]+/test/', '\\.test\\.[cm]?[jt]s$'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that cannot be resolved hides a part of the graph from the rules above.',
      from: { path: '^(packages|apps)/[^/]+/src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Cruise our sources only; npm packages are leaves.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['/dist/', '/test-results/', '/generated/'] },
    tsConfig: { fileName: 'tsconfig.base.json' },
    tsPreCompilationDeps: true,
    // Follow the workspace links to packages/<name>/src/index.ts, as vitest does.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@tensorsky/source', 'import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
