import { attrFloat, attrInt, attrInts, attrString } from '../onnx/attributes.js';
import { DT, makeTensor } from '../onnx/tensor.js';
import { normalizeAxis } from '../graph/dims.js';
import { AXES_AS_INPUT_SINCE, sliceRange } from '../graph/shapes.js';
import type { InputGrad, Rule, RuleContext } from './rule.js';

/*
 * Vector-Jacobian products, one entry per ONNX op type, written in standard ONNX ops only.
 * Notation: x_i inputs, y outputs, g the cotangent of y; each entry returns x̄_i = (∂y/∂x_i)ᵀ g.
 * Broadcasting is undone by the walker for gradients marked with ctx.broadcast().
 */

const unary = (f: (c: RuleContext, g: string) => string): Rule => ({ diff: [0], vjp: (c) => [f(c, c.g(0)!)] });
const mul = (c: RuleContext, a: string, b: string) => c.b.op('Mul', [a, b]);

/** Index lists of every input axis: a softmax over `axis` (opset < 13: over all axes from `axis` on). */
function softmaxAxes(c: RuleContext): number[] {
  const rank = c.rank(c.x(0));
  const axis = normalizeAxis(attrInt(c.node, 'axis', c.opset >= 13 ? -1 : 1), rank);
  return c.opset >= 13 ? [axis] : Array.from({ length: rank - axis }, (_, i) => axis + i);
}

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

export const RULES: Record<string, Rule> = {
  Identity: unary((_, g) => g),
  Dropout: unary((_, g) => g), // inference mode: identity
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
  Where: {
    diff: [1, 2],
    vjp: (c) => {
      const zero = c.scalar(0, c.y(0));
      return [
        null,
        c.needs(1) ? c.broadcast(c.b.op('Where', [c.x(0), c.g(0)!, zero])) : null,
        c.needs(2) ? c.broadcast(c.b.op('Where', [c.x(0), zero, c.g(0)!])) : null,
      ];
    },
  },

  // Y = A·B (batched, broadcasting, 1-D operands promoted as numpy does): Ā = G·Bᵀ, B̄ = Aᵀ·G
  MatMul: {
    diff: 'all',
    vjp: (c) => {
      const b = c.b;
      const [A, B] = [c.x(0), c.x(1)];
      const ra = c.rank(A), rb = c.rank(B);
      let g = c.g(0)!;
      let gShape = c.shape(c.y(0));
      // Undo the dropped dims in reverse order (B's trailing 1, then A's 1 before it): a 1-D·1-D product is a scalar.
      if (rb === 1) { g = b.unsqueeze(g, [-1]); gShape = gShape && [...gShape, 1]; }
      if (ra === 1) { g = b.unsqueeze(g, [-2]); gShape = gShape && [...gShape.slice(0, -1), 1, gShape[gShape.length - 1]!]; }
      const A2 = ra === 1 ? b.unsqueeze(A, [0]) : A;
      const B2 = rb === 1 ? b.unsqueeze(B, [1]) : B;
      const swapLast = (r: number) => Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
      const shapeA = c.shape(A), shapeB = c.shape(B);
      const out: InputGrad[] = [null, null];
      if (c.needs(0) && rb === 2 && ra >= 2) {
        // A weight matrix B: Ā = Ḡ·Bᵀ as Gemm(Ḡ, B, transB=1) on Ḡ flattened to 2-D. Same values as
        // MatMul(Ḡ, Transpose(B)), without the transposed copy of the weight ONNX Runtime would fold into a constant.
        const g2 = ra === 2 ? g : b.op('Flatten', [g], { axis: ra - 1 });
        const gemm = b.op('Gemm', [g2, B], { transB: 1 });
        out[0] = ra === 2 ? gemm : b.op('Reshape', [gemm, b.op('Shape', [A])]);
      } else if (c.needs(0)) {
        const bt = b.op('Transpose', [B2], { perm: swapLast(Math.max(rb, 2)) });
        let ga = b.op('MatMul', [g, bt]);
        const batch = gShape ? gShape.slice(0, -2) : null;
        const gaShape = batch && shapeA ? [...batch, ...(ra === 1 ? [1, shapeA[0]!] : shapeA.slice(-2))] : null;
        if (ra === 1) ga = b.op('Reshape', [sumLeading(c, ga, gaShape), b.ints([-1])]);
        out[0] = ra === 1 ? ga : { name: ga, shape: gaShape };
      }
      if (c.needs(1)) {
        const at = b.op('Transpose', [A2], { perm: swapLast(Math.max(ra, 2)) });
        let gb = b.op('MatMul', [at, g]);
        const batch = gShape ? gShape.slice(0, -2) : null;
        const gbShape = batch && shapeB ? [...batch, ...(rb === 1 ? [shapeB[0]!, 1] : shapeB.slice(-2))] : null;
        if (rb === 1) gb = b.op('Reshape', [sumLeading(c, gb, gbShape), b.ints([-1])]);
        out[1] = rb === 1 ? gb : { name: gb, shape: gbShape };
      }
      return out;
    },
  },
  // Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' likewise
  Gemm: {
    diff: 'all',
    vjp: (c) => {
      const b = c.b;
      const [A, B] = [c.x(0), c.x(1)];
      const g = c.g(0)!;
      const alpha = attrFloat(c.node, 'alpha', 1), beta = attrFloat(c.node, 'beta', 1);
      const tA = attrInt(c.node, 'transA', 0), tB = attrInt(c.node, 'transB', 0);
      const gemm = (p: string, q: string, ta: number, tb: number) => b.op('Gemm', [p, q], { alpha, transA: ta, transB: tb });
      const ga = !c.needs(0) ? null : tA ? gemm(B, g, tB, 1) : gemm(g, B, 0, tB ? 0 : 1);
      const gb = !c.needs(1) ? null : tB ? gemm(g, A, 1, tA) : gemm(A, g, tA ? 0 : 1, 0);
      const gc = c.x(2) && c.needs(2) ? c.broadcast(beta === 1 ? g : mul(c, g, c.scalar(beta, c.y(0)))) : null;
      return [ga, gb, gc];
    },
  },

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
  CumSum: {
    diff: [0],
    vjp: (c) => [c.b.op('CumSum', [c.g(0)!, c.x(1)], { exclusive: attrInt(c.node, 'exclusive', 0), reverse: 1 - attrInt(c.node, 'reverse', 0) })],
  },
  Trilu: unary((c, g) => c.b.op('Trilu', c.x(1) ? [g, c.x(1)] : [g], { upper: attrInt(c.node, 'upper', 1) })),
};

/** Ops whose outputs carry no gradient: integer/boolean results, shapes, piecewise-constant functions. */
export const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'ConstantOfShape', 'Constant', 'Range', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'Not', 'And', 'Or', 'Xor', 'NonZero', 'ArgMax', 'ArgMin', 'IsNaN', 'IsInf', 'Sign', 'Floor', 'Ceil', 'Round',
  'OneHot', 'EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Mod', 'BitShift',
]);

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

/** Sum the batch axes of a gradient of a promoted 1-D MatMul operand, leaving its last two axes. */
function sumLeading(c: RuleContext, grad: string, shape: (number | string | null)[] | null): string {
  if (!shape || shape.length <= 2) return grad;
  return c.b.reduce('ReduceSum', grad, Array.from({ length: shape.length - 2 }, (_, i) => i), false);
}

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
