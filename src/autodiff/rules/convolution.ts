import { onnx, type AttributeProto } from '../../onnx/proto.js';
import { attrInt, attrInts, findAttr, makeAttr } from '../../onnx/attributes.js';
import { DT, makeTensor } from '../../onnx/tensor.js';
import { convTransposeAxis, windowAttrs, windowAxis, type WindowAttrs } from '../../graph/shapes.js';
import type { Rule, RuleContext } from '../rule.js';

/*
 * Convolution and pooling, gradients with respect to the data input X only (weights and biases are not
 * differentiated). Notation per spatial axis: input size D, kernel k, stride s, dilation d, begin/end pads pb/pe,
 * output size O. Output o reads the inputs o·s + j·d − pb, j < k; positions outside [0, D) are padding.
 *
 * Every adjoint is one "window adjoint" S̄ᵀ: a ConvTranspose of the output cotangent (pads 0), which covers the
 * positions [−pb, (O−1)·s + (k−1)·d + 1 − pb), cut to [0, D) and zero-extended where the last inputs are in no window.
 * Pools fold the channels into the batch ([N·C, 1, spatial…]) so that their kernels need not know C.
 * Pads and sizes are static where the spatial dims are known; with symbolic dims they are computed at run time.
 */

/** A static integer, or the name of a run-time int64 tensor of shape [1]. */
type IV = number | string;

/** One spatial axis of a window op. out is null when it is only known at run time. */
interface Axis {
  D: IV;
  k: number;
  s: number;
  d: number;
  pb: IV;
  pe: IV;
  out: number | null;
}

const isNum = (v: IV): v is number => typeof v === 'number';
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const prod = (v: readonly number[]) => v.reduce((p, q) => p * q, 1);

// ---- integer arithmetic on static or run-time values (int64 [1] tensors; Div truncates like ONNX Runtime's) ----

const T = (c: RuleContext, v: IV): string => (isNum(v) ? c.b.ints([v]) : v);
const iadd = (c: RuleContext, p: IV, q: IV): IV => (isNum(p) && isNum(q) ? p + q : isNum(q) && q === 0 ? p : c.b.op('Add', [T(c, p), T(c, q)]));
const isub = (c: RuleContext, p: IV, q: IV): IV => (isNum(p) && isNum(q) ? p - q : isNum(q) && q === 0 ? p : c.b.op('Sub', [T(c, p), T(c, q)]));
const imul = (c: RuleContext, p: IV, k: number): IV => (isNum(p) ? p * k : k === 1 ? p : c.b.op('Mul', [p, c.b.ints([k])]));
const idiv = (c: RuleContext, p: IV, k: number): IV => (isNum(p) ? Math.trunc(p / k) : k === 1 ? p : c.b.op('Div', [p, c.b.ints([k])]));
function imax(c: RuleContext, p: IV, q: IV): IV {
  if (isNum(p) && isNum(q)) return Math.max(p, q);
  const [a, b] = [T(c, p), T(c, q)];
  // Max takes int64 from opset 12 on; Where of Greater before.
  return c.opset >= 12 ? c.b.op('Max', [a, b]) : c.b.op('Where', [c.b.op('Greater', [a, b]), a, b]);
}

// ---- graph helpers ----

/** A node with the given attribute protos (for float attributes whose value looks like an integer). */
function emit(c: RuleContext, opType: string, inputs: string[], attribute: AttributeProto[]): string {
  const out = c.b.fresh(opType);
  c.b.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: c.b.fresh(`${opType}_node`), attribute }));
  return out;
}

const lowest = (dtype: number): number => (dtype === DT.DOUBLE ? -Number.MAX_VALUE : dtype === DT.FLOAT16 ? -65504 : -3.4028234663852886e38);

function needsOpset(c: RuleContext, opset: number, what: string): void {
  if (c.opset < opset) c.fail(`the gradient with symbolic spatial dims needs opset ${opset} or later (${what}); give the model static spatial dims`);
}

/** x padded on the spatial axes by `begin` and `end` with a constant. */
function padSpatial(c: RuleContext, x: string, begin: IV[], end: IV[], value: number): string {
  const b = c.b;
  const all = [...begin, ...end];
  if (all.every((v) => v === 0)) return x;
  const dtype = c.dtype(c.x(0));
  if (all.every(isNum)) {
    const pads = [0, 0, ...(begin as number[]), 0, 0, ...(end as number[])];
    if (c.opset >= 11) return b.op('Pad', value === 0 ? [x, b.ints(pads)] : [x, b.ints(pads), b.scalar(dtype, value)], { mode: 'constant' });
    return emit(c, 'Pad', [x], [makeAttr('mode', 'constant'), makeAttr('pads', pads), makeAttr('value', value, true)]);
  }
  needsOpset(c, 11, 'Pad with run-time pads');
  const pads = b.op('Concat', [b.ints([0, 0]), ...begin.map((v) => T(c, v)), b.ints([0, 0]), ...end.map((v) => T(c, v))], { axis: 0 });
  return b.op('Pad', value === 0 ? [x, pads] : [x, pads, b.scalar(dtype, value)], { mode: 'constant' });
}

/** x[…, starts:ends] on the spatial axes, bounds known at run time. */
function sliceSpatial(c: RuleContext, x: string, starts: IV[], ends: IV[]): string {
  needsOpset(c, 10, 'Slice with run-time bounds');
  const cat = (v: IV[]) => (v.length === 1 ? T(c, v[0]!) : c.b.op('Concat', v.map((e) => T(c, e)), { axis: 0 }));
  return c.b.slice(x, cat(starts), cat(ends), starts.map((_, i) => 2 + i));
}

/** The spatial dims of t as a 1-D int64 tensor. */
function spatialShape(c: RuleContext, t: string, r: number): string {
  const shape = c.b.op('Shape', [t]);
  return c.opset >= 10 ? c.b.slice(shape, [2], [2 + r], [0]) : c.b.op('Slice', [shape], { starts: [2], ends: [2 + r], axes: [0] });
}

/** [N, C, spatial…] → [N·C, 1, spatial…] (0 in a Reshape target copies the input's dim). */
const fold = (c: RuleContext, t: string, r: number): string => c.b.op('Reshape', [t, c.b.ints([-1, 1, ...Array(r).fill(0)])]);
const unfold = (c: RuleContext, t: string, like: string): string => c.b.op('Reshape', [t, c.b.op('Shape', [like])]);

/** Fails when a weight or bias input would need a gradient. */
function weightsInactive(c: RuleContext, inputs: [number, string][]): void {
  for (const [i, what] of inputs) {
    if (c.x(i) && c.needs(i)) c.fail(`the gradient with respect to the ${what} (input ${i}) is not supported: only the data input X is differentiated`);
  }
}

/** The spatial kernel size: the kernel_shape attribute, else the weight's dims. */
function kernelOf(c: RuleContext, r: number, weight?: string): number[] {
  const ks = attrInts(c.node, 'kernel_shape');
  if (ks && ks.length === r) return ks;
  const ws = weight ? c.shape(weight)?.slice(2) : undefined;
  if (ws && ws.length === r && ws.every(isNumDim)) return ws as number[];
  return c.fail(weight ? 'the kernel size is unknown (no kernel_shape attribute and the weight\'s shape is not static)' : 'kernel_shape is missing');
}
const isNumDim = (d: unknown): d is number => typeof d === 'number';

/** The axes of a Conv or pool on x: static when x's spatial dims are known; else pads computed at run time. */
function windowAxes(c: RuleContext, x: string, a: WindowAttrs, pool: boolean): Axis[] {
  const shape = c.shape(x);
  const r = a.kernel.length;
  return range(r).map((i): Axis => {
    const k = a.kernel[i]!, s = a.strides[i]!, d = a.dilations[i]!;
    const Dn = shape?.[2 + i];
    if (typeof Dn === 'number') return { D: Dn, k, s, d, ...windowAxis(a, i, Dn, pool) };
    const D = c.b.dim(x, 2 + i);
    let pb: IV, pe: IV;
    if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
      // need = (⌈D/s⌉ − 1)·s + k − D, split as windowAxis does
      const need = isub(c, iadd(c, imul(c, isub(c, idiv(c, iadd(c, D, s - 1), s), 1), s), k), D);
      pb = a.autoPad === 'SAME_LOWER' ? idiv(c, iadd(c, need, 1), 2) : idiv(c, need, 2);
      pe = isub(c, need, pb);
    } else if (a.autoPad === 'VALID') [pb, pe] = [0, 0];
    else [pb, pe] = [a.pads[i]!, a.pads[i + r]!];
    return { D, k, s, d, pb, pe, out: null };
  });
}

const isStatic = (ax: Axis[]): boolean => ax.every((a) => isNum(a.D) && isNum(a.pb) && a.out !== null);
const convAttrs = (ax: Axis[], group = 1) => ({
  kernel_shape: ax.map((a) => a.k), strides: ax.map((a) => a.s), dilations: ax.map((a) => a.d), group: group === 1 ? undefined : group,
});

/**
 * The window adjoint: dx[p] = Σ_{o, j : o·s + j·d − pb = p} Wⱼᵀ g[o] for p in [0, D), i.e. ConvTranspose(g, W) of the
 * same strides, dilations and group (W in ConvTranspose layout [C_g, C_out/group, k…]) from −pb, cut to D inputs.
 */
function windowAdjoint(c: RuleContext, g: string, W: string, ax: Axis[], group = 1): string {
  const b = c.b;
  const attrs = convAttrs(ax, group);
  if (isStatic(ax)) {
    // The full transposed conv covers L = (O−1)·s + (k−1)·d + 1 positions from −pb: the excess t = L − pb − D is cut
    // by the end pad; a shortfall (inputs past the last window) is filled by output_padding (below the stride).
    const t = ax.map((a) => (a.out! - 1) * a.s + (a.k - 1) * a.d + 1 - (a.pb as number) - (a.D as number));
    const op = t.map((v, i) => (-v > 0 && -v < ax[i]!.s ? -v : 0));
    const fill = t.map((v, i) => Math.max(0, -v) - op[i]!);
    const dx = b.op('ConvTranspose', [g, W], {
      ...attrs,
      pads: [...ax.map((a) => a.pb as number), ...t.map((v) => Math.max(0, v))],
      output_padding: op.some((v) => v > 0) ? op : undefined,
    });
    return padSpatial(c, dx, ax.map(() => 0), fill, 0);
  }
  // Run time: the full transposed conv, s − 1 (+1 for negative SAME end pads) zeros past it, then [pb, pb + D).
  const full = padSpatial(c, b.op('ConvTranspose', [g, W], attrs), ax.map(() => 0), ax.map((a) => (a.s > 1 ? a.s : 0)), 0);
  return sliceSpatial(c, full, ax.map((a) => a.pb), ax.map((a) => iadd(c, a.pb, a.D)));
}

/**
 * The windows of a pool over xf ([N·C, 1, spatial…]) as the channels of a Conv with `kernel` (K output channels, no
 * pads): xf is padded by the pool's pads with `padValue`, then at the end with `beyond` as far as ceil_mode's last
 * window reaches. With run-time dims and ceil_mode that may give one window more than the pool has, which is cut to
 * the cotangent's size.
 */
function windowPatches(c: RuleContext, xf: string, kernel: string, ax: Axis[], ceil: boolean, g: string, padValue: number, beyond: number): string {
  const more = ax.map((a) => {
    if (a.out !== null) return Math.max(0, (a.out - 1) * a.s + (a.k - 1) * a.d + 1 - (a.D as number) - (a.pb as number) - (a.pe as number));
    return ceil ? a.s - 1 : 0;
  });
  const none = ax.map(() => 0);
  const padded = padValue === beyond
    ? padSpatial(c, xf, ax.map((a) => a.pb), ax.map((a, i) => iadd(c, a.pe, more[i]!)), padValue)
    : padSpatial(c, padSpatial(c, xf, ax.map((a) => a.pb), ax.map((a) => a.pe), padValue), none, more, beyond);
  const patches = c.b.op('Conv', [padded, kernel], convAttrs(ax));
  if (!ceil || isStatic(ax)) return patches;
  needsOpset(c, 10, 'Slice with run-time bounds');
  return c.b.slice(patches, c.b.ints(none), spatialShape(c, g, ax.length), ax.map((_, i) => 2 + i));
}

/** The pool's axes and its input folded: x, g as [N·C, 1, spatial…]. */
function poolSetup(c: RuleContext) {
  const x = c.x(0), g = c.g(0)!;
  const r = c.rank(x) - 2;
  const a = windowAttrs(c.node, kernelOf(c, r));
  const ax = windowAxes(c, x, a, true);
  return { x, g, r, a, ax, dtype: c.dtype(x), xf: fold(c, x, r), gf: fold(c, g, r) };
}

/** The pool's p (an int; a float in LpPool-1), default 2. */
function lpP(c: RuleContext): number {
  const a = findAttr(c.node, 'p');
  if (!a) return 2;
  return a.type === onnx.AttributeProto.AttributeType.FLOAT ? Number(a.f) : Number(a.i);
}

/** Lp pools: y = (Σ|x|ᵖ)^(1/p), ∂y/∂x = sign(x)·|x|^(p−1)·y^(1−p). Returns [the factor of x, the factor of g]. */
function lpParts(c: RuleContext, ceil = false): [(s: string) => string, string] {
  const b = c.b;
  const x = c.x(0), g = c.g(0)!;
  // ONNX shape inference does not drop ceil_mode's last window as ONNX Runtime does: y is seen through g's shape.
  const y = ceil ? b.op('Reshape', [c.y(0), b.op('Shape', [g])]) : c.y(0);
  const p = lpP(c);
  const gy = p === 1 ? g : p === 2 ? b.op('Div', [g, y]) : b.op('Mul', [g, b.op('Pow', [y, c.scalar(1 - p)])]);
  const ofX = (s: string) => {
    if (p === 1) return b.op('Mul', [b.op('Sign', [x]), s]);
    if (p === 2) return b.op('Mul', [x, s]);
    return b.op('Mul', [b.op('Mul', [b.op('Sign', [x]), b.op('Pow', [b.op('Abs', [x]), c.scalar(p - 1)])]), s]);
  };
  return [ofX, gy];
}

const onesKernel = (c: RuleContext, dtype: number, kernel: number[]): string => c.b.constant(dtype, [1, 1, ...kernel], Array(prod(kernel)).fill(1));

/**
 * Stride 1 with explicit pads (the bulk of a CNN's convolutions): the adjoint is itself a convolution, of g with the
 * kernel flipped and its channel axes swapped per group, W'[c, m] = W[m, c] reversed in space, padded by
 * d·(k − 1) − p on each side, which gives exactly D outputs for any input size. ONNX Runtime's Conv is faster than
 * its ConvTranspose (1.7× on [16, 64, 56, 56] 3×3, measured), and W' is folded from the initializer once. Null when
 * the form does not apply (strides, SAME padding, pads larger than the dilated kernel, unknown weight shape, opset < 10).
 */
function strideOneAdjoint(c: RuleContext, g: string, W: string, a: WindowAttrs, group: number): string | null {
  const r = a.kernel.length;
  if (c.opset < 10 || a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER' || a.strides.some((v) => v !== 1)) return null;
  const ws = c.shape(W);
  if (!ws || !ws.every(isNumDim)) return null;
  const [M, Cg] = ws as number[];
  const pads = a.autoPad === 'VALID' ? Array(2 * r).fill(0) : a.pads;
  const reach = a.kernel.map((k, i) => a.dilations[i]! * (k - 1));
  const newPads = pads.map((p, i) => reach[i % r]! - p);
  if (newPads.some((p) => p < 0)) return null;
  const b = c.b;
  const spatial = range(r).map((i) => 2 + i);
  // [M, C/g, k…] → [g, M/g, C/g, k…] → [g, C/g, M/g, k…] → [C, M/g, k…]
  let Wt: string;
  if (group === 1) Wt = b.op('Transpose', [W], { perm: [1, 0, ...spatial] });
  else {
    const split = b.op('Reshape', [W, b.ints([group, M! / group, Cg!, ...a.kernel])]);
    const swapped = b.op('Transpose', [split], { perm: [0, 2, 1, ...range(r).map((i) => 3 + i)] });
    Wt = b.op('Reshape', [swapped, b.ints([group * Cg!, M! / group, ...a.kernel])]);
  }
  const big = 2 ** 62;
  const flipped = b.slice(Wt, spatial.map(() => -1), spatial.map(() => -big), spatial, spatial.map(() => -1));
  return b.op('Conv', [g, flipped], {
    kernel_shape: a.kernel, dilations: a.dilations, pads: newPads, group: group === 1 ? undefined : group,
  });
}

export const CONVOLUTION: Record<string, Rule> = {
  // Y = Conv(X, W) + B: X̄ = ConvTranspose(Ȳ, W) (same strides, dilations, group) from −pb, cut to X's size
  Conv: {
    diff: 'all',
    vjp: (c) => {
      weightsInactive(c, [[1, 'weight W'], [2, 'bias B']]);
      const x = c.x(0), W = c.x(1);
      const r = c.rank(x) - 2;
      const a = windowAttrs(c.node, kernelOf(c, r, W));
      const group = attrInt(c.node, 'group', 1);
      const fast = strideOneAdjoint(c, c.g(0)!, W, a, group);
      if (fast) return [fast, null, null];
      const ax = windowAxes(c, x, a, false);
      return [windowAdjoint(c, c.g(0)!, W, ax, group), null, null];
    },
  },
  // Y = ConvTranspose(X, W): X̄ = Conv(Ȳ, W) with the same strides, dilations, group and the pads ConvTranspose cut
  // (from pads, or derived from output_shape / auto_pad SAME); output_padding (below the stride) drops out of the floor.
  ConvTranspose: {
    diff: 'all',
    vjp: (c) => {
      weightsInactive(c, [[1, 'weight W'], [2, 'bias B']]);
      const b = c.b;
      const x = c.x(0), W = c.x(1), g = c.g(0)!;
      const r = c.rank(x) - 2;
      const a = windowAttrs(c.node, kernelOf(c, r, W));
      const shape = c.shape(x);
      const group = attrInt(c.node, 'group', 1);
      const outShape = attrInts(c.node, 'output_shape');
      const pads: [IV, IV][] = range(r).map((i) => {
        const D = shape?.[2 + i];
        if (typeof D === 'number') {
          const t = convTransposeAxis(c.node, a, i, D);
          return [t.pb, t.pe];
        }
        if (!outShape?.length) {
          const t = convTransposeAxis(c.node, a, i, 1); // pads, or auto_pad SAME's target D·s: independent of D
          return [t.pb, t.pe];
        }
        // total = max(0, s·(D−1) + output_padding + (k−1)·d + 1 − output_shape), split as convTransposeAxis does
        const op = attrInts(c.node, 'output_padding')?.[i] ?? 0;
        const s = a.strides[i]!, fixed = op + a.dilations[i]! * (a.kernel[i]! - 1) + 1 - s - outShape[outShape.length - r + i]!;
        const total = imax(c, iadd(c, imul(c, b.dim(x, 2 + i), s), fixed), 0);
        const half = idiv(c, total, 2);
        const pb = a.autoPad === 'SAME_UPPER' ? half : isub(c, total, half);
        return [pb, isub(c, total, pb)];
      });
      const attrs = { kernel_shape: a.kernel, strides: a.strides, dilations: a.dilations, group: group === 1 ? undefined : group };
      if (pads.every(([p, q]) => isNum(p) && isNum(q))) {
        return [b.op('Conv', [g, W], { ...attrs, pads: [...pads.map((p) => p[0] as number), ...pads.map((p) => p[1] as number)] }), null, null];
      }
      const gp = padSpatial(c, g, pads.map((p) => p[0]), pads.map((p) => p[1]), 0);
      return [b.op('Conv', [gp, W], attrs), null, null];
    },
  },
  // Ȳ to the first maximum of each window (in window scan order, as PyTorch): the windows as channels of a Conv with
  // one-hot kernels over x padded with the lowest finite value (not −inf: −inf·0 is NaN), ArgMax (the first maximum)
  // along them, and the window adjoint of Ȳ at the arg-max channel with the same kernels.
  MaxPool: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const { x, g, r, a, ax, dtype, xf, gf } = poolSetup(c);
      const K = prod(a.kernel);
      const eye = b.constant(dtype, [K, 1, ...a.kernel], range(K * K).map((i) => (Math.floor(i / K) === i % K ? 1 : 0)));
      const patches = windowPatches(c, xf, eye, ax, a.ceil, g, lowest(dtype), lowest(dtype));
      const arg = b.op('ArgMax', [patches], { axis: 1, keepdims: 1 });
      const first = b.op('Equal', [arg, b.constant(DT.INT64, [1, K, ...Array(r).fill(1)], range(K))]);
      const gm = b.op('Where', [first, gf, b.scalar(dtype, 0)]);
      return [unfold(c, windowAdjoint(c, gm, eye, ax), x)];
    },
  },
  // Ȳ/divisor spread over each window. The divisor, as ONNX Runtime's: the window positions inside the input, and
  // with count_include_pad those inside the pads too (never those past the end pad that ceil_mode adds): a Conv of
  // ones padded with ones (or zeros), then zeros.
  AveragePool: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const { x, g, r, a, ax, dtype, gf } = poolSetup(c);
      const dims = isStatic(ax) ? b.ints([1, 1, ...ax.map((e) => e.D as number)]) : b.op('Concat', [b.ints([1, 1]), spatialShape(c, x, r)], { axis: 0 });
      const ones = b.op('ConstantOfShape', [dims], { value: makeTensor('', dtype, [1], [1]) });
      const kernel = onesKernel(c, dtype, a.kernel);
      const inPads = attrInt(c.node, 'count_include_pad', 0) === 1 ? 1 : 0;
      const count = b.op('Max', [windowPatches(c, ones, kernel, ax, a.ceil, g, inPads, 0), b.scalar(dtype, 1)]);
      return [unfold(c, windowAdjoint(c, b.op('Div', [gf, count]), kernel, ax), x)];
    },
  },
  // x̄ = sign(x)·|x|^(p−1) · S̄ᵀ(ȳ·y^(1−p)), S̄ᵀ the window adjoint of a window sum (zero padding adds nothing)
  LpPool: {
    diff: [0],
    vjp: (c) => {
      const { x, r, a, ax, dtype } = poolSetup(c);
      const [ofX, gy] = lpParts(c, a.ceil);
      return [ofX(unfold(c, windowAdjoint(c, fold(c, gy, r), onesKernel(c, dtype, a.kernel), ax), x))];
    },
  },
  // ȳ/(number of spatial positions), broadcast back
  GlobalAveragePool: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const x = c.x(0);
      const spatial = c.shape(x)?.slice(2);
      const count = spatial && spatial.every(isNumDim) ? c.scalar(prod(spatial as number[]))
        : b.op('Div', [b.op('Cast', [b.op('Size', [x])], { to: c.dtype(x) }), b.op('Cast', [b.op('Size', [c.y(0)])], { to: c.dtype(x) })]);
      return [b.op('Expand', [b.op('Div', [c.g(0)!, count]), b.op('Shape', [x])])];
    },
  },
  // ȳ to the first maximum of each channel: ArgMax over the flattened spatial axes, scattered back
  GlobalMaxPool: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const x = c.x(0);
      const flat = b.op('Reshape', [x, b.ints([0, 0, -1])]);
      const arg = b.op('ArgMax', [flat], { axis: 2, keepdims: 1 });
      const gf = b.op('Reshape', [c.g(0)!, b.ints([0, 0, 1])]);
      const scatter = c.opset >= 11 ? 'ScatterElements' : 'Scatter';
      return [unfold(c, b.op(scatter, [b.zerosLike(flat, c.dtype(x)), arg, gf], { axis: 2 }), x)];
    },
  },
  // y = (Σ|x|ᵖ)^(1/p) over the spatial axes: x̄ = sign(x)·|x|^(p−1)·ȳ·y^(1−p)
  GlobalLpPool: {
    diff: [0],
    vjp: (c) => {
      const [ofX, gy] = lpParts(c);
      return [ofX(gy)];
    },
  },
};
