// Long QA contexts are split into windows with a stride, as the transformers question-answering pipeline does
// (doc_stride), not silently truncated; the best span across windows wins and the output says which window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, DEMO_MODELS } from '../../src/io/folder.js';
import { explainQa, contextWindows } from '../../src/tasks/qa.js';
import { DEFAULT_SETTINGS } from '../../src/attr/registry.js';
import { runCli } from '../cli/run-cli.js';

const QUESTION = 'What is important to us?';
const SENTENCE = 'It is important to us to include, empower and support humans of all kinds.';

test('windows are runs of the full encoding: question and special tokens kept, context covered, stride shared', async () => {
  const model = await loadModel(DEMO_MODELS.qa);
  const context = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} says nothing much.`).join(' ');
  const full = model.tokenizer.encode(QUESTION, context, { maxLength: 1e9 });
  const ctx = full.segment.flatMap((s, i) => (s === 1 ? [full.tokens[i]!] : []));
  const { windows } = contextWindows(full, model.maxLength, 16);
  assert.ok(windows.length > 3);
  let covered = 0;
  let previousEnd = -1;
  for (const w of windows) {
    assert.ok(w.ids.length <= model.maxLength);
    const k = w.segment.indexOf(1);
    assert.deepEqual(w.tokens.slice(0, k), full.tokens.slice(0, k), 'the question part is the full encoding\'s');
    assert.equal(w.tokens[w.tokens.length - 1], full.tokens[full.tokens.length - 1]);
    const run = w.tokens.filter((_, i) => w.segment[i] === 1);
    // The window's context tokens are a contiguous run of the full context, starting where the offsets say.
    const start = ctx.findIndex((_, i) => ctx.slice(i, i + run.length).join(' ') === run.join(' ') && i >= covered - 16);
    assert.ok(start >= 0, 'a contiguous run');
    if (previousEnd >= 0) assert.equal(previousEnd - start, 16, 'consecutive windows share the stride');
    previousEnd = start + run.length;
    covered = previousEnd;
  }
  assert.equal(covered, ctx.length, 'the windows cover the whole context');
  await model.runner.release();
});

test('a 2,000-token context is windowed and the answer is found in the last window; the output says which', async () => {
  const model = await loadModel(DEMO_MODELS.qa);
  // Filler of single-token periods, sized so that the last window holds the answer sentence near its start
  // (the demo model was trained on short contexts).
  const sentenceTokens = model.tokenizer.tokenize(SENTENCE).length;
  const capacity = model.maxLength - 9; // [CLS] what is important to us ? [SEP] … [SEP]
  const step = capacity - 8;
  const n = 18 * step + sentenceTokens + 2;
  const context = `${'. '.repeat(n - sentenceTokens)}${SENTENCE}`;
  const e = await explainQa(model, { question: QUESTION, context, docStride: 8 }, { ...DEFAULT_SETTINGS, steps: 8 });
  assert.ok(n >= 2000);
  assert.equal(e.prediction['answer'], 'to include, empower and support humans of all kinds');
  assert.equal(e.window!.count, 19);
  assert.equal(e.window!.index, 18, 'the last window');
  assert.equal(e.window!.stride, 8);
  assert.ok(e.tokens.length < model.maxLength, 'attributions are over the window\'s tokens');
  assert.equal(e.attributions[0]!.per_token.length, e.tokens.length);
  assert.equal(context.slice(e.prediction['start_char'] as number, e.prediction['end_char'] as number), e.prediction['answer']);
  assert.match(e.warnings[0]!, /the context has 2\d{3} tokens, more than fit .* split into 19 windows sharing 8 tokens; the answer and the attributions are from window 19/);
  // A context that fits has no windows.
  const short = await explainQa(model, { question: QUESTION, context: SENTENCE }, { ...DEFAULT_SETTINGS, steps: 4 });
  assert.equal(short.window, undefined);
  await model.runner.release();
});

test('explain qa --doc-stride is checked, and a question too long for any window is one clear error', async () => {
  const r = await runCli(['explain', 'qa', '-q', 'x', '-c', 'y', '--doc-stride', '-3']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--doc-stride/);
  const long = await runCli(['explain', 'qa', '-q', 'word '.repeat(200), '-c', SENTENCE, '--steps', '2']);
  assert.equal(long.code, 1);
  assert.match(long.stderr, /^gradlens: the question has \d+ tokens .* too long to leave room for the context/);
});
