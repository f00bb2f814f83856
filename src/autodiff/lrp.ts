/**
 * Rule sets: the gradient table (rules.ts) with some entries overridden, for the walker to build a modified backward
 * pass. In the efficient form of LRP (lxt, `lxt/efficient/`), relevance is the attributed tensor times such a
 * modified gradient, so AttnLRP and CP-LRP are rule sets of this one engine, not a second one. An op without an
 * override keeps its gradient rule (that is the efficient form's definition).
 *
 * AttnLRP, as lxt's efficient BERT map (`lxt/efficient/models/bert.py`, `patches.py`, `rules.py`):
 * - elementwise nonlinearities of one activation (GELU and SiLU — also their decomposed groups, fused into one node
 *   by patterns.ts —, tanh, sigmoid, …): the identity rule, ḡ = g · f(x) / (x + 1e-10);
 * - LayerNormalization (and the decomposed group): the standard deviation is a constant in the backward pass;
 * - a MatMul or Mul of two activations (attention's Q·Kᵀ and P·V): the ordinary VJP halved for each operand;
 * - everything else (softmax, adds, products with weights, Gather, Dropout): the ordinary gradient.
 * CP-LRP: the same, except that no relevance flows through the attention scores (Q and K are constants there) and
 * P·V is not halved (V gets its full gradient).
 */
import type { NodeProto } from '../onnx/proto.js';
import { RULES, layerNormParts } from './rules.js';
import type { InputGrad, Rule, RuleContext } from './rule.js';

export const RULE_SETS = ['gradient', 'attnlrp', 'cp-lrp'] as const;
export type RuleSetName = (typeof RULE_SETS)[number];

/** lxt's identity_rule_implicit: ε added to the input (plain addition, as lxt). */
export const IDENTITY_EPSILON = 1e-10;

/** Elementwise nonlinearities of one activation that get the identity rule. */
export const IDENTITY_RULE_OPS = ['Gelu', 'Silu', 'Tanh', 'Sigmoid', 'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu', 'Softplus', 'Softsign', 'HardSigmoid', 'HardSwish', 'Mish', 'Erf'] as const;

const mul = (c: RuleContext, a: string, b: string) => c.b.op('Mul', [a, b]);

/** ḡ = g · y / (x + ε). */
const identityRule: Rule = {
  diff: [0],
  vjp: (c) => [mul(c, c.g(0)!, c.b.op('Div', [c.y(0), c.b.op('Add', [c.x(0), c.scalar(IDENTITY_EPSILON)])]))],
};

/** LayerNorm with the standard deviation held constant: x̄ = (gγ − mean(gγ)) / σ, σ = √(var(x) + ε). */
const detachedLayerNorm: Rule = {
  diff: [0],
  vjp: (c) => {
    const { axes, r } = layerNormParts(c);
    const gh = mul(c, c.g(0)!, c.x(1));
    return [mul(c, r, c.b.op('Sub', [gh, c.b.reduce('ReduceMean', gh, axes, true)]))];
  },
};

/** Ops that pass a tensor through unchanged in value or by a constant factor (between Softmax and P·V, say). */
const PASS_THROUGH = new Set(['Dropout', 'Identity', 'Cast', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze']);

/** Whether `name` is (through pass-through ops, masking Mul/Where by constants) the output of a Softmax: P. */
function fromSoftmax(c: RuleContext, name: string, depth = 0): boolean {
  const p = c.producer(name);
  if (!p || depth > 8) return false;
  if (p.opType === 'Softmax') return true;
  if (PASS_THROUGH.has(p.opType!)) return fromSoftmax(c, p.input![0]!, depth + 1);
  if (p.opType === 'Mul' || p.opType === 'Where' || p.opType === 'Div') {
    const ins = (p.input ?? []).filter(Boolean);
    const active = ins.filter((i) => c.isActive(i));
    return active.length === 1 && fromSoftmax(c, active[0]!, depth + 1);
  }
  return false;
}

/** Whether `name` feeds (through scaling, mask adds and pass-through ops) a Softmax: attention scores Q·Kᵀ. */
function toSoftmax(c: RuleContext, name: string, depth = 0): boolean {
  if (depth > 8) return false;
  return c.consumers(name).some((n: NodeProto) => n.opType === 'Softmax'
    || ((PASS_THROUGH.has(n.opType!) || ['Div', 'Mul', 'Add', 'Sub', 'Where'].includes(n.opType!)) && toSoftmax(c, n.output![0]!, depth + 1)));
}

const halve = (c: RuleContext, grads: InputGrad[]): InputGrad[] => grads.map((g) => {
  if (!g) return g;
  const name = typeof g === 'string' ? g : g.name;
  const half = mul(c, name, c.scalar(0.5, c.y(0)));
  return typeof g === 'string' ? half : { ...g, name: half };
});

/** A product rule for a rule set: the ordinary VJP, halved when both operands are activations. */
function product(op: 'MatMul' | 'Mul', set: Exclude<RuleSetName, 'gradient'>): Rule {
  const base = RULES[op]!;
  return {
    diff: base.diff,
    vjp: (c) => {
      if (!(c.needs(0) && c.needs(1))) return base.vjp(c);
      if (set === 'cp-lrp' && op === 'MatMul') {
        // Q·Kᵀ: no relevance through the scores. P·V: V gets its full gradient, the softmax path none.
        if (fromSoftmax(c, c.x(0))) return [null, base.vjp(withNeeds(c, [false, true]))[1]!];
        if (toSoftmax(c, c.y(0))) return [null, null];
      }
      return halve(c, base.vjp(c));
    },
  };
}

/** The context with only some inputs needing gradients (so the base rule builds only those). */
function withNeeds(c: RuleContext, needs: boolean[]): RuleContext {
  return { ...c, needs: (i: number) => !!needs[i] && c.needs(i) };
}

function overrides(set: Exclude<RuleSetName, 'gradient'>): Record<string, Rule> {
  const table: Record<string, Rule> = {};
  for (const op of IDENTITY_RULE_OPS) table[op] = identityRule;
  table['LayerNormalization'] = detachedLayerNorm;
  table['MatMul'] = product('MatMul', set);
  table['Mul'] = product('Mul', set);
  return table;
}

const TABLES: Record<RuleSetName, Record<string, Rule>> = {
  gradient: RULES,
  attnlrp: { ...RULES, ...overrides('attnlrp') },
  'cp-lrp': { ...RULES, ...overrides('cp-lrp') },
};

export function ruleTable(set: RuleSetName = 'gradient'): Record<string, Rule> {
  return TABLES[set];
}

/** The op types a rule set overrides (for gradlens inspect). */
export function overriddenOps(set: Exclude<RuleSetName, 'gradient'>): string[] {
  return Object.keys(overrides(set));
}
