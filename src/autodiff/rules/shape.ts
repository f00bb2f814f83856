import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { DT, makeTensor } from '../../onnx/tensor.js';
import { normalizeAxis } from '../../graph/dims.js';
import { sliceRange } from '../../graph/shapes.js';
import type { Rule, RuleContext } from '../rule.js';
import { unary } from './common.js';
import { adjointAlong, iota, oneHot } from './resampling.js';

/* Shape and data movement: transposes, reshapes, concatenation, slicing, gathers, tiling, padding, depth/space, Trilu. */

/** Gradient of a gather along `axis` with `indices`: scatter-add g into zeros shaped like the data. */
function scatterAdd(c: RuleContext, g: string, data: string, indices: string, axis: number, unique: boolean): string {
  const b = c.b;
  const rank = c.rank(data);
  const idxRank = c.rank(indices);
  // Move the gathered axis to the front of the data and the index dims to the front of g.
  const dataPerm = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const gPerm = [
    ...Array.from({ length: idxRank }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: rank - axis - 1 }, (_, i) => axis + idxRank + i),
  ];
  const identity = (p: number[]) => p.every((v, i) => v === i);
  const dataT = identity(dataPerm) ? data : b.op('Transpose', [data], { perm: dataPerm });
  const gT = identity(gPerm) ? g : b.op('Transpose', [g], { perm: gPerm });
  const dim = b.squeeze(b.dim(data, axis), [0]);
  const wrapped = b.op('Where', [b.op('Less', [indices, b.constant(c.dtype(indices), [], [0])]), b.op('Add', [indices, b.op('Cast', [dim], { to: c.dtype(indices) })]), indices]);
  const idx = b.unsqueeze(b.op('Cast', [wrapped], { to: DT.INT64 }), [-1]);
  const zeros = b.zerosLike(dataT, c.dtype(data));
  let out: string;
  if (unique) out = b.op('ScatterND', [zeros, idx, gT]);
  else if (c.opset >= 16) out = b.op('ScatterND', [zeros, idx, gT], { reduction: 'add' });
  else c.fail('the gradient of a Gather with repeated indices needs opset 16 (ScatterND reduction=add)');
  const inverse = dataPerm.map((_, i) => dataPerm.indexOf(i));
  return identity(dataPerm) ? out : b.op('Transpose', [out], { perm: inverse });
}

export const SHAPE: Record<string, Rule> = {
  Transpose: unary((c, g) => {
    const rank = c.rank(c.x(0));
    const perm = attrInts(c.node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    return c.b.op('Transpose', [g], { perm: perm.map((_, i) => perm.indexOf(i)) });
  }),
  Reshape: unary((c, g) => c.b.op('Reshape', [g, c.b.op('Shape', [c.x(0)])])),
  Flatten: unary((c, g) => c.b.op('Reshape', [g, c.b.op('Shape', [c.x(0)])])),
  Squeeze: unary((c, g) => c.b.op('Reshape', [g, c.b.op('Shape', [c.x(0)])])),
  Unsqueeze: unary((c, g) => c.b.op('Reshape', [g, c.b.op('Shape', [c.x(0)])])),
  Expand: { diff: [0], vjp: (c) => [c.broadcast(c.g(0)!)] },
  Concat: {
    diff: 'all',
    vjp: (c) => {
      const b = c.b;
      const inputs = (c.node.input ?? []).map((_, i) => c.x(i));
      const axis = normalizeAxis(attrInt(c.node, 'axis', 0), c.rank(c.y(0)));
      let start: string | number = 0;
      return inputs.map((x, i) => {
        const size = c.shape(x)?.[axis];
        const end: string | number = typeof size === 'number' && typeof start === 'number' ? start + size
          : b.op('Add', [typeof start === 'number' ? b.ints([start]) : start, b.dim(x, axis)]);
        const part = c.needs(i) ? b.slice(c.g(0)!, typeof start === 'number' ? [start] : start, typeof end === 'number' ? [end] : end, [axis]) : null;
        start = end;
        return part;
      });
    },
  },
  Split: {
    diff: [0],
    vjp: (c) => {
      const outs = (c.node.output ?? []).map((_, i) => c.gOrZeros(i));
      const axis = attrInt(c.node, 'axis', 0);
      return [c.b.op('Concat', outs, { axis })];
    },
  },
  Slice: {
    diff: [0],
    vjp: (c) => [sliceGrad(c)],
  },
  // ȳ scattered back to the gathered elements: ScatterElements(zeros, indices, g) along the axis, adding repeats
  // (reduction=add from opset 16; before, indices must not repeat along the axis, as each element is written once).
  GatherElements: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const data = c.x(0);
      const axis = attrInt(c.node, 'axis', 0);
      const zeros = b.zerosLike(data, c.dtype(data));
      const dim = b.op('Cast', [b.squeeze(b.dim(data, normalizeAxis(axis, c.rank(data))), [0])], { to: c.dtype(c.x(1)) });
      const idx = b.op('Where', [b.op('Less', [c.x(1), b.constant(c.dtype(c.x(1)), [], [0])]), b.op('Add', [c.x(1), dim]), c.x(1)]);
      return [c.opset >= 16
        ? b.op('ScatterElements', [zeros, idx, c.g(0)!], { axis, reduction: 'add' })
        : b.op('ScatterElements', [zeros, idx, c.g(0)!], { axis })];
    },
  },
  Gather: {
    diff: [0],
    vjp: (c) => {
      const data = c.x(0), indices = c.x(1);
      const axis = normalizeAxis(attrInt(c.node, 'axis', 0), c.rank(data));
      const known = c.value(indices);
      const unique = !!known && new Set(known).size === known.length && known.every((v) => v >= 0);
      return [scatterAdd(c, c.g(0)!, data, indices, axis, unique)];
    },
  },
  // Tile: sum the copies, seen through a reshape to [r₀, d₀, r₁, d₁, …]
  Tile: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const x = c.x(0);
      const reps = c.value(c.x(1)) ?? c.fail('the gradient of Tile needs constant repeats');
      const dims = reps.flatMap((r, i) => [b.ints([r]), b.dim(x, i)]);
      const split = b.op('Reshape', [c.g(0)!, b.op('Concat', dims, { axis: 0 })]);
      return [b.op('Reshape', [b.reduce('ReduceSum', split, reps.map((_, i) => 2 * i), true), b.op('Shape', [x])])];
    },
  },
  // Constant padding: the adjoint crops, i.e. pads by the negated amounts. Reflect, edge and wrap: per padded axis
  // an index map src(o) into the input, x̄ = Mᵀ·g along the axis with M[o, i] = (src(o) = i).
  Pad: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const mode = attrString(c.node, 'mode') ?? 'constant';
      if (mode === 'reflect' || mode === 'edge' || mode === 'wrap') return [padIndexGrad(c, mode)];
      if (mode !== 'constant') c.fail(`the gradient of Pad mode "${mode}" is not supported`);
      // Pad-2 (opset < 11) takes the pads as an attribute
      if (c.opset < 11) return [b.op('Pad', [c.g(0)!], { mode: 'constant', pads: (attrInts(c.node, 'pads') ?? []).map((p) => -p) })];
      const inputs = [c.g(0)!, b.op('Neg', [c.x(1)]), ''];
      if (c.x(3)) inputs.push(c.x(3));
      return [b.op('Pad', inputs.length === 3 ? inputs.slice(0, 2) : inputs, { mode: 'constant' })];
    },
  },
  // DepthToSpace DCR and SpaceToDepth permute elements inversely to each other. CRD, undone by hand:
  // g [N, C, H·b, W·b] → [N, C, H, b, W, b] → (transpose) [N, C, b, b, H, W] → x's shape [N, C·b·b, H, W].
  DepthToSpace: unary((c, g) => {
    const b = c.b;
    const bs = attrInt(c.node, 'blocksize') ?? c.fail('DepthToSpace without blocksize');
    if ((attrString(c.node, 'mode') ?? 'DCR') === 'DCR') return b.op('SpaceToDepth', [g], { blocksize: bs });
    if (attrString(c.node, 'mode') !== 'CRD') c.fail(`the gradient of DepthToSpace mode "${attrString(c.node, 'mode')}" is not supported`);
    const split = b.op('Reshape', [g, b.op('Concat', [b.ints([0, 0, -1, bs]), b.dim(c.x(0), 3), b.ints([bs])], { axis: 0 })]);
    return b.op('Reshape', [b.op('Transpose', [split], { perm: [0, 1, 3, 5, 2, 4] }), b.op('Shape', [c.x(0)])]);
  }),
  SpaceToDepth: unary((c, g) => c.b.op('DepthToSpace', [g], { blocksize: attrInt(c.node, 'blocksize') ?? c.fail('SpaceToDepth without blocksize') })),
  Trilu: unary((c, g) => c.b.op('Trilu', c.x(1) ? [g, c.x(1)] : [g], { upper: attrInt(c.node, 'upper', 1) })),
};

/**
 * Slice gradient: scatter g into zeros of x's shape. With constant bounds and known dims the selected indices are
 * computed here and scattered along each sliced axis; step-1 slices otherwise pad at run time. Before opset 11
 * (no ScatterND, pads as attribute), and for other steps on axes of unknown size, g goes back through the one-hot
 * matrix of the index map src(o) = start + o·step along the axis. Slice-1 (opset < 10) has attribute bounds.
 */
function sliceGrad(c: RuleContext): string {
  const b = c.b;
  const x = c.x(0);
  const xShape = c.shape(x);
  const rank = c.rank(x);
  const legacy = c.opset < 10;
  const starts = legacy ? attrInts(c.node, 'starts') : c.value(c.x(1));
  const ends = legacy ? attrInts(c.node, 'ends') : c.value(c.x(2));
  const axesGiven = legacy ? !!attrInts(c.node, 'axes') : !!c.x(3);
  const axes = (axesGiven ? (legacy ? attrInts(c.node, 'axes') : c.value(c.x(3))) : starts?.map((_, i) => i))?.map((a) => normalizeAxis(a, rank));
  const steps = !legacy && c.x(4) ? c.value(c.x(4)) : starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps) c.fail('the gradient of Slice needs constant starts, ends, axes and steps');
  // Max/Min take int64 from opset 12 on; Where of Less/Greater before.
  const max = (p: string, q: string) => (c.opset >= 12 ? b.op('Max', [p, q]) : b.op('Where', [b.op('Less', [p, q]), q, p]));
  const min = (p: string, q: string) => (c.opset >= 12 ? b.op('Min', [p, q]) : b.op('Where', [b.op('Greater', [p, q]), q, p]));
  // INT64_MAX reads as 2^63, which would wrap to INT64_MIN when written back: any bound ≥ 2^62 clamps alike.
  const bound = (v: number, dimT: string) => (v < 0 ? b.op('Add', [dimT, b.ints([v])]) : b.ints([Math.min(v, 2 ** 62)]));
  // Walk the sliced axes from last to first, undoing one axis at a time (g has the sliced shape on earlier axes).
  let g = c.g(0)!;
  for (let k = axes.length - 1; k >= 0; k--) {
    const axis = axes[k]!, step = steps[k]!;
    const dim = xShape?.[axis];
    if (typeof dim === 'number') {
      const picked = sliceRange(dim, starts[k]!, ends[k]!, step);
      if (picked.length === dim && step === 1) continue;
      if (c.opset >= 11) {
        // The data to scatter into has x's shape on this axis and g's shape elsewhere: build it as zeros.
        const indices = b.constant(DT.INT64, [picked.length], picked);
        g = scatterAlong(c, g, indices, axis, dim, rank);
      } else if (step === 1 && picked.length > 0) {
        const pads = Array<number>(2 * rank).fill(0);
        pads[axis] = picked[0]!;
        pads[rank + axis] = dim - 1 - picked[picked.length - 1]!;
        g = b.op('Pad', [g], { mode: 'constant', pads });
      } else g = adjointAlong(c, g, oneHot(c, b.constant(DT.INT64, [picked.length], picked), b.ints([dim]), c.dtype(x)), axis, rank);
    } else if (step === 1 && c.opset >= 11) {
      // Pad g back to x's size: before = clamp(start), after = dim − clamp(end).
      const dimT = b.dim(x, axis);
      const clampIdx = (v: number) => min(max(bound(v, dimT), b.ints([0])), dimT);
      const before = clampIdx(starts[k]!);
      const after = b.op('Sub', [dimT, max(clampIdx(ends[k]!), before)]);
      const pads = Array.from({ length: 2 * rank }, (_, i) => (i === axis ? before : i === rank + axis ? after : b.ints([0])));
      g = b.op('Pad', [g, b.op('Concat', pads, { axis: 0 })], { mode: 'constant' });
    } else {
      // src(o) = s + o·step, s the start clamped to [0, dim] (step > 0) or [0, dim − 1] (step < 0)
      const dimT = b.dim(x, axis);
      const s = min(max(bound(starts[k]!, dimT), b.ints([0])), step > 0 ? dimT : b.op('Sub', [dimT, b.ints([1])]));
      const src = b.op('Add', [s, b.op('Mul', [iota(c, b.dim(g, axis)), b.ints([step])])]);
      g = adjointAlong(c, g, oneHot(c, src, dimT, c.dtype(x)), axis, rank);
    }
  }
  return g;
}

/**
 * Pad modes reflect, edge and wrap. Per padded axis, output o reads the input at src(o): with p = o − max(before, 0)
 * in the kept part of length len (negative pads crop first, then the positive ones pad the cropped input):
 *   edge: clamp(p, 0, len − 1)   wrap: p mod len   reflect: min(t, P − t), t = p mod P, P = 2(len − 1)
 * plus the cropped-off start. The index arithmetic runs in double (exact for any real size); x̄ = Mᵀ·g per axis.
 */
function padIndexGrad(c: RuleContext, mode: 'reflect' | 'edge' | 'wrap'): string {
  const b = c.b;
  const x = c.x(0);
  const rank = c.rank(x);
  const attrPads = c.opset < 11 ? attrInts(c.node, 'pads') ?? c.fail('Pad without pads') : undefined;
  const pads = attrPads ?? c.value(c.x(1));
  let axes = Array.from({ length: rank }, (_, i) => i);
  if (c.opset >= 18 && c.x(3)) axes = (c.value(c.x(3)) ?? c.fail(`the gradient of Pad mode "${mode}" needs constant axes`)).map((a) => normalizeAxis(a, rank));
  const n = axes.length;
  const dbl = (t: string) => b.op('Cast', [t], { to: DT.DOUBLE });
  const amount = (j: number) => (pads ? b.constant(DT.DOUBLE, [1], [pads[j]!]) : dbl(b.op('Gather', [c.x(1), b.ints([j])], { axis: 0 })));
  const zero = b.scalar(DT.DOUBLE, 0), one = b.scalar(DT.DOUBLE, 1);
  const mod = (p: string, m: string) => b.op('Sub', [p, b.op('Mul', [b.op('Floor', [b.op('Div', [p, m])]), m])]);
  let g = c.g(0)!;
  axes.forEach((axis, k) => {
    if (pads && pads[k] === 0 && pads[k + n] === 0) return;
    const before = amount(k), after = amount(k + n);
    const cropBefore = b.op('Max', [b.op('Neg', [before]), zero]);
    const inLen = b.dim(x, axis);
    const len = b.op('Sub', [b.op('Sub', [dbl(inLen), cropBefore]), b.op('Max', [b.op('Neg', [after]), zero])]);
    const p = b.op('Sub', [dbl(iota(c, b.dim(g, axis))), b.op('Max', [before, zero])]);
    let src: string;
    if (mode === 'edge') src = b.op('Min', [b.op('Max', [p, zero]), b.op('Sub', [len, one])]);
    else if (mode === 'wrap') src = mod(p, len);
    else {
      const period = b.op('Max', [b.op('Mul', [b.op('Sub', [len, one]), b.scalar(DT.DOUBLE, 2)]), one]);
      const t = mod(p, period);
      src = b.op('Min', [t, b.op('Sub', [period, t])]);
    }
    const idx = b.op('Cast', [b.op('Add', [src, cropBefore])], { to: DT.INT64 });
    g = adjointAlong(c, g, oneHot(c, idx, inLen, c.dtype(x)), axis, rank);
  });
  return g;
}

/** Scatter g (size len(indices) along `axis`) into zeros of size `dim` along that axis; indices are unique. */
function scatterAlong(c: RuleContext, g: string, indices: string, axis: number, dim: number, rank: number): string {
  const b = c.b;
  const perm = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const identity = axis === 0;
  const gT = identity ? g : b.op('Transpose', [g], { perm });
  // zeros shaped [dim, …rest of gT]
  const rest = b.slice(b.op('Shape', [gT]), [1], [2 ** 31 - 1], [0]);
  const zerosShape = b.op('Concat', [b.ints([dim]), rest], { axis: 0 });
  const zeros = b.op('ConstantOfShape', [zerosShape], { value: makeTensor('', c.dtype(c.x(0)), [1], [0]) });
  const out = b.op('ScatterND', [zeros, b.unsqueeze(indices, [-1]), gT]);
  return identity ? out : b.op('Transpose', [out], { perm: perm.map((_, i) => perm.indexOf(i)) });
}
