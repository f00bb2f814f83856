import type { Builder } from '../graph/builder.js';
import { type Shape, sameDim, sameShape } from '../graph/dims.js';
import { DT, makeTensor } from '../onnx/tensor.js';

/**
 * Sums a gradient computed in a broadcast shape back to the shape of the operand it belongs to (the adjoint of
 * numpy broadcasting). Decided statically where the shapes allow; where a dim is unknown, the reduced axes are
 * computed at run time from Shape(grad) and Shape(x).
 */
export function unbroadcast(b: Builder, grad: string, gShape: Shape | null, x: string, xShape: Shape | null): string {
  if (sameShape(gShape, xShape)) return grad;
  if (gShape && xShape && gShape.length >= xShape.length) {
    const lead = gShape.length - xShape.length;
    const axes: number[] = Array.from({ length: lead }, (_, i) => i);
    const uncertain: number[] = [];
    xShape.forEach((xd, i) => {
      const gd = gShape[lead + i]!;
      if (xd === 1) {
        if (gd !== 1) axes.push(lead + i);
      } else if (typeof xd !== 'number' && !sameDim(xd, gd) && gd !== 1) uncertain.push(lead + i);
    });
    if (uncertain.length === 0) {
      if (axes.length === 0) return grad;
      const summed = b.reduce('ReduceSum', grad, axes, true);
      return lead === 0 ? summed : b.squeeze(summed, axes.slice(0, lead));
    }
    if (b.opset < 13) return unbroadcastPerAxis(b, grad, axes, uncertain, lead, x);
  }
  if (b.opset < 13) throw new Error(`cannot reduce a broadcast gradient to the shape of ${x}: its rank is unknown (opset ${b.opset} < 13)`);
  return unbroadcastAtRunTime(b, grad, x);
}

/** Opset ≥ 13: axes = positions where Shape(x), left-padded with ones, differs from Shape(grad). */
function unbroadcastAtRunTime(b: Builder, grad: string, x: string): string {
  const sx = b.op('Shape', [x]);
  const sg = b.op('Shape', [grad]);
  const lead = b.op('Sub', [b.op('Shape', [sg]), b.op('Shape', [sx])]);
  const padded = b.op('Concat', [b.op('ConstantOfShape', [lead], { value: oneInt64() }), sx], { axis: 0 });
  const differs = b.op('Not', [b.op('Equal', [padded, sg])]);
  const axes = b.op('Reshape', [b.op('NonZero', [differs]), b.ints([-1])]);
  const summed = b.op('ReduceSum', [grad, axes], { keepdims: 1, noop_with_empty_axes: 1 });
  return b.op('Reshape', [summed, sx]);
}

/**
 * Opset < 13 (ReduceSum axes must be attributes): for each axis whose size is unknown, sum it anyway and pick,
 * at run time, the summed or the original values by whether x has size 1 there.
 */
function unbroadcastPerAxis(b: Builder, grad: string, certain: number[], uncertain: number[], lead: number, x: string): string {
  let g = certain.length > 0 ? b.reduce('ReduceSum', grad, certain, true) : grad;
  for (const axis of uncertain) {
    const xDim = b.dim(x, axis - lead);
    const isOne = b.op('Equal', [xDim, b.ints([1])]);
    const picked = b.op('Where', [isOne, b.reduce('ReduceSum', g, [axis], true), g]);
    // The first xDim entries along the axis (Slice takes run-time bounds from opset 10 on; before, Gather 0…xDim−1)
    g = b.opset >= 10 ? b.slice(picked, [0], xDim, [axis]) : b.op('Gather', [picked, firstIndices(b, xDim)], { axis });
  }
  return lead === 0 ? g : b.squeeze(g, Array.from({ length: lead }, (_, i) => i));
}

/** 0, 1, …, n − 1 for a run-time n (a 1-D int64 tensor of length 1), without Range (opset 11): NonZero of n ones. */
function firstIndices(b: Builder, n: string): string {
  if (b.opset < 9) throw new Error(`cannot reduce a broadcast gradient along an axis of unknown size before opset 9 (opset ${b.opset})`);
  return b.op('Reshape', [b.op('NonZero', [b.op('ConstantOfShape', [n], { value: oneInt64() })]), b.ints([-1])]);
}

/** ConstantOfShape's value attribute: a one-element int64 tensor holding 1. */
const oneInt64 = () => makeTensor('', DT.INT64, [1], [1]);
