// Forms of the resampling, padding and Einsum rules that the one-node case table (rules.test.ts) cannot express:
// scales from a Constant node, and the forms the rules refuse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, opModel, DT, type ModelNode } from './op-model.js';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { GradlensError } from '../../src/errors.js';
import { makeAttr, type AttrValue } from '../../src/onnx/attributes.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { Session, tensor } from '../../src/runtime/session.js';
import { rng } from '../helpers.js';

const X_SHAPE = [1, 2, 3, 4];

async function gradOf(model: ModelProto, outDims: number[]): Promise<number[]> {
  const r = rng(11);
  const n = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const x = tensor('float32', Array.from({ length: n(X_SHAPE) }, () => r.normal()), X_SHAPE);
  const g = tensor('float32', Array.from({ length: n(outDims) }, () => r.normal()), outDims);
  const session = await Session.create(vjpModel(model, { of: ['y'], wrt: ['x'] }), { threads: 1 });
  const out = await session.run({ x, [cotangentName('y')]: g }, [gradName('x')]);
  await session.release();
  return Array.from(out[gradName('x')]!.data as Float32Array);
}

const resizeModel = (opset: number, op: string, attrs: Record<string, AttrValue>, scales: 'constant node' | 'initializer' | 'attribute', values: number[]) => {
  const nodes: ModelNode[] = [];
  const inputs = ['x'];
  if (scales === 'constant node') nodes.push({ op: 'Constant', inputs: [], outputs: ['s'], attrs: { value: makeTensor('', DT.FLOAT, [values.length], values) } });
  if (scales !== 'attribute') inputs.push(...(op === 'Resize' && opset >= 11 ? ['', 's'] : ['s']));
  nodes.push({ op, inputs, outputs: ['y'], attrs });
  const model = buildModel({
    opset,
    nodes,
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: X_SHAPE }],
    consts: scales === 'initializer' ? [{ name: 's', elemType: DT.FLOAT, dims: [values.length], values }] : [],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  // An attribute of floats (the test models would write integral values as ints).
  if (scales === 'attribute') model.graph!.node!.at(-1)!.attribute!.push(makeAttr('scales', values, true));
  return model;
};

test('Resize scales from a Constant node (axes of scale 1 skipped statically) give the gradient of the initializer form', async () => {
  for (const mode of ['nearest', 'linear']) {
    const attrs = { mode, coordinate_transformation_mode: 'half_pixel' };
    const values = [1, 1, 2, 0.75];
    const viaConstant = resizeModel(13, 'Resize', attrs, 'constant node', values);
    const resizes = (m: ModelProto) => vjpModel(m, { of: ['y'], wrt: ['x'] }).graph!.node!.filter((n) => n.opType === 'MatMul').length;
    assert.equal(resizes(viaConstant), 2, `${mode}: one matrix product per resized axis`);
    assert.equal(resizes(resizeModel(13, 'Resize', attrs, 'initializer', values)), 4, `${mode}: every axis when the scales are not visible`);
    assert.deepEqual(await gradOf(viaConstant, [1, 2, 6, 3]), await gradOf(resizeModel(13, 'Resize', attrs, 'initializer', values), [1, 2, 6, 3]), mode);
  }
});

function assertRefused(model: ModelProto, pattern: RegExp): void {
  assert.throws(() => vjpModel(model, { of: ['y'], wrt: ['x'] }), (e: unknown) => {
    assert.ok(e instanceof GradlensError, `expected a GradlensError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return true;
  });
}

test('refused forms fail with one line naming the form', () => {
  const x = { name: 'x', elemType: DT.FLOAT, shape: X_SHAPE };
  const scales = { name: 's', elemType: DT.FLOAT, dims: [4], values: [1, 1, 2, 2] };
  const y = [{ name: 'y', elemType: DT.FLOAT }];
  assertRefused(opModel('Resize', 13, { mode: 'cubic' }, [x, null, scales], y), /Resize.*opset 13.*mode "cubic"/);
  assertRefused(opModel('Resize', 18, { mode: 'linear', antialias: 1 }, [x, null, scales], y), /Resize.*opset 18.*antialias=1/);
  assertRefused(resizeModel(8, 'Upsample', { mode: 'nearest' }, 'attribute', [1, 1, 2, 2]), /Upsample.*opset 8.*needs opset 9/);
  assertRefused(opModel('Einsum', 12, { equation: 'ii->i' }, [{ name: 'x', elemType: DT.FLOAT, shape: [3, 3] }], y), /Einsum.*operand 0.*repeats index i/);
  const axes = { name: 'a', elemType: DT.INT64, shape: [1] };
  assertRefused(opModel('Pad', 18, { mode: 'reflect' }, [x, { name: 'p', elemType: DT.INT64, dims: [2], values: [1, 1] }, null, axes], y), /Pad.*reflect.*constant axes/);
});
