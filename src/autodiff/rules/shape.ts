import { attrInt, attrInts, attrString } from '../../onnx/attributes.js';
import { DT, makeTensor } from '../../onnx/tensor.js';
import { normalizeAxis } from '../../graph/dims.js';
import { sliceRange } from '../../graph/shapes.js';
import type { Rule, RuleContext } from '../rule.js';
import { unary } from './common.js';

/* Shape and data movement: transposes, reshapes, concatenation, slicing, gathers, tiling, padding, Trilu. */

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
  // Constant padding: the adjoint crops, i.e. pads by the negated amounts
  Pad: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const mode = attrString(c.node, 'mode') ?? 'constant';
      if (mode !== 'constant') c.fail(`the gradient of Pad mode "${mode}" is not supported (only "constant")`);
      const pads = c.opset >= 11 ? b.op('Neg', [c.x(1)]) : b.ints((attrInts(c.node, 'pads') ?? []).map((p) => -p));
      const inputs = [c.g(0)!, pads, ''];
      if (c.x(3)) inputs.push(c.x(3));
      return [b.op('Pad', inputs.length === 3 ? inputs.slice(0, 2) : inputs, { mode: 'constant' })];
    },
  },
  Trilu: unary((c, g) => c.b.op('Trilu', c.x(1) ? [g, c.x(1)] : [g], { upper: attrInt(c.node, 'upper', 1) })),
};

/**
 * Slice gradient: scatter g into zeros of x's shape. With constant bounds and known dims the selected indices are
 * computed here and scattered along each sliced axis; step-1 slices otherwise pad at run time.
 */
function sliceGrad(c: RuleContext): string {
  const b = c.b;
  const x = c.x(0);
  const xShape = c.shape(x);
  const rank = c.rank(x);
  const starts = c.value(c.x(1)), ends = c.value(c.x(2));
  const axes = (c.x(3) ? c.value(c.x(3)) : starts?.map((_, i) => i))?.map((a) => normalizeAxis(a, rank));
  const steps = c.x(4) ? c.value(c.x(4)) : starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps) c.fail('the gradient of Slice needs constant starts, ends, axes and steps');
  // Walk the sliced axes from last to first, undoing one axis at a time (g has the sliced shape on earlier axes).
  let g = c.g(0)!;
  for (let k = axes.length - 1; k >= 0; k--) {
    const axis = axes[k]!, step = steps[k]!;
    const dim = xShape?.[axis];
    if (typeof dim === 'number') {
      const picked = sliceRange(dim, starts[k]!, ends[k]!, step);
      if (picked.length === dim && step === 1) continue;
      // The data to scatter into has x's shape on this axis and g's shape elsewhere: build it as zeros.
      const indices = b.constant(DT.INT64, [picked.length], picked);
      g = scatterAlong(c, g, indices, axis, dim, rank);
    } else if (step === 1) {
      // Pad g back to x's size: before = clamp(start), after = dim − clamp(end).
      const dimT = b.dim(x, axis);
      // Max/Min take int64 from opset 12 on; Where of Less/Greater before.
      const max = (p: string, q: string) => (c.opset >= 12 ? b.op('Max', [p, q]) : b.op('Where', [b.op('Less', [p, q]), q, p]));
      const min = (p: string, q: string) => (c.opset >= 12 ? b.op('Min', [p, q]) : b.op('Where', [b.op('Greater', [p, q]), q, p]));
      const clampIdx = (v: number) => {
        // INT64_MAX reads as 2^63, which would wrap to INT64_MIN when written back: any bound ≥ 2^62 clamps alike.
        const t = v < 0 ? b.op('Add', [dimT, b.ints([v])]) : b.ints([Math.min(v, 2 ** 62)]);
        return min(max(t, b.ints([0])), dimT);
      };
      const before = clampIdx(starts[k]!);
      const after = b.op('Sub', [dimT, max(clampIdx(ends[k]!), before)]);
      const pads = Array.from({ length: 2 * rank }, (_, i) => (i === axis ? before : i === rank + axis ? after : b.ints([0])));
      g = b.op('Pad', [g, b.op('Concat', pads, { axis: 0 })], { mode: 'constant' });
    } else c.fail(`the gradient of Slice with step ${step} on an axis of unknown size is not supported`);
  }
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
