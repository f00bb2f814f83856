import { attrInt } from '../../onnx/attributes.js';
import { normalizeAxis } from '../../graph/dims.js';
import { AXES_AS_INPUT_SINCE } from '../../graph/shapes.js';
import type { Rule, RuleContext } from '../rule.js';
import { mul } from './common.js';

/* Reductions and scans: Reduce*, CumSum. */

export const REDUCTION: Record<string, Rule> = {
  // ȳ broadcast back over the reduced axes
  ReduceSum: { diff: [0], vjp: (c) => [expandReduced(c, c.g(0)!)] },
  // x̄ = ȳ at the elements that equal the max (min), split evenly among ties (PyTorch's amax/amin)
  ReduceMax: { diff: [0], vjp: (c) => [extremumGrad(c)] },
  ReduceMin: { diff: [0], vjp: (c) => [extremumGrad(c)] },
  ReduceMean: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const count = b.op('Div', [b.op('Cast', [b.op('Size', [c.x(0)])], { to: c.dtype(c.x(0)) }), b.op('Cast', [b.op('Size', [c.y(0)])], { to: c.dtype(c.x(0)) })]);
      return [expandReduced(c, b.op('Div', [c.g(0)!, count]))];
    },
  },
  CumSum: {
    diff: [0],
    vjp: (c) => [c.b.op('CumSum', [c.g(0)!, c.x(1)], { exclusive: attrInt(c.node, 'exclusive', 0), reverse: 1 - attrInt(c.node, 'reverse', 0) })],
  },
};

/** Reduce* gradient: put the reduced axes back (keepdims=0) and expand ȳ to the input's shape. */
function extremumGrad(c: RuleContext): string {
  const b = c.b;
  const x = c.x(0);
  const axes = c.axes();
  const runtimeAxes = axes === undefined && c.opset >= (AXES_AS_INPUT_SINCE[c.node.opType!] ?? Infinity) && c.x(1) ? c.x(1) : undefined;
  if (axes && axes.length === 0 && attrInt(c.node, 'noop_with_empty_axes', 0) === 1) return c.g(0)!;
  const reduced = runtimeAxes ?? (axes && axes.length > 0 ? axes : Array.from({ length: c.rank(x) }, (_, i) => i));
  const mask = b.op('Cast', [b.op('Equal', [x, expandReduced(c, c.y(0))])], { to: c.dtype(x) });
  const ties = b.reduce('ReduceSum', mask, reduced, true);
  return b.op('Div', [mul(c, mask, expandReduced(c, c.g(0)!)), ties]);
}

function expandReduced(c: RuleContext, g: string): string {
  const b = c.b;
  const x = c.x(0);
  const keep = attrInt(c.node, 'keepdims', 1) === 1;
  let axes = c.axes();
  const runtimeAxes = axes === undefined && c.opset >= (AXES_AS_INPUT_SINCE[c.node.opType!] ?? Infinity) && c.x(1) ? c.x(1) : undefined;
  if (axes === undefined && runtimeAxes === undefined) axes = []; // all axes
  const noop = attrInt(c.node, 'noop_with_empty_axes', 0) === 1;
  if (axes && axes.length === 0 && noop) return g;
  let gk = g;
  if (!keep && axes && axes.length > 0) {
    const rank = c.rank(x);
    gk = b.unsqueeze(g, [...axes].map((a) => normalizeAxis(a, rank)).sort((p, q) => p - q));
  } else if (!keep && runtimeAxes) {
    gk = b.unsqueeze(g, runtimeAxes);
  }
  return b.op('Expand', [gk, b.op('Shape', [x])]);
}
