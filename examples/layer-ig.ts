import { readModelFile, LayerIntegratedGradients, TextTokenizer, FolderSource, tensor, DEMO_MODELS } from 'gradlens';

const tokenizer = await TextTokenizer.fromSource(new FolderSource(DEMO_MODELS.qa));
const context = 'It is important to us to include, empower and support humans of all kinds.';
const enc = tokenizer.encode('What is important to us?', context);
const row = (values: number[]) => tensor('int64', values, [1, values.length]);
const inputs = { input_ids: row(enc.ids), attention_mask: row(enc.attentionMask), token_type_ids: row(enc.typeIds) };
const referenceIds = row(enc.ids.map((id, i) => (enc.special[i] ? id : tokenizer.padId)));   // [CLS] [PAD]… [SEP] [PAD]… [SEP]

const lig = new LayerIntegratedGradients(readModelFile(`${DEMO_MODELS.qa}/onnx/model.onnx`), '/bert/embeddings/LayerNorm/Add_1_output_0');
const logits = await lig.runner.forward(inputs);
const best = (name: string) => {   // the highest logit among the context's tokens
  const data = logits[name]!.data as Float32Array;
  return enc.ids.reduce((b, _, i) => (enc.segment[i] === 1 && (b < 0 || data[i]! > data[b]!) ? i : b), -1);
};
const [start, end] = [best('start_logits'), best('end_logits')];
console.log(`answer: "${context.slice(enc.offsets[start]![0], enc.offsets[end]![1])}" (tokens ${start}–${end})`);

const results = await lig.attribute(inputs, {
  baselines: { input_ids: referenceIds }, nSteps: 50, method: 'gausslegendre', returnConvergenceDelta: true,
  targets: [{ output: 'start_logits', target: start, label: 'start' }, { output: 'end_logits', target: end, label: 'end' }],
});
for (const r of results) {
  const data = r.attributions[lig.layer]!.data as Float64Array;   // [1, tokens, hidden]
  const hidden = data.length / enc.ids.length;
  const perToken = enc.tokens.map((_, t) => data.subarray(t * hidden, (t + 1) * hidden).reduce((a, v) => a + v, 0));
  const top = perToken.map((v, t) => [`${enc.tokens[t]}@${t}`, v] as const).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 4);
  const delta = r.delta![0]!, change = r.fX![0]! - r.fBaseline![0]!;   // Σ attributions − (F(x) − F(baseline)); nSteps: 'auto' shrinks it
  console.log(`${r.target.label}: convergence delta ${delta.toExponential(3)} (${(100 * Math.abs(delta / change)).toPrecision(2)}% of F(x) − F(baseline) = ${change.toFixed(3)})`);
  console.log(`  top tokens: ${top.map(([tok, v]) => `${tok} ${v.toFixed(3)}`).join(', ')}`);
}
