import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { GradlensError } from '../../src/errors.js';
import { Session, tensor } from '../../src/runtime/session.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { buildModel, DT, type ModelNode } from './op-model.js';

/*
 * Max pools on exact ties: the gradient goes to the first maximum of each window in window scan order (row-major
 * over the kernel, padding never wins), as PyTorch's max_pool and its indices do. The expected values are worked out
 * by hand (and agree with torch.nn.functional.max_pool{1,2}d(..., return_indices=True)).
 */

/** x → Relu → r → op → y; the gradient with respect to r (the pool's input, ties where Relu gives 0). */
function reluPool(opset: number, op: string, attrs: Record<string, AttrValue>, shape: number[]): ModelProto {
  const nodes: ModelNode[] = [
    { op: 'Relu', inputs: ['x'], outputs: ['r'] },
    { op, inputs: ['r'], outputs: ['y'], attrs },
  ];
  return buildModel({ opset, nodes, inputs: [{ name: 'x', elemType: DT.FLOAT, shape }], outputs: [{ name: 'y', elemType: DT.FLOAT }] });
}

async function gradOfPool(model: ModelProto, x: number[], shape: number[], cotangent: number[], cotShape: number[]): Promise<number[]> {
  const grad = vjpModel(model, { of: ['y'], wrt: ['r'] });
  const session = await Session.create(grad, { threads: 1 });
  try {
    const r = x.map((v) => Math.max(v, 0));
    const out = await session.run({ r: tensor('float32', r, shape), [cotangentName('y')]: tensor('float32', cotangent, cotShape) }, [gradName('r')]);
    return Array.from(out[gradName('r')]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

for (const opset of [9, 13]) {
  test(`MaxPool@${opset}: ties after Relu (all-zero and repeated maxima) go to the first element of each window`, async () => {
    // 2x2 windows, stride 2, on relu(x) =  0 0 | 1 2
    //                                      0 0 | 2 1
    //                                      3 3 | 0 5
    //                                      3 1 | 5 0
    // first maxima in scan order: (0,0) of the zeros, (0,3), (2,0), (2,3)
    const x = [-1, -2, 1, 2, -3, -0.5, 2, 1, 3, 3, -1, 5, 3, 1, 5, -2];
    const model = reluPool(opset, 'MaxPool', { kernel_shape: [2, 2], strides: [2, 2] }, [1, 1, 4, 4]);
    const got = await gradOfPool(model, x, [1, 1, 4, 4], [1, 2, 3, 4], [1, 1, 2, 2]);
    assert.deepEqual(got, [1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0]);
  });

  test(`MaxPool@${opset}: overlapping 3x3 windows, stride 2, pad 1 (ResNet) on all zeros: the first element inside the input`, async () => {
    // Windows cover rows/cols [-1, 1] and [1, 3]; padding is never the maximum, so each window's first input element
    // wins: (0,0), (0,1), (1,0), (1,1) — also (1,1), which all four windows contain, only for the last one.
    const x = Array(16).fill(-1);
    const model = reluPool(opset, 'MaxPool', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, [1, 1, 4, 4]);
    const got = await gradOfPool(model, x, [1, 1, 4, 4], [1, 2, 3, 4], [1, 1, 2, 2]);
    assert.deepEqual(got, [1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  test(`MaxPool@${opset}: 1-D windows of size 3, stride 1, sharing their tied maxima`, async () => {
    // r = [1, 2, 2, 0, 2]: windows [1,2,2] → index 1, [2,2,0] → index 1, [2,0,2] → index 2
    const model = reluPool(opset, 'MaxPool', { kernel_shape: [3] }, [1, 1, 5]);
    const got = await gradOfPool(model, [1, 2, 2, -4, 2], [1, 1, 5], [1, 10, 100], [1, 1, 3]);
    assert.deepEqual(got, [0, 11, 100, 0, 0]);
  });

  test(`GlobalMaxPool@${opset}: ties go to the first element of each channel`, async () => {
    // channel 0: all 1 → (0,0); channel 1: [[0, 3], [3, 1]] (the 0 from Relu) → (0,1)
    const model = reluPool(opset, 'GlobalMaxPool', {}, [1, 2, 2, 2]);
    const got = await gradOfPool(model, [1, 1, 1, 1, -2, 3, 3, 1], [1, 2, 2, 2], [5, 7], [1, 2, 1, 1]);
    assert.deepEqual(got, [5, 0, 0, 0, 0, 7, 0, 0]);
  });
}

// ---- forms the rules refuse, each with one clear line ----

function assertRefused(model: ModelProto, wrt: string[], pattern: RegExp): void {
  assert.throws(() => vjpModel(model, { of: ['y'], wrt }), (e: unknown) => {
    assert.ok(e instanceof GradlensError, `expected a GradlensError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return true;
  });
}

test('Conv with a differentiable weight fails clearly (only the data input is differentiated)', () => {
  const model = buildModel({
    opset: 13,
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], name: 'my_conv' }],
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [1, 1, 4, 4] }, { name: 'w', elemType: DT.FLOAT, shape: [1, 1, 2, 2] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  assertRefused(model, ['x', 'w'], /Conv \(opset 13, node my_conv\).*weight W \(input 1\)/);
});

test('pools and convolutions with symbolic spatial dims before opset 10 (11 for run-time pads) fail clearly', () => {
  const pool = (opset: number, attrs: Record<string, AttrValue>) => buildModel({
    opset,
    nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attrs, name: 'my_pool' }],
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [1, 1, 'h', 'w'] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  assertRefused(pool(9, { kernel_shape: [2, 2] }), ['x'], /MaxPool \(opset 9, node my_pool\).*symbolic spatial dims needs opset 10/);
  assertRefused(pool(10, { kernel_shape: [2, 2], auto_pad: 'SAME_UPPER' }), ['x'], /MaxPool \(opset 10, node my_pool\).*symbolic spatial dims needs opset 11/);
  const convT = buildModel({
    opset: 10,
    nodes: [{ op: 'ConvTranspose', inputs: ['x', 'w'], outputs: ['y'], attrs: { strides: [2, 2], output_shape: [6, 6] }, name: 'my_convt' }],
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [1, 1, 'h', 'w'] }],
    consts: [{ name: 'w', elemType: DT.FLOAT, dims: [1, 1, 3, 3], values: Array(9).fill(1) }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  assertRefused(convT, ['x'], /ConvTranspose \(opset 10, node my_convt\).*symbolic spatial dims needs opset 11/);
});
