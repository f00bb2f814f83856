import { attrFloat, attrString } from '../../onnx/attributes.js';
import type { InputGrad, Rule, RuleContext } from '../rule.js';
import { mul, unary } from './common.js';

/* Elementwise ops: unary activations and functions, and the broadcasting binary and variadic ops. */

/** Gradient of Min/Max: g flows to the inputs equal to the result, split evenly between ties. */
const minMax: Rule = {
  diff: 'all',
  vjp(c) {
    const b = c.b;
    const inputs = (c.node.input ?? []).map((_, i) => c.x(i));
    const masks = inputs.map((x) => b.op('Cast', [b.op('Equal', [x, c.y(0)])], { to: c.dtype(c.y(0)) }));
    const count = masks.length === 1 ? masks[0]! : b.op('Sum', masks);
    const share = b.op('Div', [c.g(0)!, count]);
    return masks.map((m, i) => (c.needs(i) ? c.broadcast(mul(c, share, m)) : null));
  },
};

/** 0 < v < 1: the linear zone of a HardSigmoid output. */
const openUnit = (c: RuleContext, v: string): string =>
  c.b.op('And', [c.b.op('Greater', [v, c.scalar(0)]), c.b.op('Less', [v, c.scalar(1)])]);

export const ELEMENTWISE: Record<string, Rule> = {
  Neg: unary((c, g) => c.b.op('Neg', [g])),
  Cast: unary((c, g) => c.b.op('Cast', [g], { to: c.dtype(c.x(0)) })),
  Exp: unary((c, g) => mul(c, g, c.y(0))),
  Log: unary((c, g) => c.b.op('Div', [g, c.x(0)])),
  // d√x = 1 / (2√x)
  Sqrt: unary((c, g) => c.b.op('Div', [g, mul(c, c.scalar(2), c.y(0))])),
  // d(1/x) = −1/x² = −y²
  Reciprocal: unary((c, g) => c.b.op('Neg', [mul(c, g, mul(c, c.y(0), c.y(0)))])),
  Abs: unary((c, g) => mul(c, g, c.b.op('Sign', [c.x(0)]))),
  // d erf(x) = 2/√π · exp(−x²)
  Erf: unary((c, g) => {
    const x = c.x(0);
    const e = c.b.op('Exp', [c.b.op('Neg', [mul(c, x, x)])]);
    return mul(c, g, mul(c, e, c.scalar(2 / Math.sqrt(Math.PI))));
  }),
  // d tanh = 1 − y²
  Tanh: unary((c, g) => mul(c, g, c.b.op('Sub', [c.scalar(1), mul(c, c.y(0), c.y(0))]))),
  // dσ = y(1 − y)
  Sigmoid: unary((c, g) => mul(c, g, mul(c, c.y(0), c.b.op('Sub', [c.scalar(1), c.y(0)])))),
  Relu: unary((c, g) => c.b.op('Where', [c.b.op('Greater', [c.x(0), c.scalar(0)]), g, c.scalar(0)])),
  LeakyRelu: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 0.01);
    return c.b.op('Where', [c.b.op('Greater', [c.x(0), c.scalar(0)]), g, mul(c, g, c.scalar(alpha))]);
  }),
  // softplus' = σ(x)
  Softplus: unary((c, g) => mul(c, g, c.b.op('Sigmoid', [c.x(0)]))),
  // y = max(0, min(1, αx + β)): y' = α inside 0 < y < 1, 0 on the flat parts
  HardSigmoid: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 0.2);
    return c.b.op('Where', [openUnit(c, c.y(0)), mul(c, g, c.scalar(alpha)), c.scalar(0)]);
  }),
  // y = x·h(x), h = HardSigmoid(α = 1/6, β = ½): y' = h + x/6 inside 0 < h < 1
  HardSwish: unary((c, g) => {
    const b = c.b;
    const x = c.x(0);
    const h = b.op('Min', [b.op('Max', [b.op('Add', [mul(c, x, c.scalar(1 / 6)), c.scalar(0.5)]), c.scalar(0)]), c.scalar(1)]);
    const slope = b.op('Where', [openUnit(c, h), mul(c, x, c.scalar(1 / 6)), c.scalar(0)]);
    return mul(c, g, b.op('Add', [h, slope]));
  }),
  // y = x (x ≥ 0), slope·x (x < 0), slope unidirectionally broadcast to x: x̄ = g or g·slope, slopē = Σ_broadcast g·x on x < 0
  PRelu: {
    diff: 'all',
    vjp: (c) => {
      const b = c.b;
      const g = c.g(0)!;
      const neg = b.op('Less', [c.x(0), c.scalar(0)]);
      return [
        c.needs(0) ? b.op('Where', [neg, mul(c, g, c.x(1)), g]) : null,
        c.needs(1) ? c.broadcast(b.op('Where', [neg, mul(c, g, c.x(0)), c.scalar(0)])) : null,
      ];
    },
  },
  // y = x (x ≥ 0), α(eˣ − 1) (x < 0): y' = 1, or αeˣ = y + α
  Elu: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 1);
    const b = c.b;
    return b.op('Where', [b.op('Less', [c.x(0), c.scalar(0)]), mul(c, g, b.op('Add', [c.y(0), c.scalar(alpha)])), g]);
  }),
  // y = γx (x > 0), γα(eˣ − 1) (x ≤ 0): y' = γ, or γαeˣ = y + γα (defaults: the spec's float32 constants)
  Selu: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 1.67326319217681884765625);
    const gamma = attrFloat(c.node, 'gamma', 1.05070102214813232421875);
    const b = c.b;
    const d = b.op('Where', [b.op('Greater', [c.x(0), c.scalar(0)]), c.scalar(gamma), b.op('Add', [c.y(0), c.scalar(gamma * alpha)])]);
    return mul(c, g, d);
  }),
  // y = max(0, x) + min(0, α(e^{x/α} − 1)): y' = 1 (x > 0), e^{x/α} = y/α + 1 (x ≤ 0)
  Celu: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 1);
    const b = c.b;
    const d = b.op('Add', [b.op('Div', [c.y(0), c.scalar(alpha)]), c.scalar(1)]);
    return b.op('Where', [b.op('Greater', [c.x(0), c.scalar(0)]), g, mul(c, g, d)]);
  }),
  // y = x/(1 + |x|): y' = 1/(1 + |x|)²
  Softsign: unary((c, g) => {
    const d = c.b.op('Add', [c.scalar(1), c.b.op('Abs', [c.x(0)])]);
    return c.b.op('Div', [g, mul(c, d, d)]);
  }),
  // y = x·tanh(softplus x), t = tanh(softplus x): y' = t + x(1 − t²)σ(x)
  Mish: unary((c, g) => {
    const b = c.b;
    const x = c.x(0);
    const t = b.op('Tanh', [b.op('Softplus', [x])]);
    const right = mul(c, x, mul(c, b.op('Sub', [c.scalar(1), mul(c, t, t)]), b.op('Sigmoid', [x])));
    return mul(c, g, b.op('Add', [t, right]));
  }),
  // y = x (x > α), 0 otherwise
  ThresholdedRelu: unary((c, g) => {
    const alpha = attrFloat(c.node, 'alpha', 1);
    return c.b.op('Where', [c.b.op('Greater', [c.x(0), c.scalar(alpha)]), g, c.scalar(0)]);
  }),
  Sin: unary((c, g) => mul(c, g, c.b.op('Cos', [c.x(0)]))),
  Cos: unary((c, g) => c.b.op('Neg', [mul(c, g, c.b.op('Sin', [c.x(0)]))])),
  Gelu: unary((c, g) => {
    const b = c.b;
    const x = c.x(0);
    if (attrString(c.node, 'approximate') === 'tanh') {
      // y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³); y' = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)
      const k = Math.sqrt(2 / Math.PI);
      const x2 = mul(c, x, x);
      const u = mul(c, c.scalar(k), b.op('Add', [x, mul(c, c.scalar(0.044715), mul(c, x2, x))]));
      const t = b.op('Tanh', [u]);
      const du = mul(c, c.scalar(k), b.op('Add', [c.scalar(1), mul(c, c.scalar(3 * 0.044715), x2)]));
      const left = mul(c, c.scalar(0.5), b.op('Add', [c.scalar(1), t]));
      const right = mul(c, mul(c, c.scalar(0.5), x), mul(c, b.op('Sub', [c.scalar(1), mul(c, t, t)]), du));
      return mul(c, g, b.op('Add', [left, right]));
    }
    // y = xΦ(x); y' = Φ(x) + xφ(x)
    const cdf = mul(c, c.scalar(0.5), b.op('Add', [c.scalar(1), b.op('Erf', [mul(c, x, c.scalar(Math.SQRT1_2))])]));
    const pdf = mul(c, c.scalar(1 / Math.sqrt(2 * Math.PI)), b.op('Exp', [mul(c, c.scalar(-0.5), mul(c, x, x))]));
    return mul(c, g, b.op('Add', [cdf, mul(c, x, pdf)]));
  }),
  // The fused x · sigmoid(x) group (patterns.ts; no ONNX op of its own): y' = σ(x)(1 + x(1 − σ(x)))
  Silu: unary((c, g) => {
    const s = c.b.op('Sigmoid', [c.x(0)]);
    return mul(c, g, mul(c, s, c.b.op('Add', [c.scalar(1), mul(c, c.x(0), c.b.op('Sub', [c.scalar(1), s]))])));
  }),
  Clip: unary((c, g) => {
    const b = c.b;
    // Clip-6 (opset < 11, min/max attributes): g passes where Clip left x unchanged, i.e. x − y = 0 (same-shape ops
    // only: Where is opset 9, numpy broadcasting opset 7). Cast to bool (9) is true for nonzero.
    if (c.opset < 11) {
      const moved = b.op('Cast', [b.op('Sub', [c.x(0), c.y(0)])], { to: 9 });
      return mul(c, g, b.op('Cast', [b.op('Not', [moved])], { to: c.dtype(c.x(0)) }));
    }
    let keep: string | undefined;
    const min = c.x(1), max = c.x(2);
    // GreaterOrEqual/LessOrEqual exist from opset 12 on; before, Not(Less)/Not(Greater)
    const ge = (p: string, q: string) => (c.opset >= 12 ? b.op('GreaterOrEqual', [p, q]) : b.op('Not', [b.op('Less', [p, q])]));
    const le = (p: string, q: string) => (c.opset >= 12 ? b.op('LessOrEqual', [p, q]) : b.op('Not', [b.op('Greater', [p, q])]));
    if (min) keep = ge(c.x(0), min);
    if (max) {
      const below = le(c.x(0), max);
      keep = keep ? b.op('And', [keep, below]) : below;
    }
    return keep ? b.op('Where', [keep, g, c.scalar(0)]) : g;
  }),

  Add: { diff: 'all', vjp: (c) => [c.broadcast(c.g(0)!), c.broadcast(c.g(0)!)] },
  Sub: { diff: 'all', vjp: (c) => [c.broadcast(c.g(0)!), c.needs(1) ? c.broadcast(c.b.op('Neg', [c.g(0)!])) : null] },
  Sum: { diff: 'all', vjp: (c) => (c.node.input ?? []).map(() => c.broadcast(c.g(0)!)) },
  Mean: {
    diff: 'all',
    vjp: (c) => {
      const share = mul(c, c.g(0)!, c.scalar(1 / (c.node.input ?? []).length, c.y(0)));
      return (c.node.input ?? []).map(() => c.broadcast(share));
    },
  },
  Mul: {
    diff: 'all',
    vjp: (c) => [
      c.needs(0) ? c.broadcast(mul(c, c.g(0)!, c.x(1))) : null,
      c.needs(1) ? c.broadcast(mul(c, c.g(0)!, c.x(0))) : null,
    ],
  },
  // y = a/b: ā = g/b, b̄ = −g·y/b
  Div: {
    diff: 'all',
    vjp: (c) => {
      const gOverB = c.b.op('Div', [c.g(0)!, c.x(1)]);
      return [c.needs(0) ? c.broadcast(gOverB) : null, c.needs(1) ? c.broadcast(c.b.op('Neg', [mul(c, gOverB, c.y(0))])) : null];
    },
  },
  // y = aᵉ: ā = g·e·aᵉ⁻¹, ē = g·y·ln a
  Pow: {
    diff: 'all',
    vjp: (c) => {
      const b = c.b;
      const [a, e] = [c.x(0), c.x(1)];
      const g = c.g(0)!;
      let da: InputGrad = null;
      if (c.needs(0)) {
        const constExp = c.value(e);
        const eCast = c.dtype(e) === c.dtype(a) ? e : b.op('Cast', [e], { to: c.dtype(a) });
        if (constExp?.length === 1 && constExp[0] === 2) da = c.broadcast(mul(c, g, mul(c, a, c.scalar(2))));
        else da = c.broadcast(mul(c, g, mul(c, eCast, b.op('Pow', [a, b.op('Sub', [eCast, c.scalar(1, a)])]))));
      }
      const de = c.needs(1) ? c.broadcast(mul(c, g, mul(c, c.y(0), b.op('Log', [a])))) : null;
      return [da, de];
    },
  },
  Min: minMax,
  Max: minMax,
};
