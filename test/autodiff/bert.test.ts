import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { vjpModel, cotangentName, gradName } from '../../src/autodiff/vjp.js';
import { Session, tensor, type HostTensor } from '../../src/runtime/session.js';
import { fixture, readJson, flat, dimsOf, assertClose, type Nested } from '../helpers.js';

// Gradients of BERT outputs w.r.t. the embeddings-layer output, against PyTorch autograd (float64 reference on the
// same float32 weights). ORT computes in float32, so the tolerance is 1e-4 relative to the largest gradient entry.
const TOL = 1e-4;

interface Case { inputs: Record<string, Nested>; forward: Record<string, Nested>; embeddings: Nested; grads: { of: string; index: number[]; grad: Nested }[] }
interface Fixture extends Case { model: string; embeddings_output: string; outputs: string[]; vjp: { cotangents: Record<string, Nested>; grad: Nested }; seq_other: Case }

const feedsOf = (inputs: Record<string, Nested>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', flat(v), dimsOf(v))]));

for (const name of ['qa-opset14', 'qa-opset17', 'cls-opset14', 'cls-opset17']) {
  test(`${name}: VJP w.r.t. the embeddings output matches PyTorch autograd`, async () => {
    const fx = readJson<Fixture>(fixture('bert', `${name}.json`));
    const model = readModelFile(fixture('bert', fx.model));
    const emb = fx.embeddings_output;
    const grad = vjpModel(model, { of: fx.outputs, wrt: [emb] });
    const session = await Session.create(grad);
    const run = async (c: Case, cot: (of: string, dims: number[]) => number[]) => {
      const feeds = feedsOf(c.inputs);
      feeds[emb] = tensor('float32', flat(c.embeddings), dimsOf(c.embeddings));
      for (const of of fx.outputs) {
        const dims = dimsOf(c.forward[of]!);
        feeds[cotangentName(of)] = tensor('float32', cot(of, dims), dims);
      }
      return session.run(feeds);
    };
    for (const c of [fx as Case, fx.seq_other]) {
      for (const ref of c.grads) {
        const out = await run(c, (of, dims) => {
          const v = new Array(dims.reduce((a, b) => a * b, 1)).fill(0);
          if (of === ref.of) v[ref.index[0]! * dims[1]! + ref.index[1]!] = 1;
          return v;
        });
        assert.deepEqual(out[gradName(emb)]!.dims, dimsOf(ref.grad));
        assertClose(out[gradName(emb)]!.data as Float32Array, flat(ref.grad), TOL, `d${ref.of}[${ref.index}]/d embeddings`);
        for (const of of fx.outputs) assertClose(out[of]!.data as Float32Array, flat(c.forward[of]!), TOL, `forward ${of}`);
      }
    }
    const out = await run(fx, (of) => flat(fx.vjp.cotangents[of]!));
    assertClose(out[gradName(emb)]!.data as Float32Array, flat(fx.vjp.grad), TOL, 'VJP with random cotangents');
    await session.release();
  });
}
