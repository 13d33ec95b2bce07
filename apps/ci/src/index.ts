// @tensorsky/ci: export a model and verify the SavedModel before it ships (graph validity, golden images
// against the source model, latency budget, optional deployment smoke test), with JSON/Markdown/SVG reports.
export { exportAndVerify, type ExportAndVerifyResult } from './pipeline.js';
export {
  BACKENDS,
  DEFAULTS,
  DEPLOY_TARGETS,
  optionsFromFlags,
  VERIFY_FLAGS,
  VerifyOptionsError,
  type Backend,
  type DeployTarget,
  type ExportAndVerifyOptions,
  type VerifyFlagName,
  type VertexSmokeOptions,
} from './options.js';
export { compareScores, latencyStats, topIndices, type LatencyStats, type ScoreComparison } from './golden.js';
export {
  formatMarkdown,
  REPORT_BASENAME,
  reportFailures,
  writeReport,
  type CheckName,
  type CheckResult,
  type ClassScore,
  type DeployReport,
  type ImageResult,
  type ReportFiles,
  type VerifyReport,
} from './report.js';
export { renderChartSvg } from './chart.js';
export { FLAG_ENV, runCli, summary, type CliContext } from './cli.js';
