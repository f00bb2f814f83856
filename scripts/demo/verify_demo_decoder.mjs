// Cross-check the demo decoder (demo/generate/) in JavaScript.
// usage: node scripts/demo/verify_demo_decoder.mjs <manifest.json>
// Called by scripts/demo/train_demo_decoder.py (unless --no-verify). The manifest has:
//   dir, num_layers, kv_heads, head_dim, eos_id,
//   files {"onnx/decoder_model.onnx" | "onnx/model.onnx": {input_names, output_names}},
//   token_cases [{text, ids, tokens, decoded}] (the Python encoder: demo prompts, corpus documents, odd strings),
//   examples [{prompt, prompt_ids, greedy (PyTorch float32 greedy ids, eos included when reached), continuation,
//              seq (prompt + continuation ids), logits_seq [n][vocab] (float64 PyTorch on the same weights)}].
// Checks:
// 1. tokenizer.json + tokenizer_config.json load in @huggingface/tokenizers and give the Python ids and tokens on
//    every case; decode(ids, skip_special_tokens) gives the Python decoding;
// 2. onnxruntime-node: both layouts have the expected input / output names; decoder_model.onnx on the whole
//    sequence, and model.onnx with an empty past on it and with a past of 3 tokens then the rest, give the
//    PyTorch logits (max |diff| / max |logit| < TOL); greedy decoding through model.onnx with the cache (argmax,
//    one token a step, stop at eos) gives PyTorch's greedy ids, and the JS decoding of them is printed.
import fs from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";

const TOL = 1e-4;
const m = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const int64 = (rows) => new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
const argmax = (xs) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);
const read = (f) => JSON.parse(fs.readFileSync(path.join(m.dir, f), "utf8"));

let bad = 0;
const fail = (msg) => { bad++; console.log("BAD " + msg); };

/** the rows [n][v] of batch row 0 of a [1, n, v] tensor */
function rows(t) {
  const [, n, v] = t.dims;
  return Array.from({ length: n }, (_, j) => Array.from(t.data.subarray(j * v, (j + 1) * v)));
}

/** max |got - want| / max |want| */
function relDiff(got, want) {
  let d = 0, s = 0;
  for (let k = 0; k < want.length; k++) {
    for (let i = 0; i < want[k].length; i++) {
      s = Math.max(s, Math.abs(want[k][i]));
      d = Math.max(d, Math.abs(got[k][i] - want[k][i]));
    }
  }
  return d / s;
}

// ------------------------------------------------------------------ tokenizer
const tok = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
let agree = 0, decodes = 0;
const diffs = [];
for (const c of m.token_cases) {
  const e = tok.encode(c.text);
  if (same(e.ids, c.ids) && same(e.tokens, c.tokens)) agree++;
  else diffs.push({ text: c.text, py: c.tokens, js: e.tokens });
  const dec = tok.decode(c.ids, { skip_special_tokens: true });
  if (dec === c.decoded) decodes++;
  else diffs.push({ text: c.text, decode_py: c.decoded, decode_js: dec });
}
bad += diffs.length;
console.log(`${diffs.length ? "BAD" : "ok "} tokenizer: ${agree}/${m.token_cases.length} encodings identical (ids and tokens), ` +
  `${decodes}/${m.token_cases.length} decodings identical`);
for (const d of diffs.slice(0, 5)) console.log("    ", JSON.stringify(d));

// ------------------------------------------------------------------ onnxruntime
const L = m.num_layers, KV = m.kv_heads, HD = m.head_dim;
const decRel = "onnx/decoder_model.onnx", cacheRel = "onnx/model.onnx";
const dec = await ort.InferenceSession.create(path.join(m.dir, decRel));
const cache = await ort.InferenceSession.create(path.join(m.dir, cacheRel));
for (const [rel, s] of [[decRel, dec], [cacheRel, cache]]) {
  const f = m.files[rel];
  if (!same(s.inputNames, f.input_names) || !same(s.outputNames, f.output_names)) fail(`${rel} io names ${s.inputNames} -> ${s.outputNames}`);
}
const emptyPast = () => {
  const p = {};
  for (let i = 0; i < L; i++) for (const kv of ["key", "value"]) p[`past_key_values.${i}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, KV, 0, HD]);
  return p;
};
const presentsAsPast = (out) => {
  const p = {};
  for (let i = 0; i < L; i++) for (const kv of ["key", "value"]) p[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
  return p;
};
const feeds = (ids, past = 0) => ({ input_ids: int64([ids]), attention_mask: int64([Array(past + ids.length).fill(1)]) });

let worst = 0;
const checkLogits = (what, got, want) => {
  const d = relDiff(got, want);
  worst = Math.max(worst, d);
  if (!(d < TOL)) fail(`${what}: relative logits diff ${d}`);
};
for (const ex of m.examples) {
  const badBefore = bad;
  const seq = ex.seq, P = ex.prompt_ids.length;
  const pe = tok.encode(ex.prompt);
  if (!same(pe.ids, ex.prompt_ids)) fail(`${JSON.stringify(ex.prompt)}: JS prompt ids ${pe.ids} != Python ${ex.prompt_ids}`);
  checkLogits(`${decRel} ${JSON.stringify(ex.prompt)}`, rows((await dec.run(feeds(seq))).logits), ex.logits_seq);
  checkLogits(`${cacheRel} (empty past) ${JSON.stringify(ex.prompt)}`,
    rows((await cache.run({ ...feeds(seq), ...emptyPast() })).logits), ex.logits_seq);
  if (seq.length > 3) {
    const o1 = await cache.run({ ...feeds(seq.slice(0, 3)), ...emptyPast() });
    const o2 = await cache.run({ ...feeds(seq.slice(3), 3), ...presentsAsPast(o1) });
    checkLogits(`${cacheRel} (past 3) ${JSON.stringify(ex.prompt)}`, rows(o2.logits), ex.logits_seq.slice(3));
    if (!same(o2["present.0.key"].dims, [1, KV, seq.length, HD])) fail(`present dims after past 3: ${o2["present.0.key"].dims}`);
  }
  // greedy with the cache: the prompt with an empty past, then one token a step
  const ids = [];
  let o = await cache.run({ ...feeds(ex.prompt_ids), ...emptyPast() });
  let past = P;
  for (let t = 0; t < ex.greedy.length; t++) {
    const lg = rows(o.logits);
    const last = lg[lg.length - 1];
    if (P + t - 1 < ex.logits_seq.length) checkLogits(`greedy step ${t} ${JSON.stringify(ex.prompt)}`, [last], [ex.logits_seq[P + t - 1]]);
    const next = argmax(last);
    ids.push(next);
    if (next === m.eos_id) break;
    o = await cache.run({ ...feeds([next], past), ...presentsAsPast(o) });
    past += 1;
  }
  if (!same(ids, ex.greedy)) fail(`${JSON.stringify(ex.prompt)}: greedy with cache ${ids} != PyTorch ${ex.greedy}`);
  const text = tok.decode(ids, { skip_special_tokens: true });
  if (text !== ex.continuation) fail(`${JSON.stringify(ex.prompt)}: JS decoding ${JSON.stringify(text)} != Python ${JSON.stringify(ex.continuation)}`);
  console.log(`${bad > badBefore ? "BAD" : "ok "} onnx (cached greedy) ${JSON.stringify(ex.prompt)} -> ${JSON.stringify(text)}` +
    `${ids[ids.length - 1] === m.eos_id ? " <eos>" : ""}`);
}
console.log(`max relative logits diff (both layouts, ${m.examples.length} sequences, cached steps) ${worst.toExponential(2)}`);
if (bad) {
  console.error(`${bad} problems`);
  process.exit(1);
}
console.log("demo decoder verified");
