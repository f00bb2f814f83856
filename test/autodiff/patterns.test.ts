import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { Graph } from '../../src/graph/graph.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { findFusions } from '../../src/autodiff/patterns.js';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { Session, tensor } from '../../src/runtime/session.js';
import { fixture, readJson, flat, dimsOf, relError, type Nested } from '../helpers.js';

// Decomposed LayerNorm (opset 14 exports) and erf-GELU groups are differentiated as one op each. The fused and the
// op-by-op gradients must agree (float32, 1e-5 relative to the largest entry); bert.test.ts checks both against
// PyTorch autograd.
const EMB = '/bert/embeddings/LayerNorm/Add_1_output_0';

test('the opset-14 BERT export has 5 decomposed LayerNorms and 2 erf-GELUs, all found', () => {
  const model = readModelFile(fixture('bert', 'qa-opset14.onnx'));
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const fusions = findFusions(graph, shapes, graph.nodes, new Set(graph.nodes.flatMap((n) => n.output ?? [])), new Set(graph.outputNames()));
  const kinds = fusions.map((f) => f.node.opType).sort();
  assert.deepEqual(kinds, ['Gelu', 'Gelu', 'LayerNormalization', 'LayerNormalization', 'LayerNormalization', 'LayerNormalization', 'LayerNormalization']);
  for (const f of fusions) assert.equal(f.members.size, f.node.opType === 'Gelu' ? 5 : 9);
});

test('fused and op-by-op gradients agree; the fused backward has fewer nodes', async () => {
  const fx = readJson<{ inputs: Record<string, Nested>; embeddings: Nested; forward: Record<string, Nested> }>(fixture('bert', 'qa-opset14.json'));
  const model = readModelFile(fixture('bert', 'qa-opset14.onnx'));
  const spec = { of: ['start_logits', 'end_logits'], wrt: [EMB] };
  const fused = vjpModel(model, spec);
  const plain = vjpModel(model, { ...spec, fuse: false });
  assert.ok(fused.graph!.node!.length < plain.graph!.node!.length - 40, `${fused.graph!.node!.length} vs ${plain.graph!.node!.length} nodes`);
  const feeds: Record<string, ReturnType<typeof tensor>> = {
    attention_mask: tensor('int64', flat(fx.inputs['attention_mask']!), dimsOf(fx.inputs['attention_mask']!)),
    [EMB]: tensor('float32', flat(fx.embeddings), dimsOf(fx.embeddings)),
  };
  for (const of of spec.of) {
    const dims = dimsOf(fx.forward[of]!);
    feeds[cotangentName(of)] = tensor('float32', flat(fx.forward[of]!).map((_, i) => Math.sin(i + (of === 'end_logits' ? 7 : 0))), dims);
  }
  const results = [];
  for (const m of [fused, plain]) {
    const s = await Session.create(m);
    results.push((await s.run(feeds, [gradName(EMB)]))[gradName(EMB)]!.data as Float32Array);
    await s.release();
  }
  assert.ok(relError(results[0]!, results[1]!) < 1e-5, `relative difference ${relError(results[0]!, results[1]!)}`);
});

test('a group whose intermediate is observed (an output to differentiate) is not fused', () => {
  const model = readModelFile(fixture('bert', 'qa-opset14.onnx'));
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const observed = '/bert/embeddings/LayerNorm/Div_output_0';
  const fusions = findFusions(graph, shapes, graph.nodes, new Set(graph.nodes.flatMap((n) => n.output ?? [])), new Set([...graph.outputNames(), observed]));
  assert.equal(fusions.filter((f) => f.node.opType === 'LayerNormalization').length, 4);
});
