// config.json fields come from strangers: validated by type, looked up as own properties only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/io/folder.js';
import { validateConfig } from '../../src/models/config.js';
import { explainClassify } from '../../src/tasks/index.js';
import { DEFAULT_SETTINGS } from '../../src/attr/registry.js';
import { fixture } from '../helpers.js';

const withConfig = (edit: (c: Record<string, unknown>) => string) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'gradlens-config-')), 'm');
  cpSync(fixture('models', 'distilbert-cls'), dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), edit(config));
  return dir;
};

test('model_type "constructor", "__proto__", "toString" are unknown types (graph fallback), not Object internals', async () => {
  for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const dir = withConfig((c) => JSON.stringify({ ...c, model_type: type }).replace('"model_type"', '"model_type"'));
    const model = await loadModel(dir);
    assert.equal(model.knownArchitecture, false, type);
    assert.equal(model.arch.modelType, type);
    assert.equal(model.arch.positionOffset, 0);
    assert.ok(Number.isInteger(model.maxLength) && model.maxLength > 0, `${type}: a finite length limit`);
    await model.runner.release();
  }
});

test('a non-numeric max_position_embeddings is refused instead of disabling truncation', async () => {
  for (const value of ['"512"', '"abc"', '-5', '0', '1.5', 'true', '[512]', '1e30']) {
    const dir = withConfig((c) => JSON.stringify({ ...c, max_position_embeddings: 0 }).replace('"max_position_embeddings":0', `"max_position_embeddings":${value}`));
    await assert.rejects(loadModel(dir), /config\.json of .*: max_position_embeddings must be a positive integer/, value);
  }
  // A valid one still limits the input.
  const ok = await loadModel(withConfig((c) => JSON.stringify({ ...c, max_position_embeddings: 16 })));
  const r = await explainClassify(ok, { text: Array(40).fill('word').join(' ') }, { ...DEFAULT_SETTINGS, method: 'saliency' });
  assert.equal(r.tokens.length, 16);
  assert.match(r.warnings[0]!, /truncated/);
  await ok.runner.release();
});

test('id2label, label2id, model_type, problem_type of the wrong type are one clear error naming the field', () => {
  const cases: [string, RegExp][] = [
    ['{"id2label": {"0": 5}}', /id2label\[0\] must be a string/],
    ['{"id2label": [1, 2]}', /id2label must be an object/],
    ['{"id2label": {"__proto__": "x"}}', /id2label key "__proto__" must be a class index/],
    ['{"label2id": {"entailment": "0"}}', /label2id\["entailment"\] must be a non-negative integer/],
    ['{"model_type": 7}', /model_type must be a string/],
    ['{"problem_type": "magic"}', /problem_type must be one of/],
    ['{"architectures": "Bert"}', /architectures must be a list of strings/],
  ];
  for (const [json, pattern] of cases) assert.throws(() => validateConfig(JSON.parse(json), 'config.json'), pattern, json);
  const c = validateConfig(JSON.parse('{"id2label": {"0": "constructor", "1": "__proto__"}, "label2id": {"__proto__": 1}}'), 'config.json');
  assert.equal(c.id2label!['0'], 'constructor');
  assert.equal(c.id2label!['1'], '__proto__');
  assert.equal(c.label2id!['__proto__'], 1);
  assert.equal(c.id2label!['toString' as string], undefined, 'no inherited keys');
});

test('labels named like Object internals are plain labels in predictions', async () => {
  const dir = withConfig((c) => JSON.stringify({ ...c, id2label: { 0: 'constructor', 1: 'toString' }, label2id: { constructor: 0, toString: 1 } }));
  const model = await loadModel(dir);
  const r = await explainClassify(model, { text: 'a fine day', target: 'toString' }, { ...DEFAULT_SETTINGS, method: 'saliency' });
  assert.deepEqual(Object.keys(r.prediction['scores'] as object).sort(), ['constructor', 'toString']);
  assert.equal(r.attributions[0]!.target, 'toString');
  await model.runner.release();
});
