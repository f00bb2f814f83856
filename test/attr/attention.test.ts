import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { AttentionWeights, attentionMaps, headMean } from '../../src/attr/attention.js';
import { AttentionRollout, rollout } from '../../src/attr/rollout.js';
import { findAttentionProbs } from '../../src/graph/attention.js';
import { buildModel } from '../autodiff/op-model.js';
import { DT } from '../../src/onnx/tensor.js';
import { fixture, readJson } from '../helpers.js';

// Attention weights and rollout against a PyTorch computation from the same attention probabilities
// (scripts/fixtures/make_lrp_fixtures.py, float64 on the exported weights); ORT runs float32: 1e-5 absolute.

interface AttentionRef { example: number; mask: number[]; probs: number[][][][]; rollout: number[][] }
interface Model { head: string; onnx: string[]; inputs: Record<string, number[][]>; attention: AttentionRef[] }
const ref = readJson<{ models: Model[] }>(fixture('lrp', 'reference.json'));

const rowFeeds = (inputs: Record<string, number[][]>, r: number): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', v[r]!, [1, v[r]!.length])]));

function close(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol, `${what}[${i}]: ${v} vs ${b[i]}`));
}

for (const m of ref.models) {
  for (const onnx of m.onnx) {
    test(`${onnx}: attention probabilities, rollout and the attention / rollout methods equal PyTorch`, async () => {
      const runner = new ModelRunner(readModelFile(fixture('bert', onnx)));
      assert.equal(findAttentionProbs(runner.model).length, 2, 'one softmax per layer');
      for (const a of m.attention) {
        const feeds = rowFeeds(m.inputs, a.example);
        const { maps } = await attentionMaps(runner, feeds);
        assert.equal(maps.length, a.probs.length);
        maps.forEach((layer, l) => layer.forEach((head, h) => head.forEach((row, q) => close(row, a.probs[l]![h]![q]!, 1e-5, `layer ${l} head ${h} row ${q}`))));
        const roll = rollout(maps);
        roll.forEach((row, q) => close(row, a.rollout[q]!, 1e-5, `rollout row ${q}`));
        for (const position of [0, 3]) {
          const [w] = await new AttentionWeights(runner).attribute(feeds, { targets: [{ label: 't', position }] });
          close(Array.from(w!.attributions['attention']!.data as Float64Array), headMean(a.probs[a.probs.length - 1]!)[position]!, 1e-5, 'attention row');
          const [w0] = await new AttentionWeights(runner).attribute(feeds, { targets: [{ label: 't', position }], layer: 0 });
          close(Array.from(w0!.attributions['attention']!.data as Float64Array), headMean(a.probs[0]!)[position]!, 1e-5, 'attention row, layer 0');
          const [r] = await new AttentionRollout(runner).attribute(feeds, { targets: [{ label: 't', position }] });
          close(Array.from(r!.attributions['rollout']!.data as Float64Array), a.rollout[position]!, 1e-5, 'rollout row');
          assert.equal(r!.attention!.weights.length, 2);
          close(r!.attention!.weights[1]![2]!, a.probs[1]![2]![position]!, 1e-5, 'head view: layer 1 head 2');
        }
      }
    });
  }
}

test('a model without attention: one clear refusal naming what was looked for', () => {
  const mlp = buildModel({
    opset: 17, inputs: [{ name: 'x', elemType: DT.FLOAT, shape: [1, 4] }],
    consts: [{ name: 'W', elemType: DT.FLOAT, dims: [4, 4], values: Array.from({ length: 16 }, (_, i) => i / 16) }],
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'] }, { op: 'Softmax', inputs: ['h'], outputs: ['y'] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  });
  assert.throws(() => findAttentionProbs(mlp), /no attention softmax found in the graph \(looked for a Softmax fed, through scaling and mask adds, by a MatMul of two activations, Q·Kᵀ\)/);
});
