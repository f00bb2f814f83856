import { attrInt, attrInts, attrString, attrTensor } from '../../onnx/attributes.js';
import { DT, makeTensor, tensorValues } from '../../onnx/tensor.js';
import { normalizeAxis } from '../../graph/dims.js';
import type { Rule, RuleContext } from '../rule.js';

/*
 * Resampling: Resize and Upsample. Both are linear in X and separable: along each resized axis y = A·x with a
 * matrix A[out, in] that depends only on the sizes and scales, so x̄ = Aᵀ·g along each such axis. A is built at
 * run time from index arithmetic (symbolic dims work), with ONNX Runtime's CPU coordinate rules in float32:
 *   nearest: A[o, i] = [clamp(nearest(x(o)), 0, in − 1) = i]
 *   linear:  A[o, i] = max(0, 1 − |clamp(x(o), 0, in − 1) − i|)
 * x(o) is the coordinate transformation mode's source coordinate of output index o. The helpers (iota, one-hot
 * matrices, Aᵀ along an axis) also serve the index-map rules of Pad and Slice (shape.ts).
 */

/** 0, 1, …, n − 1 (int64 [n]) for a run-time length n (int64 [1]): Range from opset 11, NonZero of ones before. */
export function iota(c: RuleContext, n: string): string {
  const b = c.b;
  if (c.opset >= 11) return b.op('Range', [b.scalar(DT.INT64, 0), b.squeeze(n, [0]), b.scalar(DT.INT64, 1)]);
  const ones = b.op('ConstantOfShape', [n], { value: makeTensor('', DT.FLOAT, [1], [1]) });
  return b.op('Reshape', [b.op('NonZero', [ones]), b.ints([-1])]);
}

/** The matrix of an index map along one axis: M[o, i] = (src[o] = i) for i < n, in the element type `dtype`. */
export function oneHot(c: RuleContext, src: string, n: string, dtype: number): string {
  const b = c.b;
  const eq = b.op('Equal', [b.unsqueeze(src, [1]), b.unsqueeze(iota(c, n), [0])]);
  return b.op('Cast', [eq], { to: dtype });
}

/** x̄ = Mᵀ·g along `axis` (M [out, in], g of size out there): the adjoint of y = M·x applied along that axis. */
export function adjointAlong(c: RuleContext, g: string, m: string, axis: number, rank: number): string {
  const b = c.b;
  if (axis === rank - 1) return b.op('MatMul', [g, m]);
  if (axis === rank - 2) return b.op('MatMul', [b.op('Transpose', [m], { perm: [1, 0] }), g]);
  const perm = [...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis), axis];
  const moved = b.op('MatMul', [b.op('Transpose', [g], { perm }), m]);
  return b.op('Transpose', [moved], { perm: perm.map((_, i) => perm.indexOf(i)) });
}

/** Float constants of a Constant node's output, when the value is produced by one (initializers are not visible). */
function constantFloats(c: RuleContext, name: string): number[] | undefined {
  const p = name ? c.producer(name) : undefined;
  const t = p?.opType === 'Constant' ? attrTensor(p, 'value') : undefined;
  return t ? tensorValues(t) : undefined;
}

const COORDINATE_MODES = new Set(['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric',
  'tf_half_pixel_for_nn', 'tf_crop_and_resize']);
const NEAREST_MODES = new Set(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);

/** Resize (opset 10, 11, 13, 18, 19) and Upsample (opset 9): Aᵀ along each resized axis. */
function resampleGrad(c: RuleContext): string {
  const b = c.b, node = c.node, x = c.x(0);
  const op = node.opType!;
  const rank = c.rank(x);
  const mode = attrString(node, 'mode') ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'linear') c.fail(`the gradient of ${op} mode "${mode}" is not supported (only "nearest" and "linear")`);
  if (op === 'Resize' && attrInt(node, 'antialias', 0) !== 0) c.fail('the gradient of Resize with antialias=1 is not supported');
  // Upsample and Resize-10: asymmetric coordinates, nearest by truncation (by ceil when downsampling).
  const legacy = op === 'Upsample' || c.opset < 11;
  const ctm = legacy ? 'asymmetric' : attrString(node, 'coordinate_transformation_mode') ?? 'half_pixel';
  if (!COORDINATE_MODES.has(ctm)) c.fail(`the gradient of Resize coordinate_transformation_mode "${ctm}" is not supported`);
  const nearestMode = legacy ? 'simple' : attrString(node, 'nearest_mode') ?? 'round_prefer_floor';
  if (mode === 'nearest' && !legacy && !NEAREST_MODES.has(nearestMode)) c.fail(`the gradient of Resize nearest_mode "${nearestMode}" is not supported`);
  const policy = op === 'Resize' && c.opset >= 18 ? attrString(node, 'keep_aspect_ratio_policy') ?? 'stretch' : 'stretch';
  if (!['stretch', 'not_larger', 'not_smaller'].includes(policy)) c.fail(`the gradient of Resize keep_aspect_ratio_policy "${policy}" is not supported`);
  const axesAttr = op === 'Resize' && c.opset >= 18 ? attrInts(node, 'axes')?.map((a) => normalizeAxis(a, rank)) : undefined;
  const axes = axesAttr ?? Array.from({ length: rank }, (_, i) => i);

  // Where the scales come from: the scales input, or sizes (scale = out / in). Upsample-7/8 (scales attribute) would
  // need ConstantOfShape/NonZero (opset 9) to count at run time.
  if (op === 'Upsample' && c.opset < 9) c.fail('the gradient of Upsample needs opset 9 or later (Upsample-7 has no run-time index ops)');
  const scalesIn = legacy ? c.x(1) : c.x(2);
  const sizesIn = legacy ? '' : c.x(3);
  let useSizes: boolean;
  if (!sizesIn) useSizes = false;
  else if (!scalesIn || c.shape(scalesIn)?.[0] === 0) useSizes = true;
  else c.fail('the gradient of Resize with both scales and sizes inputs needs scales statically empty');
  if (!useSizes && !scalesIn) c.fail(`the gradient of ${op} needs scales or sizes`);
  const knownScales = useSizes ? undefined : constantFloats(c, scalesIn);
  const knownSizes = useSizes ? c.value(sizesIn) : undefined;

  // Axes that are certainly untouched: scale exactly 1 (ONNX Runtime copies them, whatever the coordinate mode).
  const xShape = c.shape(x);
  const unchanged = (k: number, axis: number): boolean => {
    if (knownScales) return knownScales[k] === 1;
    const size = knownSizes?.[k], dim = xShape?.[axis];
    return policy === 'stretch' && typeof size === 'number' && size === dim;
  };
  // ONNX Runtime also copies X whole when the output has X's shape, whatever the scales (a scale slightly above 1).
  // Sizes (stretch) give that shape only with scales 1; otherwise decide statically where the shapes are known, else
  // at run time, mapping each o to itself then.
  const yShape = c.shape(c.y(0));
  const known = (s: typeof xShape) => !!s && s.every((d) => typeof d === 'number');
  if (known(xShape) && known(yShape) && xShape!.every((d, i) => d === yShape![i])) return c.g(0)!;
  const mayCopy = (!useSizes || policy !== 'stretch') && !(known(xShape) && known(yShape));
  let copies = '';
  const whole = () => (copies ||= b.op('Greater', [
    b.reduce('ReduceMin', b.op('Cast', [b.op('Equal', [b.op('Shape', [c.g(0)!]), b.op('Shape', [x])])], { to: DT.FLOAT }), [0], true),
    b.scalar(DT.FLOAT, 0.5)]));

  const f32 = (v: number) => b.scalar(DT.FLOAT, v);
  const toF = (t: string) => b.op('Cast', [t], { to: DT.FLOAT });
  let policyScale: string | undefined;
  const scaleOf = (k: number, axis: number): string => {
    if (!useSizes) return b.op('Gather', [scalesIn, b.ints([k])], { axis: 0 });
    if (policy === 'stretch') return b.op('Div', [toF(b.op('Gather', [sizesIn, b.ints([k])], { axis: 0 })), toF(b.dim(x, axis))]);
    // keep_aspect_ratio_policy: one scale for all the axes, the least (not_larger) or greatest (not_smaller) out/in.
    if (!policyScale) {
      const ratios = b.op('Div', [toF(sizesIn), toF(b.op('Gather', [b.op('Shape', [x]), b.ints(axes)], { axis: 0 }))]);
      policyScale = b.reduce(policy === 'not_larger' ? 'ReduceMin' : 'ReduceMax', ratios, [0], true);
    }
    return policyScale;
  };

  let g = c.g(0)!;
  const dtype = c.dtype(x);
  axes.forEach((axis, k) => {
    if (unchanged(k, axis)) return;
    const inLen = b.dim(x, axis), outLen = b.dim(g, axis);
    const s = scaleOf(k, axis);
    const inF = toF(inLen), outF = toF(outLen);
    const o = toF(iota(c, outLen));
    const half = f32(0.5), one = f32(1), zero = f32(0);
    const inLast = b.op('Sub', [inF, one]);
    // Source coordinates, in float32 with ONNX Runtime's order of operations.
    let xo: string;
    switch (ctm) {
      case 'asymmetric': xo = b.op('Div', [o, s]); break;
      case 'half_pixel': xo = b.op('Sub', [b.op('Div', [b.op('Add', [o, half]), s]), half]); break;
      case 'pytorch_half_pixel':
        xo = b.op('Where', [b.op('Greater', [outF, one]), b.op('Sub', [b.op('Div', [b.op('Add', [o, half]), s]), half]), zero]);
        break;
      case 'tf_half_pixel_for_nn': xo = b.op('Div', [b.op('Add', [o, half]), s]); break;
      case 'align_corners':
        xo = b.op('Where', [b.op('Greater', [outF, one]), b.op('Div', [b.op('Mul', [o, inLast]), b.op('Sub', [outF, one])]), zero]);
        break;
      case 'half_pixel_symmetric': {
        // offset = in/2 · (1 − out/(s·in)) in float, then offset + (o + ½)/s − ½ in double
        const adjustment = b.op('Div', [outF, b.op('Mul', [s, inF])]);
        const offset = b.op('Mul', [b.op('Div', [inF, f32(2)]), b.op('Sub', [one, adjustment])]);
        const d = (t: string) => b.op('Cast', [t], { to: DT.DOUBLE });
        const halfD = b.scalar(DT.DOUBLE, 0.5);
        const sum = b.op('Add', [d(offset), b.op('Div', [b.op('Add', [d(o), halfD]), d(s)])]);
        xo = toF(b.op('Sub', [sum, halfD]));
        break;
      }
      default: {
        // tf_crop_and_resize: roi_start·(in − 1) + o·(roi_end − roi_start)·(in − 1)/(out − 1); ½(start + end)(in − 1) at out = 1
        const roi = toF(c.x(1) || c.fail('the gradient of Resize tf_crop_and_resize needs the roi input'));
        const n = axes.length;
        const roiStart = b.op('Gather', [roi, b.ints([k])], { axis: 0 });
        const roiEnd = b.op('Gather', [roi, b.ints([k + n])], { axis: 0 });
        const span = b.op('Div', [b.op('Mul', [b.op('Mul', [o, b.op('Sub', [roiEnd, roiStart])]), inLast]), b.op('Sub', [outF, one])]);
        const many = b.op('Add', [b.op('Mul', [roiStart, inLast]), span]);
        const d = (t: string) => b.op('Cast', [t], { to: DT.DOUBLE });
        const single = toF(b.op('Mul', [b.op('Mul', [b.scalar(DT.DOUBLE, 0.5), d(b.op('Add', [roiStart, roiEnd]))]), d(inLast)]));
        xo = b.op('Where', [b.op('Greater', [outF, one]), many, single]);
      }
    }
    // ONNX Runtime copies an axis whose scale is exactly 1 (this matters where the mapping at scale 1 is not o).
    if (ctm === 'tf_half_pixel_for_nn' || ctm === 'tf_crop_and_resize') xo = b.op('Where', [b.op('Equal', [s, one]), o, xo]);
    if (mayCopy) xo = b.op('Where', [whole(), o, xo]);
    let m: string;
    if (mode === 'nearest') {
      const f = b.op('Floor', [xo]);
      const frac = b.op('Sub', [xo, f]);
      let r: string;
      switch (nearestMode) {
        case 'simple': r = b.op('Where', [b.op('Less', [s, one]), b.op('Ceil', [xo]), f]); break;
        case 'floor': r = f; break;
        case 'ceil': r = b.op('Ceil', [xo]); break;
        // halves round down (prefer floor) or up (std::round, away from zero: the same once clamped at 0)
        case 'round_prefer_floor': r = b.op('Add', [f, toF(b.op('Greater', [frac, half]))]); break;
        default: r = b.op('Add', [f, toF(b.op('Not', [b.op('Less', [frac, half])]))]);
      }
      const idx = b.op('Cast', [b.op('Min', [b.op('Max', [r, zero]), inLast])], { to: DT.INT64 });
      m = oneHot(c, idx, inLen, DT.FLOAT);
    } else {
      const v = b.op('Min', [b.op('Max', [xo, zero]), inLast]);
      const i = toF(iota(c, inLen));
      m = b.op('Relu', [b.op('Sub', [one, b.op('Abs', [b.op('Sub', [b.unsqueeze(v, [1]), b.unsqueeze(i, [0])])])])]);
    }
    if (ctm === 'tf_crop_and_resize') {
      // Outputs whose source lies outside [0, in − 1] take extrapolation_value: no dependence on X.
      const outside = b.op('Or', [b.op('Less', [xo, zero]), b.op('Greater', [xo, inLast])]);
      m = b.op('Mul', [m, b.unsqueeze(toF(b.op('Not', [outside])), [1])]);
    }
    if (dtype !== DT.FLOAT) m = b.op('Cast', [m], { to: dtype });
    g = adjointAlong(c, g, m, axis, rank);
  });
  return g;
}

export const RESAMPLING: Record<string, Rule> = {
  Resize: { diff: [0], vjp: (c) => [resampleGrad(c)] },
  Upsample: { diff: [0], vjp: (c) => [resampleGrad(c)] },
};
