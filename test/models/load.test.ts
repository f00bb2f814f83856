import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/io/folder.js';
import { resolveHubModel, cachedSnapshot } from '../../src/io/hub-cache.js';
import { explainQa, explainClassify } from '../../src/tasks/index.js';
import { DEFAULT_SETTINGS } from '../../src/attr/registry.js';
import { fixture } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-load-'));
const copyFixture = (name: string) => {
  const dir = join(tmp(), name);
  cpSync(fixture('models', name), dir, { recursive: true });
  return dir;
};
const quick = { ...DEFAULT_SETTINGS, steps: 4 };

test('a Hub id resolves from the cache laid out as the Hugging Face clients do, offline', async () => {
  const cache = tmp();
  const repo = 'someone/tiny-ner';
  const root = join(cache, 'models--someone--tiny-ner');
  const commit = '0123456789abcdef0123456789abcdef01234567';
  mkdirSync(join(root, 'refs'), { recursive: true });
  writeFileSync(join(root, 'refs', 'main'), commit);
  cpSync(fixture('models', 'bert-ner'), join(root, 'snapshots', commit), { recursive: true });
  assert.equal(cachedSnapshot(repo, cache), join(root, 'snapshots', commit));
  assert.equal(await resolveHubModel(repo, { cacheDir: cache, offline: true }), join(root, 'snapshots', commit));
  await assert.rejects(resolveHubModel('someone/not-cached', { cacheDir: cache, offline: true }), /not in the cache .* offline mode is on/);
  const before = process.env['HF_HUB_OFFLINE'];
  process.env['HF_HUB_OFFLINE'] = '1';
  try {
    await assert.rejects(resolveHubModel('someone/not-cached', { cacheDir: cache }), /offline mode is on/);
  } finally {
    if (before === undefined) delete process.env['HF_HUB_OFFLINE'];
    else process.env['HF_HUB_OFFLINE'] = before;
  }
});

test('folder problems: quantized only, no tokenizer.json, unknown model_type falls back to the graph', async () => {
  const quant = copyFixture('bert-nli');
  renameSync(join(quant, 'onnx', 'model.onnx'), join(quant, 'onnx', 'model_quantized.onnx'));
  await assert.rejects(loadModel(quant), /only model_quantized.onnx: gradlens differentiates the fp32 onnx\/model.onnx/);
  const noTok = copyFixture('bert-nli');
  rmSync(join(noTok, 'tokenizer.json'));
  await assert.rejects(loadModel(noTok), /has no tokenizer.json/);
  const mystery = copyFixture('distilbert-cls');
  const config = JSON.parse(readFileSync(join(mystery, 'config.json'), 'utf8'));
  writeFileSync(join(mystery, 'config.json'), JSON.stringify({ ...config, model_type: 'mystery-bert' }));
  const model = await loadModel(mystery);
  assert.equal(model.knownArchitecture, false);
  assert.equal(model.arch.tokenTypes, false, 'decided by the graph: no token_type_ids input');
  assert.equal(model.embeddingsOutput, '/distilbert/embeddings/LayerNorm/Add_1_output_0');
  const r = await explainClassify(model, { text: 'a fine day' }, quick);
  assert.equal(r.attributions.length, 1);
});

test('long inputs: a long context is split into windows (RoBERTa template), said in a warning; a question too long for the model is an error', async () => {
  const model = await loadModel(fixture('models', 'roberta-qa'));
  const context = Array(80).fill('The company was founded by Ada in London.').join(' ');
  const r = await explainQa(model, { question: 'Who founded the company?', context }, quick);
  assert.ok(r.tokens.length <= model.maxLength, 'one window of the model\'s positions');
  assert.deepEqual([r.tokens[0], r.tokens[r.tokens.length - 1]], ['<s>', '</s>']);
  assert.equal(r.tokens.filter((t) => t === '</s>').length, 3, '<s> q </s></s> c </s>');
  assert.ok(r.window && r.window.count > 1);
  assert.match(r.warnings[0]!, /the context has \d+ tokens, more than fit with the question in the model's 64 positions: it was split into \d+ windows/);
  assert.equal(context.slice(r.prediction['start_char'] as number, r.prediction['end_char'] as number), r.prediction['answer']);
  await assert.rejects(explainQa(model, { question: context, context: 'x' }, quick), /too long to leave room for the context in the model's 64 positions/);
  await assert.rejects(explainQa(model, { question: '  ', context: 'x' }, quick), /question is empty/);
  await assert.rejects(explainQa(model, { question: 'Who?', context: '' }, quick), /context is empty/);
});

test('unknown labels and out-of-range targets are clear errors', async () => {
  const model = await loadModel(fixture('models', 'bert-multilabel'));
  await assert.rejects(explainClassify(model, { text: 'great', target: 'nonsense' }, quick), /unknown label "nonsense"; the model's labels are: /);
  await assert.rejects(explainClassify(model, { text: 'great', target: 9 }, quick), /target 9 is out of range: the model has 4 labels/);
  const r = await explainClassify(model, { text: 'great' }, quick);
  assert.equal(r.prediction['multi_label'], true, 'sigmoid scores for multi-label models');
});
