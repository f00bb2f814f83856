import type { ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { HostTensor } from '../runtime/session.js';
import type { ModelRunner } from './runner.js';
import type { AttributionResult } from './base.js';
import { Perturber, featureElements, featureMask, type PerturbationOptions } from './perturbation.js';

export interface OcclusionOptions extends PerturbationOptions {
  /** The window, one size per dim of an input row (Captum's sliding_window_shapes; a number for 1-D rows). */
  slidingWindowShapes: number | readonly number[];
  /** Steps between windows per dim (Captum's strides; default 1). */
  strides?: number | readonly number[];
  /**
   * Slide the window over features instead of elements (1-D: features 0 … n − 1 in order; −1: never occluded),
   * e.g. over words made of several tokens. Each feature's attribution is given to its elements.
   */
  featureMask?: ArrayLike<number>;
}

/** Window starts per dim, as Captum: ceil((D − w) / s) + 1 windows, the k-th at k·s (the last one may be cut at the end). */
export function windowStarts(size: number, window: number, stride: number): number[] {
  const count = Math.ceil((size - window) / stride) + 1;
  return Array.from({ length: count }, (_, k) => k * stride);
}

/**
 * Captum's Occlusion: a window slides over the input row; each position's attribution is the mean, over the windows
 * that cover it, of F(x) − F(x with the window replaced by the baseline).
 */
export class Occlusion {
  constructor(readonly model: ModelProto | ModelRunner) {}

  async attribute(inputs: Record<string, HostTensor>, options: OcclusionOptions): Promise<AttributionResult[]> {
    const p = await Perturber.create(this.model, inputs, options);
    const groups = options.featureMask ? featureMask(options.featureMask, p.size) : undefined;
    const members = groups ? featureElements(groups) : undefined;
    const dims = groups ? [groups.features] : p.rowDims;
    const size = groups ? groups.features : p.size;
    const windows = perDim(options.slidingWindowShapes, dims, 'sliding window');
    const strides = perDim(options.strides ?? 1, dims, 'stride');
    dims.forEach((d, i) => {
      if (windows[i]! < 1) fail(`the window must be at least 1 on every dim, got ${windows[i]}`);
      if (strides[i]! < 1) fail(`the stride must be at least 1 on every dim, got ${strides[i]}`);
      if (windows[i]! > d) fail(`the window (${windows[i]}) is larger than the input (${d}${dims.length > 1 ? ` on dim ${i}` : ' elements'})`);
      if (d > windows[i]! && strides[i]! > windows[i]!) fail(`the stride (${strides[i]}) is larger than the window (${windows[i]}): some positions would never be occluded`);
    });
    const starts = dims.map((d, i) => windowStarts(d, windows[i]!, strides[i]!));
    const count = starts.reduce((a, s) => a * s.length, 1);
    // Row-major strides of the input row, to enumerate the elements of a window.
    const pitch = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
    const cover = (w: number, visit: (e: number) => void) => {
      const lo: number[] = [], hi: number[] = [];
      let rest = w;
      for (let i = dims.length - 1; i >= 0; i--) {
        const s = starts[i]![rest % starts[i]!.length]!;
        rest = Math.floor(rest / starts[i]!.length);
        lo[i] = s;
        hi[i] = Math.min(s + windows[i]!, dims[i]!);
      }
      const idx = [...lo];
      for (;;) {
        visit(idx.reduce((a, v, i) => a + v * pitch[i]!, 0));
        let d = dims.length - 1;
        while (d >= 0 && ++idx[d]! >= hi[d]!) { idx[d] = lo[d]!; d--; }
        if (d < 0) break;
      }
    };
    const values = await p.evaluate(count, (w, out) => cover(w, (e) => {
      if (members) for (const m of members[e]!) out[m] = 1;
      else out[e] = 1;
    }));
    const T = p.targets.length;
    const weights = new Float64Array(size);
    for (let w = 0; w < count; w++) cover(w, (e) => weights[e]!++);
    return p.targets.map((_, k) => {
      const attr = new Float64Array(size);
      for (let w = 0; w < count; w++) {
        const diff = p.fX[k]! - values[w * T + k]!;
        cover(w, (e) => (attr[e]! += diff));
      }
      for (let e = 0; e < size; e++) attr[e] = attr[e]! / weights[e]!;
      if (!groups) return p.result(attr, k, { evaluations: count });
      const spread = new Float64Array(p.size);
      groups.ids.forEach((f, e) => { if (f >= 0) spread[e] = attr[f]!; });
      return p.result(spread, k, { evaluations: count });
    });
  }
}

function perDim(v: number | readonly number[], dims: number[], what: string): number[] {
  const list = typeof v === 'number' ? dims.map(() => v) : [...v];
  if (list.length !== dims.length) fail(`the ${what} has ${list.length} dims but an input row has ${dims.length} ([${dims}])`);
  list.forEach((x) => { if (!Number.isInteger(x)) fail(`the ${what} must be whole numbers, got ${x}`); });
  return list;
}
