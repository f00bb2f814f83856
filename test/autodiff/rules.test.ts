import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { VIRTUAL_OPS } from '../../src/autodiff/patterns.js';
import { RULES } from '../../src/autodiff/rules.js';
import { GradlensError } from '../../src/errors.js';
import { Session, tensor, type DType, type HostTensor } from '../../src/runtime/session.js';
import type { AttrValue } from '../../src/onnx/attributes.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { buildModel, opModel, DT, INT64_MAX, INT64_MIN, type ModelConst, type ModelInput, type ModelOutput } from './op-model.js';
import { rng, relError } from '../helpers.js';
import { c, x, xg, xt, xs, ints, int, floats, scalar, bools, fed, none, normal, pos, away, nonzero, type Case, type ConstIn, type FedIn, type FloatType, type Gen, type Kind } from './rule-dsl.js';
import { CONVOLUTION_CASES } from './cases/convolution.js';
import { ACTIVATION_CASES } from './cases/activations.js';
import { SHAPE_CASES } from './cases/shape.js';

/*
 * Table-driven checks of every gradient rule in RULES, on one-node models:
 *  1. the VJP against central finite differences of L = Σ v ⊙ f(x) (every element of each differentiable input with at
 *     most FD_MAX_ELEMENTS elements), v a seeded random cotangent;
 *  2. the inner product ⟨v, J·u⟩ (central differences along a random direction u of all inputs at once) against
 *     ⟨Jᵀ·v, u⟩ from the VJP model.
 * Each case runs in float64 where ONNX Runtime's CPU kernels allow (forward op and every op of the gradient graph),
 * else in float32. Tolerances (relative to the largest entry of the reference gradient; for the inner product,
 * relative to Σ|Jᵀv ⊙ Δx|):
 *    float64: ε = 1e-6, rel 1e-6        float32: ε = 1e-3, rel 2e-3
 * (A case counts as float32 when any of its float tensors is float32; perturbed values are rounded to the input's
 * type and the actual step is used.)
 * Every case runs twice: with the declared static shapes, and with dim_param dims on the differentiable inputs (the
 * run-time shape paths of the rules and of the walker's broadcast reduction).
 */
const PRECISION = {
  float64: { eps: 1e-6, tol: 1e-6 },
  float32: { eps: 1e-3, tol: 2e-3 },
} as const;
const FD_MAX_ELEMENTS = 64;


const CASES: Case[] = [
  ...ACTIVATION_CASES,
  ...SHAPE_CASES,
  ...CONVOLUTION_CASES,
  // ---- elementwise unary ----
  c('Identity', 11, [x(2, 3)]),
  c('Identity', 13, [x()]),
  c('Dropout', 11, [x(3, 2)]),
  c('Dropout', 13, [x(2, 3), scalar(0.3)]),
  c('Dropout', 12, [x(4)], {}, { outputs: ['float', 'bool'], of: [0], note: 'with mask output' }),
  c('Neg', 11, [x(2, 3)]),
  c('Neg', 13, [x()]),
  c('Cast', 13, [xt('float32', 2, 3)], { to: DT.DOUBLE }, { outputs: ['float64'], note: 'float→double' }),
  c('Cast', 13, [xt('float64', 3)], { to: DT.FLOAT }, { outputs: ['float32'], note: 'double→float' }),
  c('Cast', 11, [xt('float64', 2, 2)], { to: DT.DOUBLE }, { outputs: ['float64'], note: 'double→double' }),
  c('Exp', 11, [x(2, 3)]),
  c('Exp', 13, [x(4)]),
  c('Log', 13, [xg(pos, 2, 3)]),
  c('Log', 11, [xg(pos, 5)]),
  c('Sqrt', 13, [xg(pos, 2, 3)]),
  c('Sqrt', 11, [xg(pos)]),
  c('Reciprocal', 13, [xg(nonzero, 2, 3)]),
  c('Reciprocal', 11, [xg(nonzero, 4)]),
  c('Abs', 13, [xg(nonzero, 2, 3)]),
  c('Abs', 11, [xg(nonzero, 5)]),
  c('Erf', 13, [x(2, 3)]),
  c('Erf', 11, [x(4)]),
  c('Tanh', 11, [x(2, 3)]),
  c('Tanh', 13, [x(4)]),
  c('Sigmoid', 11, [x(2, 3)]),
  c('Sigmoid', 13, [x()]),
  c('Relu', 11, [xg(nonzero, 2, 3)]),
  c('Relu', 14, [xg(nonzero, 6)]),
  c('LeakyRelu', 11, [xg(nonzero, 2, 3)], { alpha: 0.1 }),
  c('LeakyRelu', 16, [xg(nonzero, 6)]),
  c('Softplus', 11, [x(2, 3)]),
  c('Softplus', 13, [x(4)]),
  c('Sin', 11, [x(2, 3)]),
  c('Sin', 13, [x(4)]),
  c('Cos', 11, [x(2, 3)]),
  c('Cos', 13, [x(4)]),
  c('Gelu', 20, [x(2, 3)], {}, { note: 'approximate none' }),
  c('Gelu', 20, [x(2, 3)], { approximate: 'tanh' }),
  c('Gelu', 20, [x(5)], { approximate: 'none' }),
  c('Clip', 11, [xg(away(-0.3), 2, 3), scalar(-0.3)], {}, { note: 'min only' }),
  c('Clip', 13, [xg(away(-0.5, 0.4), 2, 4), scalar(-0.5), scalar(0.4)], {}, { note: 'min and max' }),
  c('Clip', 13, [xg(away(0.2), 6), none, scalar(0.2)], {}, { note: 'max only' }),
  c('Clip', 12, [x(3)], {}, { note: 'no bounds' }),
  c('Clip', 13, [xg(away(-0.2, 0.3), 2, 3), fed([-0.2], [], 'float'), fed([0.3], [], 'float')], {}, { note: 'run-time bounds' }),

  // ---- elementwise binary and variadic, broadcasting ----
  c('Add', 13, [x(2, 3, 4), x(4)]),
  c('Add', 11, [x(2, 1, 4), x(3, 1)]),
  c('Add', 14, [x(), x(2, 3)]),
  c('Add', 13, [x(1), x(2, 3)]),
  c('Add', 11, [x(2, 3), x(2, 3)]),
  c('Add', 13, [x(2, 3), floats([1, 2, 3])], {}, { note: 'constant operand' }),
  c('Sub', 13, [x(2, 3, 4), x(3, 1)]),
  c('Sub', 11, [x(4), x(2, 1, 4)]),
  c('Sub', 14, [x(), x()]),
  c('Sub', 13, [floats([1, 2, 3]), x(2, 3)], {}, { note: 'constant minuend' }),
  c('Mul', 13, [x(2, 1, 4), x(3, 1)]),
  c('Mul', 11, [x(2, 3), x()]),
  c('Mul', 14, [x(1, 3), x(2, 1)]),
  c('Mul', 13, [x(2, 3), floats([0.5, -1, 2])], {}, { note: 'constant operand' }),
  c('Mul', 13, [x(3), x(3)]),
  c('Mul', 13, [x(2, 3), fed([1, -2, 0.5], [3], 'float')], {}, { note: 'run-time operand' }),
  c('Div', 13, [x(2, 3, 4), xg(nonzero, 4)]),
  c('Div', 11, [x(3, 1), xg(nonzero, 2, 1, 4)]),
  c('Div', 14, [floats([1, -2, 3]), xg(nonzero, 2, 3)], {}, { note: 'constant numerator' }),
  c('Div', 13, [x(2, 3), scalar(4)], {}, { note: 'constant denominator' }),
  c('Pow', 13, [x(2, 3), scalar(2)], {}, { note: 'exponent 2' }),
  c('Pow', 11, [x(2, 3), scalar(3)], {}, { note: 'exponent 3' }),
  c('Pow', 15, [xg(pos, 2, 3), x(3)], {}, { note: 'non-constant exponent' }),
  c('Pow', 13, [xg(pos, 3), x()], {}, { note: 'scalar non-constant exponent' }),
  c('Pow', 13, [xg(pos, 2, 3), floats([0.5, 1.5, -1])], {}, { note: 'constant exponent vector' }),
  c('Pow', 13, [x(4), int(3)], {}, { note: 'int64 exponent' }),
  c('Pow', 14, [floats([0.5, 1.5, 2]), x(2, 3)], {}, { note: 'constant base' }),
  c('Min', 13, [x(2, 3), x(3), x(1, 3)], {}, { note: '3 inputs' }),
  c('Min', 11, [x(2, 3), x(2, 3)]),
  c('Min', 12, [x(4)], {}, { note: '1 input' }),
  c('Max', 13, [x(2, 1, 4), x(3, 1), x(4)], {}, { note: '3 inputs' }),
  c('Max', 11, [x(2, 3), x(2, 3)]),
  c('Max', 13, [x(2, 3), floats([0.1, -0.2, 0.3])], {}, { note: 'constant operand' }),
  c('Sum', 13, [x(2, 3), x(3), x()], {}, { note: '3 inputs' }),
  c('Sum', 11, [x(2, 3)], {}, { note: '1 input' }),
  c('Sum', 13, [x(2, 1), x(1, 3)]),
  c('Sum', 10, [x(2, 3), x(3), x(2, 1)], {}, { note: 'symbolic dims that may be 1' }),
  c('Mean', 13, [x(2, 3), x(2, 3), x(3)], {}, { note: '3 inputs' }),
  c('Mean', 11, [x(2, 1, 3), x(4, 1)]),
  c('Where', 11, [bools([1, 0, 1, 0, 0, 1], [2, 3]), x(2, 3), x(2, 3)]),
  c('Where', 16, [bools([1, 0, 1]), x(2, 1), x()]),
  c('Where', 13, [bools([1, 0, 0, 1, 1, 0, 1, 0], [2, 1, 4]), x(3, 1), x(4)]),
  c('Where', 13, [bools([0, 1]), floats([5, 6]), x(3, 2)], {}, { note: 'constant x' }),
  c('Where', 13, [fed([1, 0, 0], [3, 1], 'bool'), x(3, 2), x(2)], {}, { note: 'run-time condition' }),

  // ---- MatMul, Gemm ----
  c('MatMul', 13, [x(2, 3), x(3, 4)]),
  c('MatMul', 11, [x(2, 2, 3), x(2, 3, 4)], {}, { note: 'batched' }),
  c('MatMul', 13, [x(2, 1, 2, 3), x(3, 3, 2)], {}, { note: 'broadcast batch' }),
  c('MatMul', 13, [x(2, 3), x(2, 3, 4)], {}, { note: '2-D A, batched B' }),
  c('MatMul', 13, [x(3), x(2, 3, 4)], {}, { note: '1-D A, batched B' }),
  c('MatMul', 13, [x(2, 2, 3), x(3)], {}, { note: 'batched A, 1-D B' }),
  c('MatMul', 13, [x(3), x(3)], {}, { note: '1-D both' }),
  c('MatMul', 11, [x(3), x(3, 4)], {}, { note: '1-D A' }),
  c('MatMul', 11, [x(2, 3), x(3)], {}, { note: '1-D B' }),
  c('MatMul', 13, [x(2, 3), floats([1, 2, 3, 4, 5, 6], [3, 2])], {}, { note: 'constant B' }),
  c('MatMul', 9, [x(2, 2, 3), floats([1, 2, 3, 4, 5, 6], [3, 2])], {}, { note: 'constant B, Gemm needs C before opset 11' }),
  c('Gemm', 9, [x(2, 3), x(3, 4), x(4)], { transB: 0, alpha: 0.5 }),
  c('Gemm', 11, [x(2, 3), x(3, 4)]),
  c('Gemm', 13, [x(3, 2), x(3, 4), x(4)], { transA: 1, alpha: 0.5, beta: 2 }),
  c('Gemm', 13, [x(2, 3), x(4, 3), x(2, 1)], { transB: 1 }),
  c('Gemm', 11, [x(3, 2), x(4, 3), x()], { transA: 1, transB: 1, alpha: 1.5 }),
  c('Gemm', 13, [x(2, 3), x(3, 4), x(2, 4)], { beta: 0.7 }),
  c('Gemm', 13, [x(2, 3), x(3, 4), x(1, 4)], { alpha: 1, beta: 1 }),
  c('Gemm', 13, [x(2, 3), floats([1, 0, 2, -1, 0.5, 3], [3, 2]), floats([0.5, -0.5])], {}, { note: 'constant B and C' }),

  // ---- reductions ----
  c('ReduceSum', 11, [x(2, 3, 4)], { axes: [1], keepdims: 1 }),
  c('ReduceSum', 11, [x(2, 3, 4)], { axes: [-1, 0], keepdims: 0 }),
  c('ReduceSum', 11, [x(2, 3)], { keepdims: 0 }, { note: 'all axes' }),
  c('ReduceSum', 13, [x(2, 3, 4), ints([1])], { keepdims: 0 }),
  c('ReduceSum', 13, [x(2, 3, 4), ints([-1])], { keepdims: 1 }),
  c('ReduceSum', 13, [x(2, 3)], { keepdims: 1 }, { note: 'all axes' }),
  c('ReduceSum', 13, [x(2, 3), ints([], [0])], { noop_with_empty_axes: 1 }, { note: 'empty axes, noop' }),
  c('ReduceSum', 18, [x(2, 3, 4), ints([0, 2])], { keepdims: 0 }),
  c('ReduceSum', 13, [x(2, 3, 4), fed([1])], { keepdims: 0 }, { note: 'run-time axes' }),
  c('ReduceMax', 13, [x(2, 5)], { axes: [1], keepdims: 0 }, { note: 'the QA tutorial\'s max over positions' }),
  c('ReduceMax', 13, [x(2, 3, 4)], { axes: [-1, 0], keepdims: 1 }),
  c('ReduceMax', 13, [x(2, 3)], { keepdims: 0 }, { note: 'all axes' }),
  c('ReduceMax', 18, [x(2, 3, 4), ints([1])], { keepdims: 0 }),
  c('ReduceMin', 13, [x(3, 4)], { axes: [0], keepdims: 1 }),
  c('ReduceMin', 18, [x(2, 3, 4), ints([2])], { keepdims: 0 }),
  c('ReduceSum', 18, [x(2, 3, 4), fed([-1, 0])], { keepdims: 1 }, { note: 'run-time axes' }),
  c('ReduceMean', 17, [x(2, 3, 4)], { axes: [1], keepdims: 1 }),
  c('ReduceMean', 17, [x(2, 3, 4)], { axes: [-2, -1], keepdims: 0 }),
  c('ReduceMean', 11, [x(2, 3)], { keepdims: 0 }, { note: 'all axes' }),
  c('ReduceMean', 18, [x(2, 3, 4), ints([-1])], { keepdims: 0 }),
  c('ReduceMean', 18, [x(2, 3)], { keepdims: 1 }, { note: 'all axes' }),
  c('ReduceMean', 18, [x(2, 3, 4), ints([0, 2])], { keepdims: 1 }),
  c('ReduceMean', 18, [x(2, 3, 4), fed([1])], { keepdims: 0 }, { note: 'run-time axes' }),
  c('ReduceMean', 18, [x(2, 3, 4), fed([-1, 0])], { keepdims: 1 }, { note: 'run-time axes' }),

  // ---- softmax, layer norm ----
  c('Softmax', 11, [x(2, 3, 4)], { axis: 1 }, { note: '2-D coercion' }),
  c('Softmax', 11, [x(2, 3, 4)], {}, { note: 'default axis 1, 2-D coercion' }),
  c('Softmax', 11, [x(2, 3)], { axis: -1 }),
  c('Softmax', 13, [x(2, 3, 4)]),
  c('Softmax', 13, [x(2, 3, 4)], { axis: 1 }),
  c('Softmax', 13, [x(3, 2)], { axis: 0 }),
  c('LogSoftmax', 11, [x(2, 3, 4)], { axis: 1 }, { note: '2-D coercion' }),
  c('LogSoftmax', 11, [x(2, 3)], { axis: -1 }),
  c('LogSoftmax', 13, [x(2, 3, 4)]),
  c('LogSoftmax', 13, [x(2, 3, 4)], { axis: -2 }),
  c('LayerNormalization', 17, [x(2, 3, 4), floats([1, 0.5, -1, 2]), floats([0.1, 0.2, 0.3, 0.4])]),
  c('LayerNormalization', 17, [x(2, 3, 4), floats([1, 2, 3, 0.5, 0.25, -1, 1, 1, 2, 0.5, 1, 3], [3, 4]), floats([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], [3, 4])], { axis: 1 }),
  c('LayerNormalization', 18, [x(3, 5), floats([1, 2, 3, 4, 5])], { axis: -1, epsilon: 1e-3 }, { note: 'no bias' }),

  // ---- shape ops ----
  c('Transpose', 11, [x(2, 3, 4)], {}, { note: 'default perm' }),
  c('Transpose', 13, [x(2, 3, 4)], { perm: [1, 2, 0] }),
  c('Transpose', 13, [x(2, 3)], { perm: [1, 0] }),
  c('Reshape', 13, [x(2, 3, 4), ints([0, -1])]),
  c('Reshape', 11, [x(6), ints([2, 3])]),
  c('Reshape', 14, [x(2, 3), ints([3, 1, 2])]),
  c('Reshape', 13, [x(2, 3, 2), fed([3, -1])], {}, { note: 'run-time shape' }),
  c('Flatten', 11, [x(2, 3, 4)]),
  c('Flatten', 13, [x(2, 3, 4)], { axis: 0 }),
  c('Flatten', 13, [x(2, 3, 4)], { axis: -1 }),
  c('Squeeze', 11, [x(2, 1, 3)], { axes: [1] }),
  c('Squeeze', 11, [x(1, 3, 1)], {}, { note: 'no axes' }),
  c('Squeeze', 13, [x(2, 3, 1), ints([-1])]),
  c('Squeeze', 13, [x(1, 3, 1)], {}, { note: 'no axes' }),
  c('Squeeze', 13, [x(2, 1, 3, 1), fed([1, -1])], {}, { note: 'run-time axes' }),
  c('Unsqueeze', 11, [x(2, 3)], { axes: [0, -1] }),
  c('Unsqueeze', 13, [x(2, 3), ints([1])]),
  c('Unsqueeze', 13, [x(), ints([0])], {}, { note: 'scalar' }),
  c('Unsqueeze', 13, [x(2, 3), fed([0, 3])], {}, { note: 'run-time axes' }),
  c('Expand', 13, [x(3, 1), ints([2, 3, 4])]),
  c('Expand', 11, [x(4), ints([2, 3, 4])]),
  c('Expand', 13, [x(1), ints([3])]),
  c('Expand', 13, [x(2, 1), ints([1, 1, 3])]),
  c('Expand', 13, [x(3, 1), fed([2, 1, 4])], {}, { note: 'run-time shape' }),
  c('Concat', 13, [x(2, 3), x(2, 1), x(2, 2)], { axis: -1 }, { note: '3 inputs' }),
  c('Concat', 11, [x(1, 3), x(2, 3)], { axis: 0 }),
  c('Concat', 13, [x(2, 2), floats([7, 8], [2, 1]), x(2, 3)], { axis: 1 }, { note: 'constant middle input' }),
  c('Split', 11, [x(2, 3)], { axis: -1, split: [1, 2] }, { outputs: ['float', 'float'] }),
  c('Split', 13, [x(3, 2), ints([2, 1])], { axis: 0 }, { outputs: ['float', 'float'] }),
  c('Split', 13, [x(6, 2)], {}, { outputs: ['float', 'float', 'float'], note: 'equal parts' }),
  c('Split', 13, [x(2, 6), ints([2, 3, 1])], { axis: 1 }, { outputs: ['float', 'float', 'float'], of: [1], note: 'only output 1 used' }),
  c('Split', 18, [x(5, 2)], { num_outputs: 2 }, { outputs: ['float', 'float'], note: 'uneven' }),
  c('Split', 13, [x(2, 5), fed([3, 2])], { axis: -1 }, { outputs: ['float', 'float'], note: 'run-time split' }),
  c('Split', 18, [x(2, 6)], { axis: 1, num_outputs: 3 }, { outputs: ['float', 'float', 'float'], of: [0, 2], note: 'middle output unused' }),
  c('Slice', 13, [x(4, 5), ints([1]), ints([3]), ints([0])]),
  c('Slice', 13, [xs([], 5, 6), ints([0, 1]), ints([5, 6]), ints([0, 1]), ints([2, 2])], {}, { note: 'steps 2' }),
  c('Slice', 11, [x(6), ints([-4]), ints([-1])], {}, { note: 'negative starts/ends' }),
  c('Slice', 13, [x(4, 3), ints([1]), ints([1000]), ints([-2])], {}, { note: 'clamped end, negative axis' }),
  c('Slice', 13, [x(4, 5), ints([-100]), ints([100]), ints([1])], {}, { note: 'clamped both, whole axis' }),
  c('Slice', 13, [xs([1], 5, 2), ints([-1]), ints([-1000]), ints([0]), ints([-1])], {}, { note: 'reversed' }),
  c('Slice', 18, [xs([1], 6, 3), ints([4]), ints([0]), ints([0]), ints([-2])], {}, { note: 'step -2' }),
  c('Slice', 11, [x(3, 4), ints([0, 1]), ints([2, 3])], {}, { note: 'no axes' }),
  c('Slice', 13, [x(2, 5), ints([1]), ints([INT64_MAX]), ints([-1])], {}, { note: 'end INT64_MAX' }),
  c('Slice', 11, [x(4, 3), ints([INT64_MIN]), ints([-1])], {}, { note: 'start INT64_MIN' }),
  c('Slice', 13, [xs([1], 4, 3), ints([INT64_MAX]), ints([INT64_MIN]), ints([0]), ints([-1])], {}, { note: 'reversed, INT64 bounds' }),
  c('Slice', 13, [xs([0], 3, 7), ints([1]), ints([7]), ints([1]), ints([3])], {}, { note: 'step 3' }),
  c('Gather', 13, [x(5, 3), ints([0, 2])]),
  c('Gather', 11, [x(5, 3), ints([4, 1, 3])]),
  c('Gather', 16, [x(5, 3), ints([1, 1, 3])], {}, { note: 'repeated indices' }),
  c('Gather', 16, [x(3, 5), ints([0, 4, 4, 2], [2, 2])], { axis: 1 }, { note: '2-D indices, repeated' }),
  c('Gather', 13, [x(4, 3), int(2)], {}, { note: 'scalar index' }),
  c('Gather', 18, [x(4, 3), int(-1)], { axis: 1 }, { note: 'scalar negative index' }),
  c('Gather', 16, [x(2, 4, 3), ints([3, -1, 0])], { axis: 1 }, { note: 'negative index' }),
  c('Gather', 16, [x(2, 4, 3), ints([1, 0], [2, 1])], { axis: -1 }, { note: '2-D indices, last axis' }),
  c('Gather', 16, [x(4, 3), fed([3, 3, -4, 1, 0, 2], [3, 2])], {}, { note: 'run-time 2-D indices, repeated and negative' }),
  c('GatherElements', 16, [x(3, 4), ints([0, 3, 3, 1, 2, 0], [3, 2])], { axis: 1 }, { note: 'repeated indices' }),
  c('GatherElements', 13, [x(3, 4), ints([2, 0, 1, 2], [2, 2])], { axis: 0 }, { note: 'unique along the axis' }),
  c('GatherElements', 16, [x(2, 3, 4), ints([1, -1, 0, 2, 3, -4], [2, 3, 1])], { axis: 2 }, { note: 'negative indices, last axis' }),
  c('Tile', 13, [x(2, 3), ints([2, 1])]),
  c('Tile', 11, [x(3), ints([3])]),
  c('Tile', 13, [x(2, 1, 2), ints([1, 3, 2])]),
  c('Pad', 13, [x(2, 3), ints([1, 0, 2, 1])]),
  c('Pad', 11, [x(3, 4), ints([0, -1, 1, -1])], {}, { note: 'negative pads' }),
  c('Pad', 13, [x(2, 3), ints([0, 1, 0, 2]), scalar(0.5)], { mode: 'constant' }, { note: 'constant value' }),
  c('Pad', 18, [x(2, 3), ints([2, 1]), none, ints([-1])], {}, { note: 'axes input' }),
  c('Pad', 13, [x(2, 3), fed([1, -1, 0, 2])], {}, { note: 'run-time pads' }),
  c('CumSum', 11, [x(2, 3), int(1)]),
  c('CumSum', 14, [x(4), int(0, 'int32')], { exclusive: 1 }),
  c('CumSum', 13, [x(2, 3), int(-2)], { reverse: 1 }),
  c('CumSum', 14, [x(3, 2), int(1)], { exclusive: 1, reverse: 1 }),
  c('CumSum', 14, [x(3, 2), fed([0], [])], { exclusive: 1 }, { note: 'run-time axis' }),
  c('Trilu', 14, [x(3, 4)]),
  c('Trilu', 14, [x(3, 4), int(1)], { upper: 0 }),
  c('Trilu', 14, [x(2, 3, 3), int(-1)], { upper: 1 }),
  c('Trilu', 14, [x(3, 3), fed([1], [])], { upper: 0 }, { note: 'run-time k' }),
];

// ---------------------------------------------------------------------------------------------------------------

const hostType = (t: number): DType => {
  switch (t) {
    case DT.FLOAT: return 'float32';
    case DT.DOUBLE: return 'float64';
    case DT.INT64: return 'int64';
    case DT.INT32: return 'int32';
    case DT.BOOL: return 'bool';
    default: throw new Error(`unsupported type ${t}`);
  }
};
const elemType = (k: Kind, float: FloatType): number => {
  switch (k) {
    case 'float': return float === 'float64' ? DT.DOUBLE : DT.FLOAT;
    case 'float32': return DT.FLOAT;
    case 'float64': return DT.DOUBLE;
    case 'int64': return DT.INT64;
    case 'int32': return DT.INT32;
    case 'bool': return DT.BOOL;
  }
};

/** A model to differentiate: how to build it for a float type (static or symbolic shapes), and its inputs. */
interface Problem {
  name: string;
  /** Differentiable inputs (the wrt tensors), in graph-input order. */
  diff: { name: string; shape: number[]; gen: Gen; kind: Kind }[];
  of: string[];
  /** Element types of the `of` outputs and the ops involved. */
  kinds: Kind[];
  /** Non-differentiable graph inputs and their values. */
  fixed: { name: string; shape: number[]; values: number[]; kind: Kind }[];
  build(float: FloatType, symbolic: boolean): ModelProto;
  /** Whether a symbolic variant exists (some differentiable input has a dim to make symbolic). */
  hasSymbolic: boolean;
}

function caseName(k: Case): string {
  const num = (v: number) => (v >= INT64_MAX ? 'INT64_MAX' : v <= INT64_MIN ? 'INT64_MIN' : String(v));
  const values = (i: ConstIn | FedIn) => (i.shape.length ? `[${i.values.map(num).join(',')}]` : num(i.values[0]!));
  const inputs = k.inputs.map((i) => (i === null ? '_' : i.kind === 'diff' ? `[${i.shape.join(',')}]` : i.kind === 'fed' ? `fed ${values(i)}` : `=${values(i)}`));
  const attrs = Object.entries(k.attrs ?? {}).map(([n, v]) => `${n}=${Array.isArray(v) ? `[${v.join(',')}]` : String(v)}`);
  return `${k.op}@${k.opset} ${inputs.join(', ')}${attrs.length ? ` {${attrs.join(', ')}}` : ''}${k.note ? ` (${k.note})` : ''}`;
}

function caseProblem(k: Case): Problem {
  const outKinds = k.outputs ?? ['float'];
  const outNames = outKinds.map((_, i) => `y${i}`);
  const ofIdx = k.of ?? outKinds.flatMap((t, i) => (t === 'bool' || t.startsWith('int') ? [] : [i]));
  const diff = k.inputs.flatMap((i, n) => (i?.kind === 'diff' ? [{ name: `x${n}`, shape: i.shape, gen: i.gen, kind: i.type as Kind, sym: i.sym }] : []));
  return {
    name: caseName(k),
    diff,
    of: ofIdx.map((i) => outNames[i]!),
    kinds: [...ofIdx.map((i) => outKinds[i]!), ...k.inputs.flatMap((i) => (i ? [i.type] : []))],
    fixed: k.inputs.flatMap((i, n) => (i?.kind === 'fed' ? [{ name: `x${n}`, shape: i.shape, values: i.values, kind: i.type }] : [])),
    hasSymbolic: k.symbolic !== false && diff.some((d) => (d.sym ?? d.shape.map((_, a) => a)).length > 0),
    build(float, symbolic) {
      const inputs = k.inputs.map((i, n): ModelInput | ModelConst | null => {
        if (!i) return null;
        const name = `x${n}`;
        const type = elemType(i.type, float);
        if (i.kind === 'const') return { name, elemType: type, dims: i.shape, values: i.values };
        if (i.kind === 'fed') return { name, elemType: type, shape: i.shape };
        const symAxes = i.sym ?? i.shape.map((_, a) => a);
        const shape = symbolic ? i.shape.map((d, a) => (symAxes.includes(a) ? `${name}_d${a}` : d)) : i.shape;
        return { name, elemType: type, shape };
      });
      const outputs: ModelOutput[] = outKinds.map((t, i) => ({ name: outNames[i]!, elemType: elemType(t, float) }));
      return opModel(k.op, k.opset, k.attrs ?? {}, inputs, outputs);
    },
  };
}

interface Variant {
  label: string;
  session: Session;
}
interface Built {
  float: FloatType;
  fwd: Session;
  variants: Variant[];
}

class StageError extends Error {
  constructor(readonly stage: 'forward' | 'backward', override readonly cause: Error) {
    super(`${stage}: ${cause.message}`);
  }
}

const SESSION_OPTIONS = { threads: 1 };

async function build(p: Problem, float: FloatType): Promise<Built> {
  const sessions: Session[] = [];
  try {
    let fwd: Session;
    try {
      fwd = await Session.create(p.build(float, false), SESSION_OPTIONS);
    } catch (e) {
      throw new StageError('forward', e as Error);
    }
    sessions.push(fwd);
    const variants: Variant[] = [];
    for (const symbolic of p.hasSymbolic ? [false, true] : [false]) {
      const label = symbolic ? 'symbolic dims' : 'static dims';
      let grad: ModelProto;
      try {
        grad = vjpModel(p.build(float, symbolic), { of: p.of, wrt: p.diff.map((d) => d.name) });
      } catch (e) {
        throw new Error(`${label}: vjpModel failed: ${(e as Error).message}`);
      }
      let session: Session;
      try {
        session = await Session.create(grad, SESSION_OPTIONS);
      } catch (e) {
        if (/Could not find an implementation|NOT_IMPLEMENTED/.test((e as Error).message)) throw new StageError('backward', e as Error);
        throw new Error(`${label}: ONNX Runtime rejects the VJP model: ${(e as Error).message}`);
      }
      sessions.push(session);
      variants.push({ label, session });
    }
    return { float, fwd, variants };
  } catch (e) {
    for (const s of sessions) await s.release();
    throw e;
  }
}

function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Cases that needed float32, with the reason. */
const FELL_BACK: string[] = [];
/** Largest relative errors seen, per precision (finite differences, inner product). */
const WORST = { float64: { fd: 0, inner: 0 }, float32: { fd: 0, inner: 0 } };

async function check(p: Problem, diag: (msg: string) => void): Promise<void> {
  let built: Built;
  try {
    built = await build(p, 'float64');
  } catch (e) {
    if (!(e instanceof StageError)) throw e;
    const reason = e.message.replace(/^(forward|backward): ONNX Runtime cannot load the model: /, '$1: ');
    FELL_BACK.push(`${p.name}: ${reason}`);
    diag(`float32 fallback (${reason})`);
    built = await build(p, 'float32');
  }
  const float = built.float;
  const isF32 = float === 'float32' || p.kinds.includes('float32');
  const precision = isF32 ? 'float32' : 'float64';
  const { eps, tol } = PRECISION[precision];
  const typeOf = (k: Kind) => hostType(elemType(k, float));
  const round = (k: Kind) => (typeOf(k) === 'float32' ? Math.fround : (v: number) => v);

  try {
    const r = rng(seedOf(p.name));
    const x0 = p.diff.map((d) => Array.from({ length: size(d.shape) }, () => round(d.kind)(d.gen(r))));
    const fixed = p.fixed.map((f) => [f.name, tensor(typeOf(f.kind), f.values, f.shape)] as const);
    const feeds = (xs: number[][]): Record<string, HostTensor> =>
      Object.fromEntries([...fixed, ...p.diff.map((d, i) => [d.name, tensor(typeOf(d.kind), xs[i]!, d.shape)] as const)]);

    const y0 = await built.fwd.run(feeds(x0), p.of);
    const v = p.of.map((o) => Array.from({ length: y0[o]!.data.length }, () => (y0[o]!.type === 'float32' ? Math.fround(r.normal()) : r.normal())));
    const loss = async (xs: number[][]): Promise<number> => {
      const y = await built.fwd.run(feeds(xs), p.of);
      let s = 0;
      p.of.forEach((o, k) => {
        const data = y[o]!.data;
        for (let j = 0; j < data.length; j++) s += v[k]![j]! * Number(data[j]);
      });
      return s;
    };
    const perturb = (xs: number[][], i: number, j: number, delta: number): number[][] =>
      xs.map((a, n) => (n === i ? a.map((val, m) => (m === j ? round(p.diff[n]!.kind)(val + delta) : val)) : a));

    // Reference: central differences, element by element, for the small inputs.
    const fd: (number[] | null)[] = [];
    for (let i = 0; i < p.diff.length; i++) {
      if (x0[i]!.length > FD_MAX_ELEMENTS) {
        fd.push(null);
        continue;
      }
      const gi: number[] = [];
      for (let j = 0; j < x0[i]!.length; j++) {
        const plus = perturb(x0, i, j, eps), minus = perturb(x0, i, j, -eps);
        gi.push(((await loss(plus)) - (await loss(minus))) / (plus[i]![j]! - minus[i]![j]!));
      }
      fd.push(gi);
    }
    // Direction for the inner-product check, and ⟨v, J·Δx⟩ by central differences along it.
    const u = p.diff.map((d) => Array.from({ length: size(d.shape) }, () => r.normal()));
    const xp = x0.map((a, i) => a.map((val, j) => round(p.diff[i]!.kind)(val + eps * u[i]![j]!)));
    const xm = x0.map((a, i) => a.map((val, j) => round(p.diff[i]!.kind)(val - eps * u[i]![j]!)));
    const dL = (await loss(xp)) - (await loss(xm));

    const gradFeeds = feeds(x0);
    p.of.forEach((o, k) => {
      gradFeeds[cotangentName(o)] = tensor(y0[o]!.type, v[k]!, y0[o]!.dims);
    });
    for (const { label, session } of built.variants) {
      const out = await session.run(gradFeeds, p.diff.map((d) => gradName(d.name))).catch((e: Error) => {
        throw new Error(`${label}: ${e.message}`);
      });
      let inner = 0, scale = 0;
      p.diff.forEach((d, i) => {
        const g = out[gradName(d.name)]!;
        assert.deepEqual(g.dims, d.shape, `${label}: shape of d/d${d.name}`);
        assert.equal(g.type, typeOf(d.kind), `${label}: element type of d/d${d.name}`);
        const data = Array.from(g.data as Float64Array, Number);
        if (fd[i]) {
          const err = relError(data, fd[i]!);
          WORST[precision].fd = Math.max(WORST[precision].fd, err);
          assert.ok(err <= tol, `${label}: d/d${d.name} vs finite differences: relative error ${err.toExponential(2)} > ${tol}\n  vjp ${fmt(data)}\n  fd  ${fmt(fd[i]!)}`);
        }
        for (let j = 0; j < data.length; j++) {
          const term = data[j]! * (xp[i]![j]! - xm[i]![j]!);
          inner += term;
          scale += Math.abs(term);
        }
      });
      const err = Math.abs(inner - dL) / Math.max(scale, 1e-300);
      if (scale > 0) WORST[precision].inner = Math.max(WORST[precision].inner, err);
      assert.ok(scale === 0 ? Math.abs(dL) < 1e-12 : err <= tol, `${label}: ⟨Jᵀv, Δx⟩ = ${inner} vs L(x+Δ/2) − L(x−Δ/2) = ${dL}: relative error ${err.toExponential(2)} > ${tol}`);
    }
  } finally {
    await built.fwd.release();
    for (const { session } of built.variants) await session.release();
  }
}

const fmt = (a: number[]) => `[${a.slice(0, 12).map((v) => v.toPrecision(6)).join(', ')}${a.length > 12 ? ', …' : ''}]`;

// ---------------------------------------------------------------------------------------------------------------

const started = Date.now();

test('every rule in RULES has a case', () => {
  const covered = new Set(CASES.map((k) => k.op));
  // Virtual ops (fused groups such as x · sigmoid(x)) cannot run alone in ONNX Runtime: test/attr/lrp.test.ts checks
  // the SiLU group's gradient against a hand computation.
  const missing = Object.keys(RULES).filter((op) => !covered.has(op) && !VIRTUAL_OPS.has(op));
  assert.deepEqual(missing, [], `rules without a test case: ${missing.join(', ')}`);
  const unknown = [...covered].filter((op) => !RULES[op]);
  assert.deepEqual(unknown, [], `cases for ops without a rule: ${unknown.join(', ')}`);
});

test('case names are unique', () => {
  const names = CASES.map(caseName);
  assert.equal(new Set(names).size, names.length, names.filter((n, i) => names.indexOf(n) !== i).join('; '));
});

for (const k of CASES) {
  const p = caseProblem(k);
  test(p.name, (t) => check(p, (m) => t.diagnostic(m)));
}

// ---- graphs of a few nodes ----

const dbl = (float: FloatType) => (float === 'float64' ? DT.DOUBLE : DT.FLOAT);

test('non-differentiable ops on the path (Shape → ConstantOfShape, ArgMax, Sign) do not break the VJP', (t) =>
  check({
    name: 'Shape/ConstantOfShape/ArgMax/Sign',
    diff: [{ name: 'x', shape: [2, 3], gen: nonzero, kind: 'float' }],
    of: ['y'],
    kinds: ['float'],
    fixed: [],
    hasSymbolic: true,
    build: (float, symbolic) => buildModel({
      opset: 13,
      inputs: [{ name: 'x', elemType: dbl(float), shape: symbolic ? ['b', 's'] : [2, 3] }],
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'ConstantOfShape', inputs: ['s'], outputs: ['twos'], attrs: { value: makeTensor('', dbl(float), [1], [2]) } },
        { op: 'Mul', inputs: ['x', 'twos'], outputs: ['a'] },
        { op: 'ArgMax', inputs: ['x'], outputs: ['am'], attrs: { axis: 1, keepdims: 1 } },
        { op: 'Cast', inputs: ['am'], outputs: ['amf'], attrs: { to: dbl(float) } },
        { op: 'Add', inputs: ['a', 'amf'], outputs: ['b'] },
        { op: 'Sign', inputs: ['x'], outputs: ['sg'] },
        { op: 'Mul', inputs: ['b', 'sg'], outputs: ['y'] },
      ],
      outputs: [{ name: 'y', elemType: dbl(float) }],
    }),
  }, (m) => t.diagnostic(m)));

test('a shared input with several consumers accumulates its gradient (x·x + Exp(x) − x)', (t) =>
  check({
    name: 'fan-out',
    diff: [{ name: 'x', shape: [2, 3], gen: normal, kind: 'float' }],
    of: ['y', 'e'],
    kinds: ['float'],
    fixed: [],
    hasSymbolic: true,
    build: (float, symbolic) => buildModel({
      opset: 13,
      inputs: [{ name: 'x', elemType: dbl(float), shape: symbolic ? ['b', 's'] : [2, 3] }],
      nodes: [
        { op: 'Mul', inputs: ['x', 'x'], outputs: ['sq'] },
        { op: 'Exp', inputs: ['x'], outputs: ['e'] },
        { op: 'Add', inputs: ['sq', 'e'], outputs: ['s'] },
        { op: 'Sub', inputs: ['s', 'x'], outputs: ['y'] },
      ],
      outputs: [{ name: 'y', elemType: dbl(float) }, { name: 'e', elemType: dbl(float) }],
    }),
  }, (m) => t.diagnostic(m)));

test('Cast float → double → float chain', (t) =>
  check({
    name: 'Cast chain',
    diff: [{ name: 'x', shape: [2, 3], gen: normal, kind: 'float32' }],
    of: ['y'],
    kinds: ['float32'],
    fixed: [],
    hasSymbolic: true,
    build: (_float, symbolic) => buildModel({
      opset: 13,
      inputs: [{ name: 'x', elemType: DT.FLOAT, shape: symbolic ? ['b', 's'] : [2, 3] }],
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['d'], attrs: { to: DT.DOUBLE } },
        { op: 'Mul', inputs: ['d', 'd'], outputs: ['sq'] },
        { op: 'Cast', inputs: ['sq'], outputs: ['y'], attrs: { to: DT.FLOAT } },
      ],
      outputs: [{ name: 'y', elemType: DT.FLOAT }],
    }),
  }, (m) => t.diagnostic(m)));

test('Gather with indices not known to be unique fails clearly before opset 16', () => {
  const model = opModel('Gather', 13, {}, [
    { name: 'x', elemType: DT.FLOAT, shape: [4, 3] },
    { name: 'i', elemType: DT.INT64, dims: [2, 2], values: [0, 1, 2, 3] },
  ], [{ name: 'y', elemType: DT.FLOAT }]);
  assert.throws(() => vjpModel(model, { of: ['y'], wrt: ['x'] }), (e: unknown) => e instanceof GradlensError && /Gather.*opset 13.*needs opset 16/.test(e.message));
});

function missingRuleModel(op: string, opset: number, attrs: Record<string, AttrValue>, extraInputs: ModelInput[] = []): ModelProto {
  return buildModel({
    opset,
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [2, 3] }, ...extraInputs],
    nodes: [
      { op: 'Exp', inputs: ['x'], outputs: ['e'], name: 'exp_node' },
      { op, inputs: ['e', ...extraInputs.map((i) => i.name)], outputs: ['h'], attrs, name: `my_${op.toLowerCase()}` },
      { op: 'Mul', inputs: ['h', 'x'], outputs: ['y'], name: 'mul_node' },
    ],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
}

type MissingCase = [op: string, opset: number, attrs: Record<string, AttrValue>, extra: ModelInput[]];

function assertMissingRule([op, opset, attrs, extra]: MissingCase): void {
  assert.ok(!RULES[op], `${op} has a rule now: pick another op for this test`);
  assert.throws(
    () => vjpModel(missingRuleModel(op, opset, attrs, extra), { of: ['y'], wrt: ['x'] }),
    (e: unknown) => {
      assert.ok(e instanceof GradlensError, `${op}: expected a GradlensError, got ${String(e)}`);
      assert.match(e.message, new RegExp(`\\b${op}\\b`));
      assert.match(e.message, new RegExp(`opset ${opset}\\b`));
      assert.match(e.message, new RegExp(`my_${op.toLowerCase()}`));
      assert.equal(e.message.split('\n').length, 1, 'one line');
      return true;
    },
    `${op}: vjpModel does not fail`,
  );
}

test('an op without a rule on the path fails with one error naming op type, opset and node', () => {
  for (const k of [
    ['Det', 13, {}, []],
    ['Acos', 13, {}, []],
    ['Asin', 13, {}, []],
  ] as MissingCase[]) assertMissingRule(k);
});

// Shape inference does not know these ops, so their outputs have no known element type.
test('an op without a rule on the path fails also when shape inference does not know it', () => {
  for (const k of [
    ['Hardmax', 13, { axis: -1 }, []],
    ['Atan', 13, {}, []],
  ] as MissingCase[]) assertMissingRule(k);
});

test('an op without a rule off the path does not matter', async () => {
  // Hardmax of a constant-only branch: y = x · Hardmax(w), differentiated w.r.t. x only.
  const model = buildModel({
    opset: 13,
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [2, 3] }, { name: 'w', elemType: DT.FLOAT, shape: [2, 3] }],
    nodes: [
      { op: 'Hardmax', inputs: ['w'], outputs: ['h'] },
      { op: 'Mul', inputs: ['h', 'x'], outputs: ['y'] },
    ],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  const grad = vjpModel(model, { of: ['y'], wrt: ['x'] });
  const session = await Session.create(grad);
  const out = await session.run({
    x: tensor('float32', [1, 2, 3, 4, 5, 6], [2, 3]),
    w: tensor('float32', [0, 5, 1, 7, 2, 3], [2, 3]),
    [cotangentName('y')]: tensor('float32', [1, 1, 1, 2, 2, 2], [2, 3]),
  });
  assert.deepEqual(Array.from(out[gradName('x')]!.data as Float32Array), [0, 1, 0, 2, 0, 0]);
  await session.release();
});

after(() => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const worst = (['float64', 'float32'] as const).map((p) => `${p} fd ${WORST[p].fd.toExponential(1)}, inner ${WORST[p].inner.toExponential(1)}`).join('; ');
  console.log(`rules.test: ${CASES.length} rule cases in ${seconds} s; worst relative errors: ${worst}; float32 fallbacks (${FELL_BACK.length}):${FELL_BACK.map((f) => `\n  ${f}`).join('')}`);
});
