/**
 * Image classification: why did the model see this class? The image goes through the model's image processor, the
 * chosen method attributes the class logit to the pixel values (grad-cam: to the last feature map), and the result
 * is per-pixel attributions with the prediction, for Captum's visualize_image_attr views (viz/image.ts).
 */
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import { methodSpec, parseIntIn, type ExplainSettings } from '../attr/registry.js';
import type { DenseContext } from '../attr/dense.js';
import { planMemory } from '../attr/memory.js';
import { concatRows } from '../attr/host.js';
import { Random } from '../attr/random.js';
import { findSpatialLayer, type DenseModel } from '../models/dense.js';
import { gaussianBlur, pixelValues, prepareImage, solidImage, type RgbImage } from '../models/image.js';

export const IMAGE_BASELINES = ['black', 'blur', 'noise', 'zero'] as const;
export type ImageBaselineKind = (typeof IMAGE_BASELINES)[number];
/** A named baseline, or an image (already decoded) to use as the baseline. */
export type ImageBaseline = ImageBaselineKind | { image: RgbImage; label: string };

export interface ImageOptions {
  /** A label name or index; default the predicted class. */
  target?: string;
  /** Default black (gradient-shap: black and uniform noise). */
  baseline?: ImageBaseline;
  /** Occlusion patch side and stride in pixels, or 'auto' (side ≈ 1/14 of the image, stride half of it). */
  window?: number | 'auto';
  stride?: number | 'auto';
  /** grad-cam's layer (default: the feature map before the last global pooling). */
  layer?: string;
}

export interface PredictedClass { index: number; label: string; logit: number; probability: number }

/** A float32 array in JSON: shape, row-major values as base64 of little-endian float32. */
export interface EncodedArray { shape: number[]; dtype: 'float32'; encoding: 'base64'; data: string }

export interface ImageExplanation {
  task: 'image';
  model: string;
  method: string;
  captum: string;
  input: { name: string; shape: number[]; layout: 'nchw' | 'nhwc' };
  /** The decoded image and what the model saw (after resize and crop). */
  image: { width: number; height: number; processed: { width: number; height: number }; preprocessing: string };
  prediction: PredictedClass;
  top: PredictedClass[];
  target: PredictedClass;
  baseline: string | null;
  /** Per-pixel attributions in the input's layout ([1, 3, H, W]); grad-cam: its map upsampled to [1, 1, H, W]. */
  attributions: EncodedArray;
  /** grad-cam: the map at the layer's resolution, and the layer. */
  layer?: string;
  layer_attributions?: EncodedArray;
  /** Σ attributions − (F(x) − F(baseline)) for the integral methods; null for the others. */
  delta: number | null;
  f_x: number;
  f_baseline: number | null;
  settings: Record<string, unknown>;
  warnings: string[];
}

/** What the views draw: the processed image and the attributions per pixel and channel (channels last). */
export interface ImageViewData { image: RgbImage; attr: Float64Array; channels: number }

/** Base64 of bytes (btoa exists in Node and browsers; chunks keep the argument list short). */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function encodeFloat32(values: ArrayLike<number>, shape: number[]): EncodedArray {
  const f = Float32Array.from(values as ArrayLike<number>);
  return { shape, dtype: 'float32', encoding: 'base64', data: bytesToBase64(new Uint8Array(f.buffer)) };
}

export function decodeFloat32(a: EncodedArray): Float32Array {
  const bin = atob(a.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function softmax(logits: ArrayLike<number>): number[] {
  const arr = Array.from(logits, Number);
  const m = Math.max(...arr);
  const e = arr.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The classes of one output row, best first. */
export function rankClasses(row: ArrayLike<number>, labels: string[] | undefined): PredictedClass[] {
  const probs = row.length > 1 ? softmax(row) : [Number.NaN];
  return Array.from(row, (v, i) => ({ index: i, label: labels?.[i] ?? String(i), logit: Number(v), probability: probs[i]! }))
    .sort((a, b) => b.logit - a.logit || a.index - b.index);
}

/** A --target: a label name or an index. */
export function targetIndex(target: string, classes: number, labels: string[] | undefined): number {
  const byName = labels?.indexOf(target) ?? -1;
  if (byName >= 0) return byName;
  if (/^\d{1,9}$/.test(target) && Number(target) < classes) return Number(target);
  fail(`--target ${target.slice(0, 60)} is neither a label of the model${labels ? ` (${labels.slice(0, 8).join(', ')}${labels.length > 8 ? ', …' : ''})` : ''} nor a class index below ${classes}`);
}

/** The model's input for an image, checked against the size the model requires. */
export function imageInput(model: DenseModel, img: RgbImage): { prepared: RgbImage; pixels: HostTensor } {
  const prepared = prepareImage(img, model.processor!);
  const req = model.requiredSize!;
  if ((req.height !== null && req.height !== prepared.height) || (req.width !== null && req.width !== prepared.width)) {
    fail(`${model.name} takes ${req.height ?? 'any'}×${req.width ?? 'any'} images but its preprocessing (${model.processor!.source}) makes ${prepared.height}×${prepared.width}: give --size ${req.height ?? prepared.height}x${req.width ?? prepared.width}`);
  }
  return { prepared, pixels: pixelValues(prepared, model.processor!, model.layout) };
}

function baselineTensor(model: DenseModel, b: ImageBaseline, x: HostTensor, prepared: RgbImage, seed: number): HostTensor {
  const p = model.processor!;
  if (typeof b === 'object') {
    const img = prepareImage(b.image, p);
    if (img.width !== prepared.width || img.height !== prepared.height) fail(`the baseline image becomes ${img.height}×${img.width} after preprocessing, the image ${prepared.height}×${prepared.width}`);
    return pixelValues(img, p, model.layout);
  }
  switch (b) {
    case 'black': return pixelValues(solidImage(prepared.width, prepared.height), p, model.layout);
    case 'zero': return { type: 'float32', data: new Float32Array(x.data.length), dims: [...x.dims] };
    case 'blur': return gaussianBlur(x, Math.max(prepared.width, prepared.height) / 16, model.layout);
    case 'noise': {
      const r = new Random(seed);
      const data = Uint8Array.from({ length: prepared.width * prepared.height * 3 }, () => Math.floor(r.uniform() * 256));
      return pixelValues({ width: prepared.width, height: prepared.height, data }, p, model.layout);
    }
  }
}

const baselineName = (b: ImageBaseline) => (typeof b === 'object' ? b.label : b);

/** Bilinear upsampling of a [h, w] map to [H, W] (PyTorch's interpolate, mode bilinear, align_corners False). */
export function upsampleBilinear(map: ArrayLike<number>, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  const src = (o: number, inSize: number, outSize: number) => Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
  for (let y = 0; y < H; y++) {
    const sy = src(y, h, H), y0 = Math.min(Math.floor(sy), h - 1), y1 = Math.min(y0 + 1, h - 1), fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = src(x, w, W), x0 = Math.min(Math.floor(sx), w - 1), x1 = Math.min(x0 + 1, w - 1), fx = sx - x0;
      const v = (1 - fy) * ((1 - fx) * Number(map[y0 * w + x0]) + fx * Number(map[y0 * w + x1])) + fy * ((1 - fx) * Number(map[y1 * w + x0]) + fx * Number(map[y1 * w + x1]));
      out[y * W + x] = v;
    }
  }
  return out;
}

/** Explains one image. */
export async function explainImage(model: DenseModel, img: RgbImage, settings: ExplainSettings, options: ImageOptions = {}): Promise<{ explanation: ImageExplanation; view: ImageViewData }> {
  const spec = methodSpec(settings.method, 'image');
  const { prepared, pixels } = imageInput(model, img);
  const feeds = { [model.input]: pixels };
  const out = (await model.runner.forward(feeds))[model.output]!;
  const row = Array.from(out.data as Float32Array, Number);
  const ranked = rankClasses(row, model.labels);
  const prediction = ranked[0]!;
  const targetIdx = options.target === undefined ? prediction.index : targetIndex(options.target, row.length, model.labels);
  const target = ranked.find((c) => c.index === targetIdx)!;
  const H = prepared.height, W = prepared.width;

  const defaultBaseline: ImageBaseline = options.baseline ?? 'black';
  const usesBaseline = (spec.options as readonly string[]).includes('baseline') || spec.name === 'gradient-shap';
  const patches = PATCH_METHODS.includes(spec.name);
  // Only the methods that read a baseline make one (a blur or a baseline image is not free).
  const baseline = usesBaseline ? baselineTensor(model, defaultBaseline, pixels, prepared, settings.seed) : pixels;
  const distribution = spec.name === 'gradient-shap' && options.baseline === undefined
    ? concatRows([baseline, baselineTensor(model, 'noise', pixels, prepared, settings.seed)]) : baseline;

  // Occlusion patches: side ≈ 1/14 of the image (Captum's ResNet tutorial: 15 px at 224), stride half the side.
  const auto = Math.max(1, Math.round(Math.min(H, W) / 14));
  const side = options.window === undefined || options.window === 'auto' ? auto : options.window;
  const step = options.stride === undefined || options.stride === 'auto' ? Math.max(1, Math.ceil(side / 2)) : options.stride;
  if (spec.name === 'occlusion' || patches) {
    if (side > Math.min(H, W)) fail(`--window ${side} is larger than the ${H}×${W} image the model sees`);
    if (spec.name === 'occlusion' && step > side) fail(`--stride ${step} is larger than --window ${side}: some pixels would never be occluded`);
  }
  const window = model.layout === 'nchw' ? [3, side, side] : [side, side, 3];
  const strides = model.layout === 'nchw' ? [3, step, step] : [step, step, 3];

  let layer: string | undefined;
  if (spec.name === 'grad-cam') {
    layer = options.layer ?? findSpatialLayer(model.graph);
    if (!layer) fail(`${model.name}: no global pooling found to take the last feature map from (a CNN's GlobalAveragePool): name the layer with --layer (gradlens inspect --tensors lists them)`);
    if (!model.graph.producer.has(layer)) fail(`--layer ${layer} is not a tensor computed by the graph (gradlens inspect --tensors lists them)`);
  }

  const requested = settings.internalBatchSize;
  const budget = settings.memoryBudget ?? Number.MAX_SAFE_INTEGER;
  const chunk = planMemory(model.onnx, { sequenceLength: Math.max(H, W), requested, fallback: 16, budget, label: requested !== undefined ? `--internal-batch-size ${requested}` : undefined });
  const perEval = settings.perturbationsPerEval === 'auto' ? chunk : settings.perturbationsPerEval;
  const ctx: DenseContext = {
    runner: model.runner, input: model.input, feeds,
    targets: [{ output: model.output, target: targetIdx, label: target.label }],
    internalBatchSize: chunk, perturbationsPerEval: perEval, settings, baseline, baselineDistribution: distribution,
    window, strides, ...(layer ? { layer } : {}), ...(patches ? { featureMask: patchMask(H, W, side, model.layout!) } : {}),
  };
  const result = (await spec.dense!(ctx))[0]!;
  const warnings: string[] = [];
  let attr: Float64Array, channels: number, attrShape: number[];
  let layerAttr: ImageExplanation['layer_attributions'];
  if (spec.name === 'grad-cam') {
    const a = result.attributions[layer!]!;
    const [h, w] = a.dims.slice(-2) as [number, number];
    layerAttr = encodeFloat32(a.data as Float64Array, a.dims);
    attr = upsampleBilinear(a.data as Float64Array, h, w, H, W);
    channels = 1;
    attrShape = [1, 1, H, W];
    if (a.data.every((v) => v === 0)) warnings.push('grad-cam is zero everywhere: no channel of the layer pushes the target up (ReLU of the weighted sum)');
  } else {
    const a = result.attributions[model.input]!;
    channels = 3;
    attrShape = [...a.dims];
    const data = a.data as Float64Array;
    // Channels last for the views.
    attr = model.layout === 'nhwc' ? Float64Array.from(data) : Float64Array.from({ length: H * W * 3 }, (_, k) => data[(k % 3) * H * W + Math.floor(k / 3)]!);
  }
  const fX = result.fX?.[0] ?? target.logit;
  const delta = result.delta ? result.delta[0]! : null;
  if (delta !== null && spec.integral) {
    const gap = Math.abs(fX - (result.fBaseline?.[0] ?? 0));
    if (Math.abs(delta) > 0.05 * Math.max(gap, 1e-6)) warnings.push(`convergence delta ${delta.toPrecision(3)} is more than 5% of F(x) − F(baseline) = ${(fX - (result.fBaseline?.[0] ?? 0)).toPrecision(3)}: use more --steps`);
  }
  const settingsOut: Record<string, unknown> = {};
  // The baseline is the explanation's own field (the token-model setting's default, pad, means nothing here).
  for (const key of spec.options) if (key !== 'baseline') settingsOut[key] = settings[key];
  if (spec.name === 'occlusion') Object.assign(settingsOut, { window: side, stride: step });
  if (patches) Object.assign(settingsOut, { window: side, features: Math.ceil(H / side) * Math.ceil(W / side) });
  const explanation: ImageExplanation = {
    task: 'image', model: model.name, method: spec.name, captum: spec.denseCaptum ?? spec.captum,
    input: { name: model.input, shape: [...pixels.dims], layout: model.layout! },
    image: { width: img.width, height: img.height, processed: { width: W, height: H }, preprocessing: model.processor!.source },
    prediction, top: ranked.slice(0, 5), target,
    baseline: usesBaseline ? (spec.name === 'gradient-shap' && options.baseline === undefined ? 'black, noise' : baselineName(defaultBaseline)) : null,
    attributions: encodeFloat32(spec.name === 'grad-cam' ? attr : (result.attributions[model.input]!.data as Float64Array), attrShape),
    ...(layer ? { layer, layer_attributions: layerAttr } : {}),
    delta, f_x: fX, f_baseline: result.fBaseline ? result.fBaseline[0]! : null,
    settings: settingsOut, warnings,
  };
  return { explanation, view: { image: prepared, attr, channels } };
}

/** The perturbation methods that perturb square patches (features) of the image, all channels together. */
const PATCH_METHODS: readonly string[] = ['feature-ablation', 'shapley', 'kernel-shap', 'lime'];

/**
 * A feature mask of side × side patches over an H × W image, row-major (the last row and column of patches may be
 * smaller), the same feature on every channel, in the input's layout.
 */
export function patchMask(H: number, W: number, side: number, layout: 'nchw' | 'nhwc'): Int32Array {
  const cols = Math.ceil(W / side);
  const mask = new Int32Array(3 * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const f = Math.floor(y / side) * cols + Math.floor(x / side);
      for (let c = 0; c < 3; c++) mask[layout === 'nchw' ? (c * H + y) * W + x : (y * W + x) * 3 + c] = f;
    }
  }
  return mask;
}

/** --window / --stride for images: "auto" or pixels. */
export function parsePixels(v: string | undefined, flag: string): number | 'auto' | undefined {
  if (v === undefined || v === 'auto') return v as 'auto' | undefined;
  return parseIntIn(v, flag, 1, 4096, ' or "auto"');
}
