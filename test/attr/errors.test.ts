import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor } from '../../src/runtime/session.js';
import { GradlensError } from '../../src/errors.js';
import { IntegratedGradients } from '../../src/attr/integrated-gradients.js';
import { LayerIntegratedGradients } from '../../src/attr/layer-integrated-gradients.js';
import { Saliency } from '../../src/attr/saliency.js';
import { InputXGradient } from '../../src/attr/input-x-gradient.js';
import { GradientShap } from '../../src/attr/gradient-shap.js';
import { ModelRunner } from '../../src/attr/runner.js';
import type { GradientAttribution } from '../../src/attr/base.js';
import { fixture } from '../helpers.js';
import { mlpModel, randTensor, randMatrix, randVector, tanhSpec, type MlpSpec } from './tiny-models.js';
import { ligFixture, ligInputs } from './lig-fixture.js';

// Every user mistake below must surface as a GradlensError (what the CLI prints as one line, without a stack) whose
// message names the problem.
const [N, K, E] = [5, 3, 3];
const model = mlpModel(tanhSpec(N, 4, K, 1));
const x = randTensor(50, E, N);

function check(e: unknown, message: RegExp, what: string): true {
  assert.ok(e instanceof GradlensError, `${what}: expected a GradlensError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  assert.match(e.message, message, what);
  assert.ok(!e.message.includes('\n'), `${what}: message on one line`);
  return true;
}
const rejects = (p: Promise<unknown>, message: RegExp, what: string) => assert.rejects(p, (e) => check(e, message, what));
const throws = (f: () => unknown, message: RegExp, what: string) => assert.throws(f, (e) => check(e, message, what));

test('errors: wrong target indices, outputs and per-example lists', async () => {
  const ig = new IntegratedGradients(model);
  await rejects(ig.attribute({ x }, { target: 3 }), /target index 3 is out of range for output y \(size 3 on that dim\)/, 'index past the end');
  await rejects(ig.attribute({ x }, { target: -4 }), /target index -4 is out of range/, 'negative index past the start');
  await rejects(ig.attribute({ x }, { target: 1.5 }), /target index 1.5 is out of range/, 'fractional index');
  await rejects(ig.attribute({ x }, { target: [0, 1] }), /target \[0,1\] has 2 indices but output y has 1 dims per example \[3\]/, 'too many dims');
  await rejects(ig.attribute({ x }), /output y has 3 values per example: give a target index/, 'no target for a vector output');
  await rejects(ig.attribute({ x }, { target: { perExample: [0, 1] } }), /target gives 2 indices for 3 examples/, 'per-example list too short');
  await rejects(ig.attribute({ x }, { target: { perExample: [0, 1, 2, 0] } }), /target gives 4 indices for 3 examples/, 'per-example list too long');
  await rejects(ig.attribute({ x }, { target: { perExample: [0, 5, 1] } }), /target index 5 is out of range/, 'one bad per-example index');
  await rejects(ig.attribute({ x }, { output: 'logits', target: 0 }), /output logits is not an output of the model \(outputs: y\)/, 'unknown output');
  await rejects(ig.attribute({ x }, { targets: [] }), /give at least one target/, 'empty targets');
  await rejects(ig.attribute({ x }, { targets: [{ target: 0 }, { target: 7 }] }), /target index 7 is out of range/, 'one bad target among several');
  await ig.runner.release();
});

test('errors: mismatched baseline shapes and missing baselines', async () => {
  const ig = new IntegratedGradients(model);
  await rejects(ig.attribute({ x }, { target: 0, baselines: randTensor(1, E, N + 1) }), /baseline for x has shape \[3,6\] but the input has shape \[3,5\]/, 'wrong row size');
  await rejects(ig.attribute({ x }, { target: 0, baselines: randTensor(1, 2, N) }), /baseline for x has shape \[2,5\] but the input has shape \[3,5\]/, 'wrong batch');
  await rejects(ig.attribute({ x }, { target: 0, baselines: { z: 0 } }), /no baseline given for x/, 'record without the input');
  await rejects(ig.attribute({ x }, { target: 0, baselines: tensor('int64', new Array(E * N).fill(0), [E, N]) }), /baseline for x is int64, not a float tensor/, 'integer baseline');
  const s: MlpSpec = { inputs: [{ name: 'x', size: N }, { name: 'u', size: 2 }], branches: [{ A: { x: randMatrix(1, 4, N), u: randMatrix(2, 4, 2) }, W: randMatrix(3, 4, K), c: randVector(4, K) }] };
  const ig2 = new IntegratedGradients(mlpModel(s), { inputs: ['x', 'u'] });
  await rejects(ig2.attribute({ x, u: randTensor(5, E, 2) }, { target: 0, baselines: { x: 0 } }), /no baseline given for u/, 'record missing one input');
  await rejects(ig2.attribute({ x, u: randTensor(5, E, 2) }, { target: 0, baselines: { x: 0, u: randTensor(6, 1, 3) } }), /baseline for u has shape \[1,3\] but the input has shape \[3,2\]/, 'record with a wrong shape');
  await ig.runner.release();
  await ig2.runner.release();

  const fx = ligFixture;
  const lig = new LayerIntegratedGradients(readModelFile(fixture('bert', fx.models.opset14!.model)), fx.models.opset14!.embeddings_output);
  const { inputs } = ligInputs();
  await rejects(lig.attribute(inputs, { output: 'start_logits', target: 0, baselines: { input_ids: tensor('int64', [101, 0, 102], [1, 3]) } }),
    /baseline input_ids has shape \[1,3\] but the input has shape \[1,9\]/, 'layer baseline input of the wrong length');
  await rejects(lig.attribute(inputs, { output: 'start_logits', target: 0, baselines: { input_idz: inputs.input_ids! } }),
    /baseline input_idz is not an input of the model/, 'layer baseline for an unknown input');
  await rejects(lig.attribute(inputs, { output: 'start_logits', target: 9 }), /target index 9 is out of range for output start_logits \(size 9 on that dim\)/, 'BERT target past the sequence');
  await lig.runner.release();
});

test('errors: nSteps 0 / 2.5, unknown method, auto-only options, internalBatchSize 0', async () => {
  const ig = new IntegratedGradients(model);
  await rejects(ig.attribute({ x }, { target: 0, nSteps: 0 }), /n_steps must be a positive integer, got 0/, 'nSteps 0');
  await rejects(ig.attribute({ x }, { target: 0, nSteps: 2.5 }), /n_steps must be a positive integer, got 2\.5/, 'nSteps 2.5');
  await rejects(ig.attribute({ x }, { target: 0, nSteps: -3 }), /n_steps must be a positive integer, got -3/, 'nSteps −3');
  await rejects(ig.attribute({ x }, { target: 0, method: 'simpson' as never }),
    /unknown integration method "simpson"; expected one of: riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre, trapezoid/, 'unknown method');
  await rejects(ig.attribute({ x }, { target: 0, method: 'riemann_trapezoid', nSteps: 1 }), /riemann_trapezoid needs n_steps >= 2, got 1/, 'trapezoid with one step');
  await rejects(ig.attribute({ x }, { target: 0, nSteps: 'auto', tolerance: 0 }), /tolerance must be positive, got 0/, 'tolerance 0');
  await rejects(ig.attribute({ x }, { target: 0, nSteps: 'auto', multiplyByInputs: false }), /nSteps 'auto' needs multiplyByInputs/, 'auto without multiplying');
  await rejects(ig.attribute({ x }, { target: 0, nSteps: 'auto', maxSteps: 0 }), /maxSteps must be a positive integer, got 0/, 'maxSteps 0');
  for (const internalBatchSize of [0, -1, 2.5]) {
    await rejects(ig.attribute({ x }, { target: 0, internalBatchSize }), new RegExp(`internalBatchSize must be a positive integer, got ${internalBatchSize}`), `IG internalBatchSize ${internalBatchSize}`);
  }
  await rejects(new Saliency(ig.runner).attribute({ x }, { target: 0, internalBatchSize: 0 }), /internalBatchSize must be a positive integer, got 0/, 'Saliency internalBatchSize 0');
  await rejects(new GradientShap(ig.runner).attribute({ x }, { target: 0, baselines: randTensor(1, 2, N), internalBatchSize: 0 }), /internalBatchSize must be a positive integer, got 0/, 'GradientShap internalBatchSize 0');
  await rejects(new GradientShap(ig.runner).attribute({ x }, { target: 0, baselines: tensor('int64', new Array(2 * N).fill(0), [2, N]) }),
    /baselines for x are int64, not a float tensor/, 'GradientShap integer baselines');
  await ig.runner.release();
});

test('errors: layers and inputs that are not in the graph, integer inputs without a layer', async () => {
  const runner = new ModelRunner(model);
  throws(() => new LayerIntegratedGradients(runner, 'no_such_tensor'), /layer no_such_tensor is not a tensor computed by the graph/, 'LayerIG layer');
  throws(() => new IntegratedGradients(runner, { inputs: ['z'] }), /z is not an input of the model \(inputs: x\)/, 'IG input');
  throws(() => new Saliency(runner, { inputs: ['x'], layer: 'h0' }), /give either inputs or a layer, not both/, 'inputs and layer');
  const makers: [string, () => GradientAttribution<any>][] = [
    ['Saliency', () => new Saliency(runner, { layer: 'no_such_tensor' })],
    ['InputXGradient', () => new InputXGradient(runner, { layer: 'no_such_tensor' })],
    ['GradientShap', () => new GradientShap(runner, { layer: 'no_such_tensor' })],
  ];
  for (const [label, make] of makers) {
    // Either at construction or at the first attribute call, but always a GradlensError naming the layer.
    let error: unknown;
    try {
      await make().attribute({ x }, { target: 0, baselines: randTensor(1, 2, N) } as never);
    } catch (e) {
      error = e;
    }
    check(error, /(layer|tensor) no_such_tensor is not/, `${label} with an unknown layer`);
  }
  const bert = new ModelRunner(readModelFile(fixture('bert', 'qa-opset14.onnx')));
  const ids = { input_ids: tensor('int64', [101, 5, 102], [1, 3]), attention_mask: tensor('int64', [1, 1, 1], [1, 3]), token_type_ids: tensor('int64', [0, 0, 0], [1, 3]) };
  await rejects(new Saliency(bert).attribute(ids, { output: 'start_logits', target: 0 }),
    /input input_ids is int64, not a float tensor: attribute to a layer \(e\.g\. the embeddings\) instead/, 'Saliency on token ids');
  await rejects(new IntegratedGradients(bert).attribute(ids, { output: 'start_logits', target: 0 }), /input input_ids is int64, not a float tensor/, 'IG on token ids');
  await rejects(new IntegratedGradients(runner).attribute({}, { target: 0 }), /input '?x'? is missing/, 'missing input');
  await runner.release();
  await bert.release();
});
