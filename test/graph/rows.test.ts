import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { selectRows, pushRowGathers, ROW_SELECTOR } from '../../src/graph/rows.js';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { Session, tensor, type HostTensor } from '../../src/runtime/session.js';
import { Graph } from '../../src/graph/graph.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { fixture, readJson, flat, dimsOf, assertClose, rng, type Nested } from '../helpers.js';

// Row selection rewrites the token-wise tail of a graph to run at a few sequence positions. Its results must be the
// rows of the full graph's results (forward), and gradients through it must equal the full graph's gradients (and
// PyTorch's, for the BERT fixtures). ORT's float32 kernels may block a product differently for fewer rows: 1e-6.
const EXACT = 1e-6;

interface Fixture {
  model: string; embeddings_output: string; outputs: string[]; inputs: Record<string, Nested>; embeddings: Nested;
  grads: { of: string; index: number[]; grad: Nested }[];
}
const feedsOf = (inputs: Record<string, Nested>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', flat(v), dimsOf(v))]));

function oneHot(batch: number, seq: number, rows: number[][]): HostTensor {
  const count = rows[0]!.length;
  const data = new Float32Array(batch * count * seq);
  rows.forEach((list, b) => list.forEach((p, r) => (data[(b * count + r) * seq + p] = 1)));
  return tensor('float32', data, [batch, count, seq]);
}

for (const name of ['qa-opset14', 'qa-opset17']) {
  test(`${name}: selected outputs are the rows of the full outputs; the tail moved to the selected rows`, async () => {
    const fx = readJson<Fixture>(fixture('bert', `${name}.json`));
    const model = readModelFile(fixture('bert', fx.model));
    const sel = selectRows(model, fx.outputs);
    // Last layer: output projection, residual, layer norm, feed-forward block, layer norm, QA head.
    assert.ok(sel.movedNodes >= 10, `only ${sel.movedNodes} nodes moved`);
    const full = await Session.create(model);
    const rows = await Session.create(sel.model);
    const feeds = feedsOf(fx.inputs);
    const [batch, seq] = feeds['input_ids']!.dims as [number, number];
    const positions = [[1, 4, 4], [seq - 1, 0, 2]]; // a repeated position and unsorted ones
    const a = await full.run(feeds);
    const b = await rows.run({ ...feeds, [ROW_SELECTOR]: oneHot(batch, seq, positions) });
    for (const o of fx.outputs) {
      const want = positions.flatMap((list, e) => list.map((p) => Number(a[o]!.data[e * seq + p])));
      assert.deepEqual(b[sel.outputs[o]!]!.dims, [batch, 3]);
      assertClose(b[sel.outputs[o]!]!.data as Float32Array, want, EXACT, `${o} at the selected rows`);
    }
    await full.release();
    await rows.release();
  });

  test(`${name}: gradients with row selection equal the full graph's and PyTorch's`, async () => {
    const fx = readJson<Fixture>(fixture('bert', `${name}.json`));
    const model = readModelFile(fixture('bert', fx.model));
    const emb = fx.embeddings_output;
    const feeds = feedsOf(fx.inputs);
    const [batch, seq] = feeds['input_ids']!.dims as [number, number];
    const wrt = { [emb]: tensor('float32', flat(fx.embeddings), dimsOf(fx.embeddings)) };
    const runner = new ModelRunner(model);
    // PyTorch's one-hot gradients, one copy each, through the runner (which selects their rows).
    const refs = fx.grads;
    const cotangents = refs.map((ref) => Object.fromEntries(fx.outputs.map((o) => {
      const data = new Float32Array(batch * seq);
      if (o === ref.of) data[ref.index[0]! * seq + ref.index[1]!] = 1;
      return [o, tensor('float32', data, [batch, seq])];
    })));
    const grads = await runner.gradient(feeds, wrt, fx.outputs, cotangents);
    assert.equal(runner.counters.selectedRowRuns, 1);
    refs.forEach((ref, k) => assertClose(grads[k]![emb]!.data as Float32Array, flat(ref.grad), 1e-4, `d${ref.of}[${ref.index}] vs PyTorch`));

    // Several non-zero positions per row, different per row, weights other than 1: against the full VJP graph.
    const r = rng(7);
    const sparse = [0, 1].map((k) => Object.fromEntries(fx.outputs.map((o, j) => {
      const data = new Float32Array(batch * seq);
      for (const [e, p] of [[0, 2], [0, 5 + k], [1, j], [1, seq - 1]] as const) data[e * seq + p] = r.normal();
      return [o, tensor('float32', data, [batch, seq])];
    })));
    const selected = await runner.gradient(feeds, wrt, fx.outputs, sparse);
    assert.equal(runner.counters.selectedRowRuns, 2);
    const dense = await Session.create(vjpModel(model, { of: fx.outputs, wrt: [emb], copies: 2 }));
    const denseFeeds: Record<string, HostTensor> = { ...feeds, ...wrt };
    sparse.forEach((set, k) => fx.outputs.forEach((o) => (denseFeeds[cotangentName(o, k)] = set[o]!)));
    const want = await dense.run(denseFeeds);
    for (const k of [0, 1]) assertClose(selected[k]![emb]!.data as Float32Array, want[gradName(emb, k)]!.data as Float32Array, EXACT, `copy ${k}`);
    await dense.release();
    await runner.release();
  });
}

test('token-classification logits [batch, seq, labels]: selected rows keep the label axis; gradients equal the full graph', async () => {
  const dir = fixture('models', 'bert-ner');
  const ref = readJson<{ embeddings_output: string; output_names: string[] }>(`${dir}/reference.json`);
  const model = readModelFile(`${dir}/onnx/model.onnx`);
  const graph = new Graph(model);
  const out = ref.output_names[0]!;
  const labels = inferShapes(graph).get(out)!.shape![2] as number;
  const [batch, seq, hidden] = [2, 7, inferShapes(graph).get(ref.embeddings_output)!.shape![2] as number];
  const r = rng(3);
  const feeds: Record<string, HostTensor> = {};
  for (const n of graph.inputNames()) {
    feeds[n] = tensor('int64', Array.from({ length: batch * seq }, (_, i) => (n === 'input_ids' ? 5 + (i * 7) % 40 : n === 'attention_mask' ? 1 : 0)), [batch, seq]);
  }
  const wrt = { [ref.embeddings_output]: tensor('float32', Array.from({ length: batch * seq * hidden }, () => r.normal()), [batch, seq, hidden]) };
  const data = new Float32Array(batch * seq * labels);
  data[(0 * seq + 3) * labels + 1] = 1;
  data[(1 * seq + 6) * labels + 0] = -2;
  const cot = [{ [out]: tensor('float32', data, [batch, seq, labels]) }];
  const runner = new ModelRunner(model);
  const selected = await runner.gradient(feeds, wrt, [out], cot);
  assert.equal(runner.counters.selectedRowRuns, 1);
  const dense = await Session.create(vjpModel(model, { of: [out], wrt: [ref.embeddings_output] }));
  const want = await dense.run({ ...feeds, ...wrt, [cotangentName(out)]: cot[0]![out]! });
  assertClose(selected[0]![ref.embeddings_output]!.data as Float32Array, want[gradName(ref.embeddings_output)]!.data as Float32Array, EXACT, 'token-classification gradient');
  await dense.release();
  await runner.release();
});

test('outputs without a sequence axis (sentence logits) and dense cotangents use the full graph', async () => {
  const fx = readJson<Fixture>(fixture('bert', 'cls-opset14.json'));
  const model = readModelFile(fixture('bert', fx.model));
  // Axis 1 of [batch, labels] is selectable in principle, but no node of the head treats it row by row.
  assert.equal(selectRows(model, fx.outputs).movedNodes, 0);
  assert.throws(() => selectRows(model, ['/bert/encoder/layer.0/attention/self/Softmax_output_0']), /cannot select rows of .*: it needs shape/);
  const qa = readJson<Fixture>(fixture('bert', 'qa-opset14.json'));
  const qaModel = readModelFile(fixture('bert', qa.model));
  const feeds = feedsOf(qa.inputs);
  const [batch, seq] = feeds['input_ids']!.dims as [number, number];
  const runner = new ModelRunner(qaModel);
  const wrt = { [qa.embeddings_output]: tensor('float32', flat(qa.embeddings), dimsOf(qa.embeddings)) };
  // Non-zero everywhere: selecting rows would not save anything.
  const cot = [Object.fromEntries(qa.outputs.map((o) => [o, tensor('float32', new Float32Array(batch * seq).fill(1), [batch, seq])]))];
  await runner.gradient(feeds, wrt, qa.outputs, cot);
  assert.equal(runner.counters.selectedRowRuns, 0);
  await runner.release();
});

for (const name of ['cls-opset14', 'cls-opset17']) {
  test(`${name}: the pooler's [CLS] gather moves before the last layer's tail; outputs and gradients unchanged`, async () => {
    const fx = readJson<Fixture>(fixture('bert', `${name}.json`));
    const model = readModelFile(fixture('bert', fx.model));
    const emb = fx.embeddings_output;
    const pushed = pushRowGathers(model, [emb]);
    assert.ok(pushed.movedNodes >= 10, `only ${pushed.movedNodes} nodes moved`);
    const feeds = feedsOf(fx.inputs);
    const full = await Session.create(model);
    const rows = await Session.create(pushed.model);
    const a = await full.run(feeds), b = await rows.run(feeds);
    for (const o of fx.outputs) assertClose(b[o]!.data as Float32Array, a[o]!.data as Float32Array, EXACT, `${o} with the gather moved`);
    await full.release();
    await rows.release();

    // Through the runner (which differentiates the rewritten graph): PyTorch's gradients.
    const [batch] = feeds['input_ids']!.dims as [number];
    const runner = new ModelRunner(model);
    const wrt = { [emb]: tensor('float32', flat(fx.embeddings), dimsOf(fx.embeddings)) };
    const labels = dimsOf((fx as unknown as { forward: Record<string, Nested> }).forward[fx.outputs[0]!]!)[1]!;
    const cotangents = fx.grads.map((ref) => {
      const data = new Float32Array(batch * labels);
      data[ref.index[0]! * labels + ref.index[1]!] = 1;
      return { [fx.outputs[0]!]: tensor('float32', data, [batch, labels]) };
    });
    const grads = await runner.gradient(feeds, wrt, fx.outputs, cotangents);
    fx.grads.forEach((ref, k) => assertClose(grads[k]![emb]!.data as Float32Array, flat(ref.grad), 1e-4, `d${ref.of}[${ref.index}] vs PyTorch`));
    await runner.release();
  });
}

test('protected tensors keep all their rows', () => {
  const fx = readJson<Fixture>(fixture('bert', 'cls-opset14.json'));
  const model = readModelFile(fixture('bert', fx.model));
  const graph = new Graph(model);
  const gather = graph.nodes.find((n) => n.opType === 'Gather' && n.output![0]!.includes('pooler'))!;
  const last = gather.input![0]!; // the last layer's output, read by the pooler's gather
  const pushed = pushRowGathers(model, [last]);
  assert.equal(pushed.movedNodes, 0);
  assert.ok(new Graph(pushed.model).producer.has(last));
});

test('every fixture architecture has its last layer\'s tail moved: token outputs by selection, sentence heads by their [CLS] gather', async () => {
  const { readdirSync, existsSync } = await import('node:fs');
  const dirs = readdirSync(fixture('models')).filter((d) => existsSync(fixture('models', d, 'onnx', 'model.onnx')));
  assert.ok(dirs.length >= 8);
  for (const d of dirs) {
    const model = readModelFile(fixture('models', d, 'onnx', 'model.onnx'));
    const outputs = new Graph(model).outputNames();
    const selected = selectRows(model, outputs).movedNodes;
    const gathered = pushRowGathers(model).movedNodes;
    assert.ok(Math.max(selected, gathered) >= 20, `${d}: ${selected} nodes moved by selection, ${gathered} by the gather`);
  }
});
