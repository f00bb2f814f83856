import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, assertOneLineError } from './run-cli.js';
import { fixture, ROOT } from '../helpers.js';
import { buildModel } from '../autodiff/op-model.js';
import { writeModelFile } from '../../src/io/model-file.js';
import { DT } from '../../src/onnx/tensor.js';

const QA14 = fixture('bert', 'qa-opset14.onnx');
const DEMO_QA = join(ROOT, 'demo', 'qa');
const EMB = '/bert/embeddings/LayerNorm/Add_1_output_0';

/** The tensor lines of `inspect --tensors` (after the header): [name, op]. */
function tensorLines(stdout: string): { name: string; op: string }[] {
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^tensors computed by the graph \(\d+( of \d+)?\):$/);
  return lines.slice(1).map((l) => {
    const m = /^ {2}(.+?): \S+ (?:\[.*?\]|unknown) {2}\((\S+)\)/.exec(l);
    assert.ok(m, `not a tensor line: ${l}`);
    return { name: m[1]!, op: m[2]! };
  });
}

test('gradlens inspect on an ONNX file: opset, inputs, heads, op histogram, missing rules', async () => {
  const r = await runCli(['inspect', QA14]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /opset 14/);
  assert.match(r.stdout, /input_ids: int64 \[batch_size, sequence_length\]/);
  assert.match(r.stdout, /start_logits: float \[batch_size, sequence_length\]/);
  assert.match(r.stdout, /MatMul\s+17/);
  assert.match(r.stdout, /every op has a gradient rule/);
  // Two layers: 4 LayerNorms after the embeddings' (+1), 2 GELUs, Q·Kᵀ and P·V per layer (both exported decomposed at opset 14).
  assert.match(r.stdout, /^attnlrp \/ cp-lrp override here: LayerNormalization \(decomposed\) ×5, Gelu \(decomposed\) ×2, MatMul of two activations ×4; every other op keeps its gradient rule$/m);
  assert.match(r.stdout, new RegExp(`^embeddings output: ${EMB}$`, 'm'));
  assert.match(r.stdout, /^\d+ tensors computed by the graph: --tensors lists them/m);
  assert.doesNotMatch(r.stdout, /architectures:/, 'no config.json for a bare ONNX file');
});

test('gradlens inspect on a model folder names the embeddings output, the word embeddings and the task heads', async () => {
  const r = await runCli(['inspect', DEMO_QA]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^model folder .*demo\/qa: onnx\/model\.onnx, tokenizer\.json$/m);
  assert.match(r.stdout, new RegExp(`^embeddings output: ${EMB}$`, 'm'));
  assert.match(r.stdout, /^word-embedding lookup: \/bert\/embeddings\/word_embeddings\/Gather_output_0$/m);
  const heads = r.stdout.split('\n').slice(r.stdout.split('\n').indexOf('outputs (task heads):') + 1);
  assert.match(heads[0]!, /^ {2}start_logits: float \[batch_size, sequence_length\]$/);
  assert.match(heads[1]!, /^ {2}end_logits: float \[batch_size, sequence_length\]$/);
  assert.match(r.stdout, /^architectures: BertForQuestionAnswering \(model_type bert\)$/m);

  const sentiment = await runCli(['inspect', join(ROOT, 'demo', 'sentiment')]);
  assert.equal(sentiment.code, 0, sentiment.stderr);
  assert.match(sentiment.stdout, /^ {2}logits: float \[batch_size, 2\]$/m);
  assert.match(sentiment.stdout, /^labels \(id2label\): 0 negative, 1 positive$/m);
});

test('gradlens inspect --tensors lists every computed tensor; --filter and --op narrow it', async () => {
  const all = await runCli(['inspect', DEMO_QA, '--tensors']);
  assert.equal(all.code, 0, all.stderr);
  const tensors = tensorLines(all.stdout);
  const plain = await runCli(['inspect', DEMO_QA]);
  const count = Number(/^(\d+) tensors computed by the graph:/m.exec(plain.stdout)?.[1] ?? assert.fail(`no tensor count in:\n${plain.stdout}${plain.stderr}`));
  assert.equal(tensors.length, count);
  assert.ok(tensors.some((t) => t.name === EMB && t.op === 'Add'));
  assert.match(all.stdout, new RegExp(`^ {2}${EMB}: float \\[batch_size, sequence_length, 64\\] {2}\\(Add\\) {2}← embeddings output$`, 'm'));

  const filtered = await runCli(['inspect', DEMO_QA, '--tensors', '--filter', 'LayerNorm']);
  assert.equal(filtered.code, 0, filtered.stderr);
  const ln = tensorLines(filtered.stdout);
  assert.ok(ln.length > 0 && ln.length < tensors.length);
  assert.ok(ln.every((t) => t.name.includes('LayerNorm')), filtered.stdout);
  assert.deepEqual(ln.map((t) => t.name), tensors.filter((t) => t.name.includes('LayerNorm')).map((t) => t.name));
  assert.match(filtered.stdout, new RegExp(`^tensors computed by the graph \\(${ln.length} of ${count}\\):`));

  const matmul = tensorLines((await runCli(['inspect', DEMO_QA, '--op', 'MatMul'])).stdout);
  assert.equal(matmul.length, JSON.parse((await runCli(['inspect', DEMO_QA, '--json'])).stdout).ops.MatMul);
  assert.equal(matmul.length, 17, 'BERT: 2 layers × 8 MatMul, and the QA head');
  assert.ok(matmul.every((t) => t.op === 'MatMul'));

  const both = tensorLines((await runCli(['inspect', DEMO_QA, '--op', 'MatMul', '--filter', 'layer.0/'])).stdout);
  assert.ok(both.length === 8 && both.every((t) => t.op === 'MatMul' && t.name.includes('layer.0/')));

  const none = await runCli(['inspect', DEMO_QA, '--op', 'Conv']);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /\(0 of \d+\)/);
  assert.match(none.stdout, /the graph has no Conv nodes \(its ops: .*MatMul/);
});

test('gradlens inspect --json has the summary, the embeddings, the heads, the config and the tensors', async () => {
  const r = await runCli(['inspect', DEMO_QA, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout);
  assert.equal(json.opset, 14);
  assert.deepEqual(json.missingRules, []);
  assert.equal(json.ops.Softmax, 2);
  assert.equal(json.embeddingsOutput, EMB);
  assert.equal(json.wordEmbeddings, '/bert/embeddings/word_embeddings/Gather_output_0');
  assert.deepEqual(json.outputs.map((o: { name: string }) => o.name), ['start_logits', 'end_logits']);
  assert.deepEqual(json.outputs[0].shape, ['batch_size', 'sequence_length']);
  assert.deepEqual(json.folder.architectures, ['BertForQuestionAnswering']);
  assert.equal(json.folder.onnx, 'onnx/model.onnx');
  assert.equal(json.folder.id2label, null);
  assert.equal(json.tensors.length, json.tensorCount);
  assert.deepEqual(json.tensors.find((t: { name: string }) => t.name === EMB), {
    name: EMB, type: 'float', shape: ['batch_size', 'sequence_length', 64], op: 'Add', node: '/bert/embeddings/LayerNorm/Add_1',
  });

  const filtered = JSON.parse((await runCli(['inspect', QA14, '--json', '--op', 'MatMul', '--filter', 'query'])).stdout);
  assert.equal(filtered.folder, undefined);
  assert.ok(filtered.tensors.length === 2 && filtered.tensors.every((t: { op: string; name: string }) => t.op === 'MatMul' && t.name.includes('query')));
  assert.ok(filtered.tensorCount > filtered.tensors.length);
});

test('gradlens inspect: a model without an embeddings layer says "not found"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-inspect-'));
  const path = join(dir, 'relu.onnx');
  writeModelFile(path, buildModel({
    opset: 14,
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['n', 3] }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT }],
  }));
  const r = await runCli(['inspect', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^embeddings output: not found/m);
  assert.match(r.stdout, /^word-embedding lookup: not found$/m);
  assert.match(r.stdout, /^ {2}y: float \[n, 3\]$/m);
  assert.equal(JSON.parse((await runCli(['inspect', path, '--json'])).stdout).embeddingsOutput, null);
  assert.match((await runCli(['inspect', path, '--tensors'])).stdout, /^ {2}y: float \[n, 3\] {2}\(Relu\)$/m);
});

test('gradlens inspect: bad input is one line and exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-inspect-'));
  const noOnnx = join(dir, 'no-onnx');
  mkdirSync(noOnnx);
  copyFileSync(join(DEMO_QA, 'config.json'), join(noOnnx, 'config.json'));
  const quantizedOnly = join(dir, 'quantized');
  mkdirSync(join(quantizedOnly, 'onnx'), { recursive: true });
  writeFileSync(join(quantizedOnly, 'onnx', 'model_quantized.onnx'), 'x');
  const notOnnx = join(dir, 'x.onnx');
  writeFileSync(notOnnx, 'definitely not protobuf');
  const badFolder = join(dir, 'bad');
  mkdirSync(join(badFolder, 'onnx'), { recursive: true });
  writeFileSync(join(badFolder, 'onnx', 'model.onnx'), 'definitely not protobuf');
  const cases: [string, RegExp][] = [
    [noOnnx, /no-onnx has no onnx\/model\.onnx/],
    [quantizedOnly, /has only model_quantized\.onnx/],
    [notOnnx, /not a valid ONNX model/],
    [badFolder, /onnx\/model\.onnx of .*bad is not a valid ONNX model/],
    [join(dir, 'missing'), /missing: no such file or folder/],
  ];
  for (const [path, pattern] of cases) {
    const r = await runCli(['inspect', path]);
    assertOneLineError(r, pattern);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
  }
});
