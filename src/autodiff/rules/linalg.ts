import { attrFloat, attrInt, attrString } from '../../onnx/attributes.js';
import { type Shape, broadcastShapes, sameShape } from '../../graph/dims.js';
import { type EinsumEquation, parseEinsum, termDims } from '../../graph/einsum.js';
import type { InputGrad, Rule, RuleContext } from '../rule.js';
import { mul } from './common.js';

/* Linear algebra: MatMul, Gemm, Einsum. */

export const LINALG: Record<string, Rule> = {
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
        const gemm = b.op('Gemm', gemmInputs(c, g2, B), { transB: 1 });
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
      const gemm = (p: string, q: string, ta: number, tb: number) => b.op('Gemm', gemmInputs(c, p, q), { alpha, transA: ta, transB: tb });
      const ga = !c.needs(0) ? null : tA ? gemm(B, g, tB, 1) : gemm(g, B, 0, tB ? 0 : 1);
      const gb = !c.needs(1) ? null : tB ? gemm(g, A, 1, tA) : gemm(A, g, tA ? 0 : 1, 0);
      const gc = c.x(2) && c.needs(2) ? c.broadcast(beta === 1 ? g : mul(c, g, c.scalar(beta, c.y(0)))) : null;
      return [ga, gb, gc];
    },
  },
  // y = einsum(x₀, x₁, …): x̄ₖ = einsum(g, x_j for j ≠ k → xₖ's subscripts). Indices that only xₖ has (summed out
  // within xₖ alone) are absent from that result: they come back by broadcasting (Unsqueeze, Expand).
  Einsum: {
    diff: 'all',
    vjp: (c) => einsumGrads(c),
  },

};

/** Sum the batch axes of a gradient of a promoted 1-D MatMul operand, leaving its last two axes. */
function sumLeading(c: RuleContext, grad: string, shape: (number | string | null)[] | null): string {
  if (!shape || shape.length <= 2) return grad;
  return c.b.reduce('ReduceSum', grad, Array.from({ length: shape.length - 2 }, (_, i) => i), false);
}

function einsumGrads(c: RuleContext): InputGrad[] {
  const b = c.b;
  const equation = attrString(c.node, 'equation') ?? c.fail('Einsum without equation');
  let eq: EinsumEquation;
  try {
    eq = parseEinsum(equation);
  } catch (e) {
    c.fail(`cannot parse the Einsum equation "${equation}": ${(e as Error).message}`);
  }
  const inputs = (c.node.input ?? []).map((_, i) => c.x(i));
  if (eq.inputs.length !== inputs.length) c.fail(`the Einsum equation "${equation}" has ${eq.inputs.length} operands for ${inputs.length} inputs`);
  const hasEllipsis = eq.inputs.map((t) => t.includes('...'));
  if (hasEllipsis.some((e) => e) && !eq.output.includes('...')) c.fail(`the gradient of Einsum "${equation}", which sums the ellipsis dims out, is not supported`);
  const str = (t: string[]) => t.join('');
  const shapes = inputs.map((x) => c.shape(x));
  // The ellipsis dims of the output: the broadcast of the operands' ones (their count from the ranks).
  const ellRank = Math.max(0, ...eq.inputs.map((t, j) => (hasEllipsis[j] ? c.rank(inputs[j]!) - (t.length - 1) : 0)));
  let ellAll: Shape | null = [];
  eq.inputs.forEach((t, j) => {
    if (!hasEllipsis[j]) return;
    const e = termDims(t, shapes[j]!).ellipsis;
    ellAll = ellAll && e ? broadcastShapes(ellAll, e) : null;
  });
  return inputs.map((xk, k): InputGrad => {
    if (!c.needs(k)) return null;
    const term = eq.inputs[k]!;
    const letters = term.filter((s) => s !== '...');
    const dup = letters.find((s, i) => letters.indexOf(s) !== i);
    if (dup) c.fail(`the gradient of Einsum "${equation}" with respect to operand ${k}, which repeats index ${dup} (a diagonal), is not supported`);
    const elsewhere = new Set([...eq.output, ...eq.inputs.filter((_, j) => j !== k).flat()]);
    const kept = term.filter((s) => s === '...' || elsewhere.has(s));
    const others = inputs.flatMap((x, j) => (j === k ? [] : [{ x, term: eq.inputs[j]! }]));
    const lhs = [str(eq.output), ...others.map((o) => str(o.term))].join(',');
    // ONNX Runtime wants the ellipsis in the output when an input has one: for an xₖ without, sum its dims after.
    const sumEllipsis = hasEllipsis.some((e) => e) && !hasEllipsis[k];
    const rhs = sumEllipsis ? ['...', ...kept] : kept;
    let grad = others.length === 0 && str(rhs) === str(eq.output) ? c.g(0)! : b.op('Einsum', [c.g(0)!, ...others.map((o) => o.x)], { equation: `${lhs}->${str(rhs)}` });
    if (sumEllipsis && ellRank > 0) grad = b.reduce('ReduceSum', grad, Array.from({ length: ellRank }, (_, i) => i), false);
    if (kept.length < term.length) {
      // Unsqueeze where the dropped indices sit (the result's ellipsis has the output's ellRank dims), then Expand.
      const axes: number[] = [];
      let pos = 0;
      for (const s of term) {
        if (s === '...') pos += ellRank;
        else if (!elsewhere.has(s)) axes.push(pos++);
        else pos++;
      }
      grad = b.op('Expand', [b.unsqueeze(grad, axes), b.op('Shape', [xk])]);
    }
    if (!hasEllipsis[k]) return grad;
    // xₖ's own ellipsis dims may be broadcast (fewer, or 1s): the walker sums the gradient back to its shape.
    const own = termDims(term, shapes[k]!);
    if (own.ellipsis && ellAll && sameShape(own.ellipsis, ellAll)) return grad;
    const shape = ellAll && shapes[k] ? term.flatMap((s) => (s === '...' ? ellAll! : [own.letters.get(s) ?? null])) : null;
    return { name: grad, shape };
  });
}

/** Gemm's operands: C is optional from opset 11 on; before, a zero scalar (broadcast) stands in for it. */
function gemmInputs(c: RuleContext, a: string, b: string): string[] {
  return c.opset >= 11 ? [a, b] : [a, b, c.scalar(0, c.y(0))];
}
