// Issue targets: building the gradient graph of a BERT-base-size model < 1 s; one gradient run at batch 8 × seq 128
// ≤ 2.5 × one forward run of the original model with the same session options.
import { readModelFile } from '../src/io/model-file.js';
import { vjpModel, cotangentName, gradName } from '../src/autodiff/vjp.js';
import { encodeModel } from '../src/onnx/model.js';
import { Session, tensor } from '../src/runtime/session.js';
import { benchModel, now, timeIt, ids } from './common.js';

export async function benchAutodiff(batch = 8, seq = 128): Promise<void> {
  const m = benchModel();
  let t = now();
  const model = readModelFile(m.path);
  const readMs = now() - t;
  t = now();
  const grad = vjpModel(model, { of: m.outputs, wrt: [m.embeddingsOutput] });
  const buildMs = now() - t;
  t = now();
  const gradBytes = encodeModel(grad);
  const encodeMs = now() - t;
  console.log(`autodiff: read ${readMs.toFixed(0)} ms, build gradient graph ${buildMs.toFixed(0)} ms (target < 1000), encode ${encodeMs.toFixed(0)} ms; nodes ${model.graph!.node!.length} → ${grad.graph!.node!.length}`);

  const forward = await Session.create(model);
  const backward = await Session.create(gradBytes);
  const n = batch * seq;
  const feeds = {
    input_ids: tensor('int64', ids(batch, seq), [batch, seq]),
    attention_mask: tensor('int64', new Array(n).fill(1), [batch, seq]),
    token_type_ids: tensor('int64', Array.from({ length: n }, (_, i) => (i % seq > seq / 2 ? 1 : 0)), [batch, seq]),
  };
  const fwdOut = await forward.run(feeds, [...m.outputs]);
  // Any activation of the right shape will do for timing the gradient model.
  const hidden = 768;
  const emb = tensor('float32', Float32Array.from({ length: n * hidden }, (_, i) => Math.sin(i) * 0.5), [batch, seq, hidden]);
  const gradFeeds = { attention_mask: feeds.attention_mask, [m.embeddingsOutput]: emb } as Record<string, ReturnType<typeof tensor>>;
  for (const of of m.outputs) gradFeeds[cotangentName(of)] = tensor('float32', new Float32Array(fwdOut[of]!.data.length).fill(1), fwdOut[of]!.dims);
  for (const name of backward.inputNames) if (!gradFeeds[name] && (feeds as Record<string, unknown>)[name]) gradFeeds[name] = (feeds as Record<string, ReturnType<typeof tensor>>)[name]!;
  const fwdMs = await timeIt(() => forward.run(feeds), 5, 2);
  const bwdMs = await timeIt(() => backward.run(gradFeeds, [gradName(m.embeddingsOutput)]), 5, 2);
  console.log(`autodiff: batch ${batch} × seq ${seq}: forward ${fwdMs.toFixed(0)} ms, gradient run ${bwdMs.toFixed(0)} ms, ratio ${(bwdMs / fwdMs).toFixed(2)} (target ≤ 2.5)`);
  await forward.release();
  await backward.release();
}
