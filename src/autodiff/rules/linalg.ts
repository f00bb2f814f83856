import { attrFloat, attrInt } from '../../onnx/attributes.js';
import type { InputGrad, Rule, RuleContext } from '../rule.js';
import { mul } from './common.js';

/* Linear algebra: MatMul, Gemm. */

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

};

/** Sum the batch axes of a gradient of a promoted 1-D MatMul operand, leaving its last two axes. */
function sumLeading(c: RuleContext, grad: string, shape: (number | string | null)[] | null): string {
  if (!shape || shape.length <= 2) return grad;
  return c.b.reduce('ReduceSum', grad, Array.from({ length: shape.length - 2 }, (_, i) => i), false);
}
