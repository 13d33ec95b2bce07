// How an exported model turns a decoded image into the network's input, step by step: crop or pad
// (geometry), resize (method and pixel grid), normalize (steps). The serving graph
// (@tensorsky/export's preprocessing.ts) and the TF.js reference (preprocessImagesReference) both
// follow this description, and `tensorsky inspect` prints it (describePreprocessing).
import { ImageInputGraphError, PREPROCESS_STEPS, type PreprocessMode, type PreprocessStep } from './modes.js';

/** tf.image.resize's methods that exist as plain TensorFlow ops. */
export type ResizeMethod = 'bilinear' | 'nearest' | 'bicubic' | 'area';

/**
 * Where pixel centers are (the resize ops' attrs): half_pixel = TF2 tf.image.resize
 * (half_pixel_centers=true); legacy = TF1 tf.image.resize_* defaults (both false); align_corners =
 * TF1 with align_corners=true. Area resizing has no half-pixel attr: half_pixel and legacy both mean
 * ResizeArea(align_corners=false), which is what tf.image.resize does for 'area'.
 */
export type PixelGrid = 'half_pixel' | 'legacy' | 'align_corners';

export const RESIZE_METHODS: Readonly<Record<ResizeMethod, string>> = {
  bilinear: 'ResizeBilinear',
  nearest: 'ResizeNearestNeighbor',
  bicubic: 'ResizeBicubic (Keys cubic a=-0.5 with half-pixel centers, a=-0.75 otherwise, as TensorFlow)',
  area: 'ResizeArea (area-weighted mean)',
};

export const PIXEL_GRIDS: Readonly<Record<PixelGrid, string>> = {
  half_pixel: 'half-pixel centers (TF2 tf.image.resize)',
  legacy: 'TF1 legacy (align_corners=false, half_pixel_centers=false)',
  align_corners: 'TF1 align_corners=true',
};

export interface PreprocessOptions {
  /** The network's input size. */
  height: number;
  width: number;
  preprocess: PreprocessMode;
  /** 3 (RGB, default) or 1 (grayscale, TensorFlow's luma). */
  channels?: 1 | 3;
  /** Default bilinear. */
  resize?: ResizeMethod;
  /** Default half_pixel (TF2). */
  grid?: PixelGrid;
  /** Antialiased bilinear/bicubic (tf.image.resize(antialias=True)); default false. */
  antialias?: boolean;
  /** Default stretch. */
  geometry?: Geometry;
  /** Normalization steps; when given they replace `preprocess`'s preset. */
  normalize?: readonly PreprocessStep[];
}

/** What happens to the decoded image before (and, for short_side, after) resizing it to the network size. */
export type Geometry =
  | { kind: 'stretch' }
  /** tf.image.central_crop(image, fraction), then resize. */
  | { kind: 'central_crop'; fraction: number }
  /** Resize so the short side is `shortSide` (long side floor(long * shortSide / short)), then crop the center to the network size. */
  | { kind: 'short_side'; shortSide: number }
  /** Resize to height x width (aspect ratio not kept), then crop the center to the network size: Keras's Resizing then CenterCrop. */
  | { kind: 'resize_then_crop'; height: number; width: number }
  /** Zero-pad to a square (tf.image.pad_to_bounding_box, image centered, offsets rounded down), then resize. */
  | { kind: 'pad_to_square' };

export const GEOMETRY_KINDS = ['stretch', 'central_crop', 'short_side', 'resize_then_crop', 'pad_to_square'] as const;

/** The whole preprocessing of an export, every choice made. */
export interface Preprocessing {
  height: number;
  width: number;
  channels: 1 | 3;
  geometry: Geometry;
  resize: ResizeMethod;
  grid: PixelGrid;
  /** tf.image.resize(antialias=True): ScaleAndTranslate with the method's kernel (bilinear, bicubic only). */
  antialias: boolean;
  /** Normalization on float pixels 0-255, in order. */
  normalize: readonly PreprocessStep[];
  /** The preset the steps come from, or 'custom'. */
  normalizeName: string;
}

/** The options with every default filled in and checked. */
export function resolvePreprocessing(options: PreprocessOptions): Preprocessing {
  const { height, width, preprocess, channels = 3 } = options;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ImageInputGraphError(`image size must be positive integers, got ${height}x${width}`);
  }
  if (options.normalize === undefined && !(preprocess in PREPROCESS_STEPS)) {
    throw new ImageInputGraphError(`unknown preprocessing '${preprocess}'; use one of ${Object.keys(PREPROCESS_STEPS).join(', ')}`);
  }
  if (channels !== 1 && channels !== 3) throw new ImageInputGraphError(`images must have 1 or 3 channels, got ${channels}`);
  const normalize = options.normalize ?? PREPROCESS_STEPS[preprocess];
  for (const step of normalize) checkStep(step, channels, options.normalize === undefined ? preprocess : undefined);
  const resize = options.resize ?? 'bilinear';
  if (!(resize in RESIZE_METHODS)) throw new ImageInputGraphError(`unknown resize method '${resize}'; use one of ${Object.keys(RESIZE_METHODS).join(', ')}`);
  const grid = options.grid ?? 'half_pixel';
  if (!(grid in PIXEL_GRIDS)) throw new ImageInputGraphError(`unknown pixel grid '${grid}'; use one of ${Object.keys(PIXEL_GRIDS).join(', ')}`);
  const antialias = options.antialias ?? false;
  if (antialias && (resize === 'nearest' || resize === 'area')) {
    throw new ImageInputGraphError(`antialiasing applies to bilinear and bicubic resizing (as in tf.image.resize), not ${resize}`);
  }
  if (antialias && grid !== 'half_pixel') {
    throw new ImageInputGraphError(`antialiased resizing always uses half-pixel centers (TF2 tf.image.resize); it cannot be combined with ${grid}`);
  }
  const geometry = options.geometry ?? { kind: 'stretch' };
  checkGeometry(geometry, height, width);
  return { height, width, channels, geometry, resize, grid, antialias, normalize, normalizeName: options.normalize === undefined ? preprocess : 'custom' };
}

function checkStep(step: PreprocessStep, channels: number, preset: string | undefined): void {
  const perChannel = step.kind === 'rgbToBgr' || typeof step.value !== 'number';
  if (channels === 1 && perChannel) {
    throw new ImageInputGraphError(
      preset === undefined
        ? 'per-channel normalization and BGR order need RGB images; this model takes grayscale'
        : `preprocessing '${preset}' works on RGB images; a grayscale model needs inception, unit or none`,
    );
  }
  if (step.kind === 'rgbToBgr') return;
  const values = typeof step.value === 'number' ? [step.value] : step.value;
  if (typeof step.value !== 'number' && step.value.length !== channels) {
    throw new ImageInputGraphError(`per-channel ${step.kind} needs ${channels} values, got ${step.value.length}`);
  }
  if (!values.every(Number.isFinite)) throw new ImageInputGraphError(`normalization ${step.kind} values must be finite numbers, got ${values.join(', ')}`);
  if (step.kind === 'div' && values.some((v) => v === 0)) throw new ImageInputGraphError('normalization divides by 0 (a std of 0?)');
}

function checkGeometry(geometry: Geometry, height: number, width: number): void {
  switch (geometry.kind) {
    case 'stretch':
    case 'pad_to_square':
      return;
    case 'central_crop': {
      const { fraction } = geometry;
      // tf.image.central_crop's own range check.
      if (!(fraction > 0 && fraction <= 1)) throw new ImageInputGraphError(`central crop fraction must be within (0, 1], got ${fraction}`);
      return;
    }
    case 'short_side': {
      const { shortSide } = geometry;
      // At least the network's larger side, so the center crop always fits whatever the aspect ratio.
      if (!Number.isInteger(shortSide) || shortSide < Math.max(height, width)) {
        throw new ImageInputGraphError(`short side must be an integer of at least ${Math.max(height, width)} (the network size ${height}x${width}), got ${shortSide}`);
      }
      return;
    }
    case 'resize_then_crop': {
      const { height: h, width: w } = geometry;
      if (!Number.isInteger(h) || !Number.isInteger(w) || h < height || w < width) {
        throw new ImageInputGraphError(`the size before the center crop must be integers of at least the network size ${height}x${width}, got ${h}x${w}`);
      }
      return;
    }
    default:
      throw new ImageInputGraphError(`unknown geometry '${(geometry as { kind: string }).kind}'; use one of ${GEOMETRY_KINDS.join(', ')}`);
  }
}

/** ScaleAndTranslate's kernel_type for an antialiased method, as tf.image.resize picks it. */
export const ANTIALIAS_KERNELS: Readonly<Partial<Record<ResizeMethod, string>>> = { bilinear: 'triangle', bicubic: 'keyscubic' };

/** The resize op's attrs for a method and grid (area has align_corners only). */
export function resizeAttrs(resize: ResizeMethod, grid: PixelGrid): { alignCorners: boolean; halfPixelCenters?: boolean } {
  if (resize === 'area') return { alignCorners: grid === 'align_corners' };
  return { alignCorners: grid === 'align_corners', halfPixelCenters: grid === 'half_pixel' };
}

/** tf.image.central_crop's offset for one dimension: int((size - size * fraction) / 2), in float64 as in Python. */
export function centralCropOffset(size: number, fraction: number): number {
  return Math.trunc((size - size * fraction) / 2);
}

/**
 * The same offset computed in float32, as our TF.js executor computes the graph's DT_DOUBLE ops (TF.js
 * has no float64). A fraction is accepted only if both agree for every size up to 65535 (JPEG's limit).
 */
export function centralCropOffsetFloat32(size: number, fraction: number): number {
  const f = Math.fround;
  return Math.trunc(f(f(size - f(size * f(fraction))) / 2));
}

const MAX_CHECKED_SIZE = 65535;

/** Sizes (1..65535) where float32 and float64 disagree on the central crop offset; [] for 0.875 and most fractions. */
export function float32CropMismatches(fraction: number): number[] {
  const bad: number[] = [];
  for (let size = 1; size <= MAX_CHECKED_SIZE; size++) {
    if (centralCropOffset(size, fraction) !== centralCropOffsetFloat32(size, fraction)) bad.push(size);
  }
  return bad;
}

/** The resized size for short_side: the short side becomes `shortSide`, the long side floor(long * shortSide / short). */
export function shortSideSize(height: number, width: number, shortSide: number): [number, number] {
  return height <= width ? [shortSide, Math.floor((width * shortSide) / height)] : [Math.floor((height * shortSide) / width), shortSide];
}

/** One line per step, in the order the graph runs them. */
export function describePreprocessing(p: Preprocessing): string[] {
  const lines: string[] = [];
  const { height, width } = p;
  const grid = p.resize === 'area' ? (p.grid === 'align_corners' ? 'align_corners=true' : 'align_corners=false') : PIXEL_GRIDS[p.grid];
  const resizeLine = (to: string) =>
    p.antialias
      ? `resize ${to} with ${p.resize}, antialiased (ScaleAndTranslate, ${ANTIALIAS_KERNELS[p.resize]} kernel, as tf.image.resize(antialias=True))`
      : `resize ${to} with ${p.resize} (${RESIZE_METHODS[p.resize].split(' ')[0]}), ${grid}`;
  switch (p.geometry.kind) {
    case 'stretch':
      lines.push(resizeLine(`to ${height}x${width} (aspect ratio not kept)`));
      break;
    case 'central_crop':
      lines.push(`central crop ${p.geometry.fraction} of each side (tf.image.central_crop)`);
      lines.push(resizeLine(`to ${height}x${width}`));
      break;
    case 'pad_to_square':
      lines.push('pad to a square with zeros, image centered (tf.image.pad_to_bounding_box)');
      lines.push(resizeLine(`to ${height}x${width}`));
      break;
    case 'short_side':
      lines.push(resizeLine(`so the short side is ${p.geometry.shortSide}`));
      lines.push(`crop the center ${height}x${width}`);
      break;
    case 'resize_then_crop':
      lines.push(resizeLine(`to ${p.geometry.height}x${p.geometry.width} (aspect ratio not kept)`));
      lines.push(`crop the center ${height}x${width}`);
      break;
  }
  for (const step of p.normalize) lines.push(describeStep(step));
  return lines;
}

function describeStep(step: PreprocessStep): string {
  if (step.kind === 'rgbToBgr') return 'reorder channels RGB -> BGR';
  const value = typeof step.value === 'number' ? String(step.value) : `[${step.value.join(', ')}]`;
  const verb = { div: 'divide by', sub: 'subtract', mul: 'multiply by', add: 'add' }[step.kind];
  return `${verb} ${value}`;
}

/** Normalization given as numbers (the CLI's --scale, --mean, --std, --channel_order). */
export interface NormalizationValues {
  /** Multiply pixels 0-255 first (Keras Rescaling), e.g. 1/255. */
  scale?: number;
  /** Per channel (in the model's channel order) or one for all. */
  mean?: number | readonly number[];
  std?: number | readonly number[];
  /** 'bgr' reorders the channels first (Keras caffe mode); default 'rgb'. */
  channelOrder?: 'rgb' | 'bgr';
}

/** The steps for NormalizationValues: reorder, multiply by scale, subtract mean, divide by std. */
export function normalizationSteps(values: NormalizationValues): PreprocessStep[] {
  const steps: PreprocessStep[] = [];
  if (values.channelOrder === 'bgr') steps.push({ kind: 'rgbToBgr' });
  else if (values.channelOrder !== undefined && values.channelOrder !== 'rgb') {
    throw new ImageInputGraphError(`unknown channel order '${values.channelOrder as string}'; use rgb or bgr`);
  }
  if (values.scale !== undefined) steps.push({ kind: 'mul', value: values.scale });
  if (values.mean !== undefined) steps.push({ kind: 'sub', value: values.mean });
  if (values.std !== undefined) steps.push({ kind: 'div', value: values.std });
  return steps;
}

/** assets.extra file in which an export records its preprocessing (read by `tensorsky inspect`). */
export const PREPROCESSING_FILE = 'tensorsky_preprocessing.json';

export const PREPROCESSING_SCHEMA = 'tensorsky.preprocessing/1';

/** What PREPROCESSING_FILE holds. */
export interface PreprocessingRecord {
  schema: typeof PREPROCESSING_SCHEMA;
  /** describePreprocessing's lines, decode step first. */
  steps: string[];
  preprocessing: Preprocessing;
}
