import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TextTokenizer } from '../../src/models/tokenizer.js';
import { FolderSource } from '../../src/io/folder.js';
import { ROOT, fixture, readJson } from '../helpers.js';

// Reference ids and offsets from a Python implementation of HF's BertTokenizerFast rules on the real
// bert-base-uncased vocabulary (scripts/demo/make_tokenizer_fixture.py): accents, punctuation, CJK, unknown
// words, over-long words, whitespace oddities, pairs.
interface Case { text: string; text_pair?: string; ids: number[]; tokens: string[]; type_ids: number[]; offsets_utf16: [number, number][] }
const cases = readJson<Case[]>(fixture('tokenizer', 'bert-base-uncased-ids.json'));
const tokenizer = await TextTokenizer.fromSource(new FolderSource(join(ROOT, 'demo', 'qa')));

test(`bert-base-uncased: ids, tokens and token types equal the reference on ${cases.length} texts`, () => {
  for (const c of cases) {
    const enc = tokenizer.encode(c.text, c.text_pair, { maxLength: 100000 });
    assert.deepEqual(enc.ids, c.ids, JSON.stringify(c.text));
    assert.deepEqual(enc.tokens, c.tokens);
    assert.deepEqual(enc.typeIds, c.type_ids);
    assert.equal(enc.special.filter(Boolean).length, c.text_pair === undefined ? 2 : 3);
  }
});

test('offsets point back into the original text as the reference tokenizer does', () => {
  let checked = 0;
  for (const c of cases) {
    const enc = tokenizer.encode(c.text, c.text_pair, { maxLength: 100000 });
    enc.offsets.forEach((span, i) => {
      if (enc.special[i]) {
        assert.equal(span, null);
        return;
      }
      assert.deepEqual(span, c.offsets_utf16[i], `${JSON.stringify(c.text)} token ${i} ${c.tokens[i]}`);
      checked++;
    });
  }
  assert.ok(checked > 200);
});

test('truncation: only_second keeps the question, longest_first trims the longer text', () => {
  const q = 'what is the answer to this question?';
  const ctx = Array(50).fill('word').join(' ');
  const enc = tokenizer.encode(q, ctx, { maxLength: 32, truncation: 'only_second' });
  assert.equal(enc.ids.length, 32);
  assert.equal(enc.segment.filter((s) => s === 0).length, tokenizer.tokenize(q).length);
  assert.equal(enc.truncatedTokens, 50 - (32 - 3 - tokenizer.tokenize(q).length));
  const both = tokenizer.encode(ctx, ctx, { maxLength: 21, truncation: 'longest_first' });
  assert.equal(both.segment.filter((s) => s === 0).length, 9);
  assert.equal(both.segment.filter((s) => s === 1).length, 9);
});
