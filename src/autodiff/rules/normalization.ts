import { attrFloat, attrInt } from '../../onnx/attributes.js';
import { normalizeAxis } from '../../graph/dims.js';
import type { Rule, RuleContext } from '../rule.js';
import { mul } from './common.js';

/* Normalisations: Softmax, LogSoftmax, LayerNormalization. */

/** Index lists of every input axis: a softmax over `axis` (opset < 13: over all axes from `axis` on). */
function softmaxAxes(c: RuleContext): number[] {
  const rank = c.rank(c.x(0));
  const axis = normalizeAxis(attrInt(c.node, 'axis', c.opset >= 13 ? -1 : 1), rank);
  return c.opset >= 13 ? [axis] : Array.from({ length: rank - axis }, (_, i) => axis + i);
}

/** A LayerNorm node's normalised axes, x − mean(x) and 1/√(var(x) + ε), in the backward graph (lrp.ts reuses them). */
export function layerNormParts(c: RuleContext): { axes: number[]; centered: string; r: string } {
  const b = c.b;
  const x = c.x(0);
  const rank = c.rank(x);
  const axis = normalizeAxis(attrInt(c.node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  const eps = attrFloat(c.node, 'epsilon', 1e-5);
  const centered = b.op('Sub', [x, b.reduce('ReduceMean', x, axes, true)]);
  const variance = b.reduce('ReduceMean', mul(c, centered, centered), axes, true);
  const r = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, c.scalar(eps)])])]);
  return { axes, centered, r };
}

export const NORMALIZATION: Record<string, Rule> = {
  Softmax: {
    diff: [0],
    // x̄ = y ⊙ (g − Σ_axis g⊙y)
    vjp: (c) => {
      const y = c.y(0), g = c.g(0)!;
      const s = c.b.reduce('ReduceSum', mul(c, g, y), softmaxAxes(c), true);
      return [mul(c, y, c.b.op('Sub', [g, s]))];
    },
  },
  LogSoftmax: {
    diff: [0],
    // x̄ = g − exp(y) · Σ_axis g
    vjp: (c) => {
      const g = c.g(0)!;
      const s = c.b.reduce('ReduceSum', g, softmaxAxes(c), true);
      return [c.b.op('Sub', [g, mul(c, c.b.op('Exp', [c.y(0)]), s)])];
    },
  },
  // y = x̂γ + β, x̂ = (x − μ)·r, r = 1/√(σ² + ε); x̄ = r·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)), ĝ = g⊙γ
  LayerNormalization: {
    diff: [0],
    vjp: (c) => {
      const { axes, centered, r } = layerNormParts(c);
      const b = c.b;
      const xhat = mul(c, centered, r);
      const gh = mul(c, c.g(0)!, c.x(1));
      const inner = b.op('Sub', [b.op('Sub', [gh, b.reduce('ReduceMean', gh, axes, true)]), mul(c, xhat, b.reduce('ReduceMean', mul(c, gh, xhat), axes, true))]);
      return [mul(c, r, inner)];
    },
  },
};
