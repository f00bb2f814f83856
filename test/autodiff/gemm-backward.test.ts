// The backward product of a weight matrix as Gemm(Ḡ, W, transB=1) (rules.ts MatMul) gives exactly the values of the
// textbook MatMul(Ḡ, Transpose(W)), which ONNX Runtime would fold into a transposed copy of the weight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, DT } from './op-model.js';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { Session, tensor } from '../../src/runtime/session.js';
import { rng } from '../helpers.js';

test('MatMul backward w.r.t. the activation: Gemm(G, W, transB=1) equals MatMul(G, Transpose(W)) bit for bit', async () => {
  const r = rng(7);
  const [batch, seq, k, n] = [3, 7, 64, 48];
  const w = Array.from({ length: k * n }, () => r.normal());
  const forward = buildModel({
    opset: 14,
    nodes: [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }],
    inputs: [{ name: 'a', elemType: DT.FLOAT, shape: ['b', 's', k] }],
    consts: [{ name: 'w', elemType: DT.FLOAT, dims: [k, n], values: w }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  const grad = vjpModel(forward, { of: ['y'], wrt: ['a'] });
  assert.ok(grad.graph!.node!.some((x) => x.opType === 'Gemm'), 'the gradient graph uses Gemm');
  assert.ok(!grad.graph!.node!.some((x) => x.opType === 'Transpose'), 'and no transposed weight');
  const textbook = buildModel({
    opset: 14,
    nodes: [{ op: 'Transpose', inputs: ['w'], outputs: ['wt'], attrs: { perm: [1, 0] } }, { op: 'MatMul', inputs: ['g', 'wt'], outputs: ['ga'] }],
    inputs: [{ name: 'g', elemType: DT.FLOAT, shape: ['b', 's', n] }],
    consts: [{ name: 'w', elemType: DT.FLOAT, dims: [k, n], values: w }],
    outputs: [{ name: 'ga', elemType: DT.FLOAT }],
  });
  const a = tensor('float32', Array.from({ length: batch * seq * k }, () => r.normal()), [batch, seq, k]);
  const g = tensor('float32', Array.from({ length: batch * seq * n }, () => r.normal()), [batch, seq, n]);
  const viaGemm = (await (await Session.create(grad)).run({ a, [cotangentName('y')]: g }))[gradName('a')]!;
  const viaMatMul = (await (await Session.create(textbook)).run({ g }))['ga']!;
  assert.deepEqual(viaGemm.dims, [batch, seq, k]);
  assert.deepEqual(Array.from(viaGemm.data as Float32Array), Array.from(viaMatMul.data as Float32Array), 'identical floats');
});
