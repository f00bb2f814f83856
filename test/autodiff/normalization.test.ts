import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { GradlensError } from '../../src/errors.js';
import { Session, tensor } from '../../src/runtime/session.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { buildModel, opModel, DT, type ModelConst } from './op-model.js';
import { rng, assertClose } from '../helpers.js';

/*
 * Normalisation rules beyond the one-node cases of rules.test.ts: GroupNorm as PyTorch exports it before opset 18
 * (Reshape → InstanceNormalization → Reshape → Mul/Add) against the GroupNormalization rule, and the clear failures
 * (training-mode BatchNorm, gradients asked through the parameters).
 */

const W = [1.5, -0.5, 2, 0.5];
const B = [0.1, -0.2, 0.3, 0];
const f32 = (name: string, dims: number[], values: number[]): ModelConst => ({ name, elemType: DT.FLOAT, dims, values });

/** torch.onnx's group_norm: x viewed as [N, G, −1], InstanceNormalization with unit scale, viewed back, then affine. */
function decomposedGroupNorm(symbolic: boolean): ModelProto {
  return buildModel({
    opset: 13,
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: symbolic ? ['n', 4, 'h', 'w'] : [2, 4, 2, 3] }],
    consts: [
      { name: 'grouped', elemType: DT.INT64, dims: [3], values: [0, 2, -1] },
      f32('ones', [2], [1, 1]), f32('zeros', [2], [0, 0]),
      f32('weight', [4, 1, 1], W), f32('bias', [4, 1, 1], B),
    ],
    nodes: [
      { op: 'Reshape', inputs: ['x', 'grouped'], outputs: ['xg'] },
      { op: 'InstanceNormalization', inputs: ['xg', 'ones', 'zeros'], outputs: ['ng'], attrs: { epsilon: 1e-5 } },
      { op: 'Shape', inputs: ['x'], outputs: ['sx'] },
      { op: 'Reshape', inputs: ['ng', 'sx'], outputs: ['n'] },
      { op: 'Mul', inputs: ['n', 'weight'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'bias'], outputs: ['y'] },
    ],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
}

async function gradient(model: ModelProto, x: number[], v: number[]): Promise<number[]> {
  const session = await Session.create(vjpModel(model, { of: ['y'], wrt: ['x'] }), { threads: 1 });
  try {
    const out = await session.run({ x: tensor('float32', x, [2, 4, 2, 3]), [cotangentName('y')]: tensor('float32', v, [2, 4, 2, 3]) });
    return Array.from(out[gradName('x')]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

test('GroupNorm exported decomposed (Reshape → InstanceNormalization → Reshape → Mul/Add) has the GroupNormalization gradient', async () => {
  const r = rng(7);
  const x = Array.from({ length: 48 }, () => Math.fround(r.normal()));
  const v = Array.from({ length: 48 }, () => Math.fround(r.normal()));
  const fused = opModel('GroupNormalization', 21, { num_groups: 2, epsilon: 1e-5 }, [
    { name: 'x', elemType: DT.FLOAT, shape: [2, 4, 2, 3] }, f32('scale', [4], W), f32('b', [4], B),
  ], [{ name: 'y', elemType: DT.FLOAT }]);
  const expected = await gradient(fused, x, v);
  for (const symbolic of [false, true]) assertClose(await gradient(decomposedGroupNorm(symbolic), x, v), expected, 1e-5, symbolic ? 'symbolic dims' : 'static dims');
});

function assertFails(model: ModelProto, wrt: string[], pattern: RegExp): void {
  assert.throws(() => vjpModel(model, { of: ['y'], wrt }), (e: unknown) => {
    assert.ok(e instanceof GradlensError, `expected a GradlensError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return true;
  });
}

const bnInputs = (stats: 'const' | 'input') => [
  { name: 'x', elemType: DT.FLOAT, shape: [2, 3, 2] },
  f32('scale', [3], [1, 2, 3]), f32('b', [3], [0, 0, 0]),
  stats === 'const' ? f32('mean', [3], [0, 0, 0]) : { name: 'mean', elemType: DT.FLOAT, shape: [3] },
  f32('var', [3], [1, 1, 1]),
];

test('BatchNormalization in training mode fails clearly', () => {
  const training = opModel('BatchNormalization', 15, { training_mode: 1 }, bnInputs('const'),
    [{ name: 'y', elemType: DT.FLOAT }, { name: 'rm', elemType: DT.FLOAT }, { name: 'rv', elemType: DT.FLOAT }]);
  assertFails(training, ['x'], /BatchNormalization.*opset 15.*training mode/);
  const statsOutputs = opModel('BatchNormalization', 9, {}, bnInputs('const'),
    [{ name: 'y', elemType: DT.FLOAT }, { name: 'rm', elemType: DT.FLOAT }, { name: 'rv', elemType: DT.FLOAT }]);
  assertFails(statsOutputs, ['x'], /BatchNormalization.*opset 9.*training mode/);
});

test('a normalisation asked for a gradient through its parameters fails clearly', () => {
  assertFails(opModel('BatchNormalization', 15, {}, bnInputs('input'), [{ name: 'y', elemType: DT.FLOAT }]), ['x', 'mean'], /BatchNormalization.*no gradient with respect to mean \(input 3, mean\)/);
  const inorm = opModel('InstanceNormalization', 13, {}, [
    { name: 'x', elemType: DT.FLOAT, shape: [2, 3, 2] }, { name: 's', elemType: DT.FLOAT, shape: [3] }, f32('b', [3], [0, 0, 0]),
  ], [{ name: 'y', elemType: DT.FLOAT }]);
  assertFails(inorm, ['s'], /InstanceNormalization.*no gradient with respect to scale \(input 1, s\)/);
});
