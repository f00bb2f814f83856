import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';
import { fixture, ROOT } from '../helpers.js';
import { readModelFile } from '../../src/io/model-file.js';

const QA14 = fixture('bert', 'qa-opset14.onnx');
const EMB14 = '/bert/embeddings/LayerNorm/Add_1_output_0';

function oneLineError(r: { code: number; stderr: string }, pattern: RegExp) {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^gradlens: /);
  assert.match(lines[0]!, pattern);
}

test('gradlens grad writes a gradient model with the documented inputs and outputs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-grad-'));
  const out = join(dir, 'g.onnx');
  const r = await runCli(['grad', QA14, '--of', 'start_logits', '--of', 'end_logits', '--wrt', EMB14, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const g = readModelFile(out);
  const inputs = g.graph!.input!.map((v) => v.name);
  assert.ok(inputs.includes(EMB14) && inputs.includes('start_logits_cotangent') && inputs.includes('end_logits_cotangent'));
  assert.ok(!inputs.includes('input_ids'), 'input_ids is only needed upstream of the cut');
  assert.deepEqual(g.graph!.output!.map((v) => v.name), ['start_logits', 'end_logits', `${EMB14}_grad`]);
  assert.ok(g.graph!.node!.every((n) => !n.domain || n.domain === 'ai.onnx'), 'standard-domain ops only');
});

/** The names after "<label>:" on the line of grad's report that starts with it ("none" is an empty list). */
function printed(stdout: string, label: string): string[] {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`${label}:`));
  assert.ok(line, `no "${label}:" line in:\n${stdout}`);
  const rest = line.slice(line.indexOf(':') + 1).trim().replace(/ \(.*\)$/, '');
  return rest === 'none' ? [] : rest.split(', ');
}

test('gradlens grad prints the input and output names the written model has', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-grad-'));
  const out = join(dir, 'g.onnx');
  const model = join(ROOT, 'demo', 'qa', 'onnx', 'model.onnx');
  const r = await runCli(['grad', model, '--of', 'start_logits', '--of', 'end_logits', '--wrt', EMB14, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const g = readModelFile(out).graph!;
  const inits = new Set(g.initializer!.map((t) => t.name));
  const inputs = g.input!.map((v) => v.name!).filter((n) => !inits.has(n));
  const outputs = g.output!.map((v) => v.name!);
  assert.deepEqual(printed(r.stdout, 'inputs'), inputs);
  assert.deepEqual(printed(r.stdout, 'outputs'), outputs);
  // The cotangent inputs have no copy suffix (one backward pass): start_logits_cotangent, not start_logits_cotangent_0.
  assert.deepEqual(printed(r.stdout, 'new'), [EMB14, 'start_logits_cotangent', 'end_logits_cotangent']);
  assert.ok(inputs.includes('start_logits_cotangent') && inputs.includes('end_logits_cotangent'));
  assert.doesNotMatch(r.stdout, /_cotangent_\d|_grad_\d/);
  assert.deepEqual(printed(r.stdout, 'kept'), ['attention_mask']);
  assert.deepEqual(printed(r.stdout, 'removed'), ['input_ids', 'token_type_ids']);
  for (const name of printed(r.stdout, 'kept')) assert.ok(inputs.includes(name));
  for (const name of printed(r.stdout, 'removed')) assert.ok(!inputs.includes(name));
  const newOutputs = r.stdout.split('\n').filter((l) => l.trimStart().startsWith('new:'))[1]!;
  assert.equal(newOutputs.trim(), `new:     ${EMB14}_grad`);
  assert.ok(outputs.includes(`${EMB14}_grad`));
});

test('grad: bad input gives one line and a non-zero exit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-grad-'));
  const notOnnx = join(dir, 'x.onnx');
  writeFileSync(notOnnx, 'definitely not protobuf');
  const truncated = join(dir, 't.onnx');
  const bytes = readFileSync(QA14);
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  oneLineError(await runCli(['grad', notOnnx, '--of', 'a', '--wrt', 'b']), /not a valid ONNX model/);
  oneLineError(await runCli(['grad', truncated, '--of', 'a', '--wrt', 'b']), /not a valid ONNX model/);
  oneLineError(await runCli(['grad', join(dir, 'missing.onnx'), '--of', 'a', '--wrt', 'b']), /not found/);
  oneLineError(await runCli(['grad', QA14, '--of', 'start_logits', '--wrt', 'nope']), /--wrt nope is not a tensor of the graph/);
  oneLineError(await runCli(['grad', QA14, '--of', 'start_logits', '--wrt', 'input_ids']), /not a float tensor/);
  oneLineError(await runCli(['grad', QA14, '--of', '/bert/embeddings/LayerNorm/ReduceMean_output_0', '--wrt', EMB14]), /not reachable from --wrt/);
  oneLineError(await runCli(['grad', QA14, '--of', 'start_logits', '--wrt', EMB14, '-o', '/nonexistent-dir/g.onnx']), /cannot write/);
});
