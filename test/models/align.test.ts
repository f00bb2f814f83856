import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignTokens, tokenSurface } from '../../src/models/align.js';

const slices = (text: string, tokens: string[]) => alignTokens(text, tokens).map((s) => (s ? text.slice(s[0], s[1]) : null));

test('WordPiece tokens map back to the original text, accents and case included', () => {
  const text = 'Café  NAÏVE résumé, über-cool!';
  const tokens = ['cafe', 'naive', 'res', '##ume', ',', 'uber', '-', 'cool', '!'];
  assert.deepEqual(slices(text, tokens), ['Café', 'NAÏVE', 'rés', 'umé', ',', 'über', '-', 'cool', '!']);
});

test('CJK characters, newlines and tabs', () => {
  const text = '中文\t字符\nok';
  assert.deepEqual(slices(text, ['中', '文', '字', '符', 'ok']), ['中', '文', '字', '符', 'ok']);
});

test('[UNK] tokens take the text between their neighbours', () => {
  const text = 'hello 🙂 world';
  assert.deepEqual(slices(text, ['hello', '[UNK]', 'world']), ['hello', '🙂', 'world']);
});

test('byte-level BPE and SentencePiece markers', () => {
  assert.equal(tokenSurface('\u0120world'), 'world');
  assert.equal(tokenSurface('\u2581world'), 'world');
  assert.equal(tokenSurface('##ing'), 'ing');
  // "é" in GPT-2's byte alphabet is "Ã©".
  assert.equal(tokenSurface('\u0120caf\u00c3\u00a9'), 'café');
  const text = 'Hello café';
  assert.deepEqual(slices(text, ['Hello', '\u0120caf\u00c3\u00a9']), ['Hello', 'café']);
});

test('repeated words align in order', () => {
  const text = 'to be or not to be';
  assert.deepEqual(alignTokens(text, ['to', 'be', 'or', 'not', 'to', 'be']), [[0, 2], [3, 5], [6, 8], [9, 12], [13, 15], [16, 18]]);
});
