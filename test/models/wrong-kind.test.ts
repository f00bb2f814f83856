// A model of the wrong kind for the task is refused from its outputs' shapes; text output never carries raw controls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { escapeControls } from '../../src/viz/escape.js';
import { runCli, assertOneLineError } from '../cli/run-cli.js';
import { ROOT, fixture } from '../helpers.js';

const copy = (src: string) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gradlens-kind-')), 'm');
  cpSync(src, dir, { recursive: true });
  return dir;
};
const oneLine = (r: { code: number; stderr: string }, pattern: RegExp) => {
  assert.equal(r.code, 1, r.stderr);
  assertOneLineError(r, pattern);
};

test('explain classify / zero-shot on a QA model is refused (by output names, and by shapes when renamed)', async () => {
  oneLine(await runCli(['explain', 'classify', '-t', 'a fine day', '--model', join(ROOT, 'demo', 'qa')]), /is a question-answering model \(outputs start_logits, end_logits\), not a classifier: use gradlens explain qa/);
  oneLine(await runCli(['explain', 'zero-shot', '-t', 'a fine day', '--labels', 'a,b', '--model', join(ROOT, 'demo', 'qa')]), /question-answering model/);
  // The same QA graph with its outputs renamed "logits" and "aux": the shape [batch, sequence] gives it away.
  const dir = copy(join(ROOT, 'demo', 'qa'));
  const path = join(dir, 'onnx', 'model.onnx');
  const model = decodeModel(readFileSync(path));
  const rename = new Map([['start_logits', 'logits'], ['end_logits', 'aux']]);
  for (const n of model.graph!.node!) n.output = n.output!.map((o) => rename.get(o) ?? o);
  for (const o of model.graph!.output!) o.name = rename.get(o.name!) ?? o.name;
  writeFileSync(path, encodeModel(model));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } }));
  oneLine(await runCli(['explain', 'classify', '-t', 'a fine day', '--model', dir]), /output logits has one value per token \(shape \[batch_size, sequence_length\]\): explain classify needs class logits/);
  // A token-classification model (rank 3) is pointed at explain tokens.
  oneLine(await runCli(['explain', 'classify', '-t', 'Ada lives in London', '--model', fixture('models', 'bert-ner')]), /shape \[.*\]: explain classify needs class logits \[batch, labels\] \(a token-classification model: use gradlens explain tokens\)/);
});

test('config.json labels that do not match the classifier\'s outputs are refused', async () => {
  const dir = copy(join(ROOT, 'demo', 'sentiment'));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'a', 1: 'b', 2: 'c' } }));
  oneLine(await runCli(['explain', 'classify', '-t', 'a fine day', '--model', dir]), /names 3 labels but the output logits has 2 values/);
});

test('control characters in labels, target names and errors are escaped in the terminal view and on stderr', async () => {
  const dir = copy(join(ROOT, 'demo', 'sentiment'));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const evil = '\u001b[2J\u001b[Hpositive\r\u202e';
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'negative', 1: evil }, label2id: { negative: 0, [evil]: 1 } }));
  const r = await runCli(['explain', 'classify', '-t', 'This movie was absolutely wonderful!', '--model', dir, '--method', 'saliency']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\u001b\r\u202e]/, 'no raw ESC, CR or bidi override');
  assert.ok(r.stdout.includes(escapeControls(evil)), r.stdout);
  assert.ok(r.stdout.includes('\\x1b[2J\\x1b[Hpositive\\r\\u202e'));
  const err = await runCli(['explain', 'classify', '-t', 'fine', '--model', dir, '--target', '\u001b]0;pwned\u0007']);
  assert.equal(err.code, 1);
  assert.doesNotMatch(err.stderr, /[\u001b\u0007]/);
  assert.match(err.stderr, /unknown label "\\x1b\]0;pwned\\x07"; the model's labels are: negative, \\x1b\[2J/);
  assert.equal(err.stderr.trim().split('\n').length, 1);
});
