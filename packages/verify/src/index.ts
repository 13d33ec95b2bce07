// @tensorsky/verify: check an exported SavedModel before it ships (graph validity, golden images against
// the source model, latency budget, optional deployment smoke test), with JSON/Markdown/SVG reports; and
// the reference model (the source model on the reference decoding and preprocessing) it compares with.
export { exportAndVerify } from './pipeline.js';
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
export { loadReferenceModel, referenceModel, ReferenceModelError, type LoadReferenceModelOptions, type ReferenceModel } from './reference-model.js';
export { compareScores, latencyStats, scoreRows, topIndices, type LatencyStats, type ScoreComparison } from './compare.js';
export { DeploySmokeError } from './deploy-smoke.js';
export type { CheckName, CheckResult, ClassScore, DeployReport, ExportAndVerifyResult, ImageResult, ReportFiles, VerifyReport } from './report/types.js';
export { formatMarkdown, reportFailures, summaryLines } from './report/markdown.js';
export { renderChartSvg } from './report/chart.js';
export { REPORT_BASENAME, writeReport } from './report/write.js';
