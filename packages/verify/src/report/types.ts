// The export-and-verify report as data: what was checked, what failed and why, per image. markdown.ts,
// chart.ts and write.ts render it; nothing here depends on them.
import type { LatencyStats } from '../compare.js';

export type CheckName = 'export' | 'graph' | 'signature' | 'golden' | 'latency' | 'deploy';

export interface CheckResult {
  name: CheckName;
  status: 'passed' | 'failed' | 'skipped';
  /** One line: what was checked and the outcome. */
  summary: string;
  /** One line per problem found. */
  problems: string[];
}

export interface ClassScore {
  index: number;
  label: string;
  score: number;
}

export interface ImageResult {
  /** Path as found. */
  image: string;
  bytes: number;
  passed: boolean;
  /** Why the image could not be compared (unreadable, a model failed on it). */
  error?: string;
  maxAbsDiff?: number;
  top1Agree?: boolean;
  topKAgree?: boolean;
  /** Classes in both top-k lists. */
  topKOverlap?: number;
  reference?: ClassScore;
  exported?: ClassScore;
  /** One-image prediction time of the exported model (base64 string in, scores out). */
  latencyMs?: number;
  /** The source model on the decoded, resized pixels. */
  referenceMs?: number;
}

export interface DeployReport {
  target: 'local' | 'vertex';
  /** Where predictions were sent. */
  url?: string;
  /** The version that answered (local: the repository version; vertex: the model version ID). */
  version?: string;
  image?: string;
  maxAbsDiff?: number;
  top1Agree?: boolean;
  latencyMs?: number;
}

export interface VerifyReport {
  passed: boolean;
  /** What people reading the verdict must know, e.g. that random weights make the labels meaningless. */
  warnings: string[];
  startedAt: string;
  durationMs: number;
  model: {
    /** 'inception_v3' or the model file's name. */
    name: string;
    /** Where the weights came from: imagenet, random (seed N), a file, model file. */
    weights?: string;
    preprocess?: string;
    inputShape?: [number, number, number];
    classes?: number;
  };
  savedModel: {
    dir: string;
    /** False when an existing SavedModel was verified (--saved-model). */
    exported: boolean;
    nodes?: number;
    bytes?: number;
    exportMs?: number;
  };
  settings: { tolerance: number; topK: number; latencyBudgetMs: number; backend: string; images: string[] };
  checks: CheckResult[];
  images: ImageResult[];
  latency?: LatencyStats & { budgetMs: number; warmupMs?: number };
  deploy?: DeployReport;
}

export interface ReportFiles {
  json: string;
  markdown: string;
  chart: string;
}

/** What exportAndVerify gives back: the report and where it was written. */
export interface ExportAndVerifyResult {
  report: VerifyReport;
  files: ReportFiles;
}
