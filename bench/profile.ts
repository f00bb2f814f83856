// npm run bench profile [seq]: where a LayerIG gradient run spends its time at long inputs. One ONNX Runtime call
// (3 rows, start + end) of the gradient graph on the BERT-base-size bench model, with ONNX Runtime's profiler on;
// node times are summed by op type, and separately for the nodes on attention-sized tensors ([…, seq, seq]).
import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readModelFile } from '../src/io/model-file.js';
import { encodeModel } from '../src/onnx/model.js';
import { withExtraOutputs } from '../src/graph/outputs.js';
import { vjpModel, cotangentName } from '../src/autodiff/vjp.js';
import { selectRows, ROW_SELECTOR } from '../src/graph/rows.js';
import { benchModel, ids } from './common.js';

export async function benchProfile(seq = 512): Promise<void> {
  const m = benchModel();
  const model = readModelFile(m.path);
  const rows = 3;
  const selection = selectRows(model, m.outputs);
  const of = m.outputs.map((o) => selection.outputs[o]!);
  const grad = vjpModel(selection.model, { of, wrt: [m.embeddingsOutput], copies: 2 });
  const session = await ort.InferenceSession.create(encodeModel(grad), {
    graphOptimizationLevel: 'all', enableMemPattern: false, enableProfiling: true, profileFilePrefix: '/tmp/gradlens-profile',
    extra: { session: { disable_prepacking: '1' } },
  });
  const fwd = await ort.InferenceSession.create(encodeModel(withExtraOutputs(model, [m.embeddingsOutput])), { graphOptimizationLevel: 'all', extra: { session: { disable_prepacking: '1' } } });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids(rows, seq), BigInt), [rows, seq]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * seq).fill(1n), [rows, seq]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(rows * seq), [rows, seq]),
  };
  const emb = (await fwd.run(feeds, [m.embeddingsOutput]))[m.embeddingsOutput]!;
  const inputs: Record<string, ort.Tensor> = {};
  for (const n of session.inputNames) {
    if (n in feeds) inputs[n] = feeds[n]!;
    else if (n === m.embeddingsOutput) inputs[n] = emb;
    else if (n === ROW_SELECTOR) {
      const sel = new Float32Array(rows * 1 * seq);
      for (let r = 0; r < rows; r++) sel[r * seq + 5] = 1;
      inputs[n] = new ort.Tensor('float32', sel, [rows, 1, seq]);
    }
  }
  for (const [k, o] of of.entries()) {
    for (const copy of [0, 1]) {
      const name = cotangentName(o, copy);
      if (!session.inputNames.includes(name)) continue;
      const data = new Float32Array(rows).fill(copy === k ? 1 : 0);
      inputs[name] = new ort.Tensor('float32', data, [rows, 1]);
    }
  }
  for (const n of session.inputNames) if (!inputs[n]) throw new Error(`no feed for ${n}`);
  await session.run(inputs); // warm-up
  const t = Date.now();
  await session.run(inputs);
  const wall = Date.now() - t;
  session.endProfiling();
  const file = readdirSync('/tmp').filter((f) => f.startsWith('gradlens-profile')).map((f) => `/tmp/${f}`).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
  const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] } }[];
  rmSync(file, { force: true });
  // The second run's node events only.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs[runs.length - 1] as unknown as { ts: number; dur: number };
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && (e as unknown as { ts: number }).ts >= last.ts);
  const byOp = new Map<string, number>();
  let attention = 0, total = 0;
  for (const e of nodes) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
    const shapes = [...(e.args?.input_type_shape ?? []), ...(e.args?.output_type_shape ?? [])].flatMap((s) => Object.values(s));
    if (shapes.some((s) => s.length >= 2 && s[s.length - 1] === seq && s[s.length - 2] === seq)) attention += e.dur;
  }
  console.log(`gradient run, BERT-base size, ${rows} rows × ${seq} tokens, start + end: ${wall} ms wall, ${(total / 1000).toFixed(0)} ms in nodes`);
  console.table([...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([op, us]) => ({ op, ms: +(us / 1000).toFixed(1), share: `${(100 * us / total).toFixed(1)}%` })));
  console.log(`nodes on attention-sized tensors ([…, ${seq}, ${seq}]): ${(attention / 1000).toFixed(0)} ms, ${(100 * attention / total).toFixed(1)}% of node time`);
}
