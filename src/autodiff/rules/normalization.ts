import { attrFloat, attrInt } from '../../onnx/attributes.js';
import { normalizeAxis } from '../../graph/dims.js';
import type { Rule, RuleContext } from '../rule.js';
import { mul } from './common.js';

/* Normalisations: Softmax, LogSoftmax, LayerNormalization, BatchNormalization (inference), InstanceNormalization,
 * GroupNormalization, LpNormalization. */

/** Index lists of every input axis: a softmax over `axis` (opset < 13: over all axes from `axis` on). */
function softmaxAxes(c: RuleContext): number[] {
  const rank = c.rank(c.x(0));
  const axis = normalizeAxis(attrInt(c.node, 'axis', c.opset >= 13 ? -1 : 1), rank);
  return c.opset >= 13 ? [axis] : Array.from({ length: rank - axis }, (_, i) => axis + i);
}

/** x − mean(x) and r = 1/√(var(x) + ε) over the given axes (kept as size 1), in the backward graph. */
function normStats(c: RuleContext, x: string, axes: number[], eps: number): { centered: string; r: string } {
  const b = c.b;
  const centered = b.op('Sub', [x, b.reduce('ReduceMean', x, axes, true)]);
  const variance = b.reduce('ReduceMean', mul(c, centered, centered), axes, true);
  const r = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, c.scalar(eps)])])]);
  return { centered, r };
}

/** The VJP of x̂ = (x − μ)·r normalised over `axes`, given ĝ = ∂L/∂x̂: x̄ = r·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)). */
function normVjp(c: RuleContext, axes: number[], centered: string, r: string, gh: string): string {
  const b = c.b;
  const xhat = mul(c, centered, r);
  const inner = b.op('Sub', [b.op('Sub', [gh, b.reduce('ReduceMean', gh, axes, true)]), mul(c, xhat, b.reduce('ReduceMean', mul(c, gh, xhat), axes, true))]);
  return mul(c, r, inner);
}

/** A LayerNorm node's normalised axes, x − mean(x) and 1/√(var(x) + ε), in the backward graph (lrp.ts reuses them). */
export function layerNormParts(c: RuleContext): { axes: number[]; centered: string; r: string } {
  const x = c.x(0);
  const rank = c.rank(x);
  const axis = normalizeAxis(attrInt(c.node, 'axis', -1), rank);
  const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
  return { axes, ...normStats(c, x, axes, attrFloat(c.node, 'epsilon', 1e-5)) };
}

/** Refuses gradients with respect to the parameter inputs 1, 2, … (weights: scale, bias, statistics). */
function dataInputOnly(c: RuleContext, params: string[]): void {
  params.forEach((p, k) => {
    if (c.needs(k + 1)) c.fail(`no gradient with respect to ${p} (input ${k + 1}, ${c.x(k + 1)}): only the data input X is differentiated; ${p} must not depend on --wrt`);
  });
}

/** A per-channel [C] tensor shaped [C, 1, …, 1] to broadcast against an input of the given rank with channels on axis 1. */
function perChannel(c: RuleContext, t: string, rank: number): string {
  return rank > 2 ? c.b.unsqueeze(t, Array.from({ length: rank - 2 }, (_, i) => i + 1)) : t;
}

/** t (of the element type of the value `from`) in the element type of the value `like`. */
function castLike(c: RuleContext, t: string, from: string, like: string): string {
  return c.dtype(from) === c.dtype(like) ? t : c.b.op('Cast', [t], { to: c.dtype(like) });
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
      return [normVjp(c, axes, centered, r, mul(c, c.g(0)!, c.x(1)))];
    },
  },
  // Inference mode: y = (x − mean)·s + B, s = scale/√(var + ε) per channel (axis 1); x̄ = g·s
  BatchNormalization: {
    diff: 'all',
    vjp: (c) => {
      dataInputOnly(c, ['scale', 'B', 'mean', 'var']);
      const training = attrInt(c.node, 'training_mode', 0) === 1 || (c.node.output ?? []).slice(1).some((o) => o);
      if (training) c.fail('training mode (training_mode = 1, or the running-statistics outputs) is not supported: Y then uses the batch statistics; export the model in inference (eval) mode');
      if (attrInt(c.node, 'spatial', 1) === 0) c.fail('spatial = 0 (per-activation statistics) is not supported');
      const b = c.b;
      const x = c.x(0), scale = c.x(1), variance = c.x(4);
      const sd = castLike(c, b.op('Sqrt', [b.op('Add', [variance, c.scalar(attrFloat(c.node, 'epsilon', 1e-5), variance)])]), variance, scale);
      const s = castLike(c, b.op('Div', [scale, sd]), scale, x);
      return [mul(c, c.g(0)!, perChannel(c, s, c.rank(x))), null, null, null, null];
    },
  },
  // y = x̂·scale + B per sample and channel, x̂ normalised over the spatial axes 2, …: LayerNorm's VJP with ĝ = g·scale
  InstanceNormalization: {
    diff: 'all',
    vjp: (c) => {
      dataInputOnly(c, ['scale', 'B']);
      const x = c.x(0);
      const rank = c.rank(x);
      if (rank < 3) c.fail(`needs an input of rank ≥ 3 (N, C, D1, …), got rank ${rank}`);
      const axes = Array.from({ length: rank - 2 }, (_, i) => i + 2);
      const { centered, r } = normStats(c, x, axes, attrFloat(c.node, 'epsilon', 1e-5));
      return [normVjp(c, axes, centered, r, mul(c, c.g(0)!, perChannel(c, castLike(c, c.x(1), c.x(1), x), rank))), null, null];
    },
  },
  // x viewed as [N, G, (C/G)·D1·…]: normalised over axis 2, then scaled per group (opset 18, scale [G]) or per channel
  // (opset 21, scale [C]); LayerNorm's VJP in the grouped view with ĝ = g·scale. stash_type only sets the precision.
  GroupNormalization: {
    diff: 'all',
    vjp: (c) => {
      dataInputOnly(c, ['scale', 'bias']);
      const b = c.b;
      const x = c.x(0);
      const groups = attrInt(c.node, 'num_groups') ?? c.fail('the num_groups attribute is missing');
      const grouped = (t: string) => b.op('Reshape', [t, b.ints([0, groups, -1])]);
      const { centered, r } = normStats(c, grouped(x), [2], attrFloat(c.node, 'epsilon', 1e-5));
      const scale = castLike(c, c.x(1), c.x(1), x);
      const gh = c.opset >= 21 ? grouped(mul(c, c.g(0)!, perChannel(c, scale, c.rank(x)))) : mul(c, grouped(c.g(0)!), b.unsqueeze(scale, [1]));
      return [b.op('Reshape', [normVjp(c, [2], centered, r, gh), b.op('Shape', [x])]), null, null];
    },
  },
  // y = x/n, n = ‖x‖_p along axis: x̄ = (g − d·Σ(g⊙y))/n, d = y (p = 2) or sign(x) (p = 1)
  LpNormalization: {
    diff: [0],
    vjp: (c) => {
      const b = c.b;
      const x = c.x(0), y = c.y(0), g = c.g(0)!;
      const axes = [normalizeAxis(attrInt(c.node, 'axis', -1), c.rank(x))];
      const p = attrInt(c.node, 'p', 2);
      if (p !== 1 && p !== 2) c.fail(`p = ${p}: only p = 1 and p = 2 are defined`);
      const n = p === 2 ? b.op('Sqrt', [b.reduce('ReduceSum', mul(c, x, x), axes, true)]) : b.reduce('ReduceSum', b.op('Abs', [x]), axes, true);
      const d = p === 2 ? y : b.op('Sign', [x]);
      return [b.op('Div', [b.op('Sub', [g, mul(c, d, b.reduce('ReduceSum', mul(c, g, y), axes, true))]), n])];
    },
  },
};
