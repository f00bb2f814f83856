import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/io/folder.js';
import { groupWords, sumByWord, wordConvention } from '../../src/models/words.js';
import { fixture } from '../helpers.js';

// Words from the three subword conventions, on the fixture models' real tokenizers.
const cases: { model: string; convention: unknown; text: string; pair?: string; tokens: string[]; words: string[] }[] = [
  {
    model: 'bert-ner', convention: { kind: 'continuation', prefix: '##' }, text: 'Ada Lovelace wasn\'t born in Londonderry.',
    tokens: ['[CLS]', 'ada', 'love', '##lace', 'wasn', '\'', 't', 'born', 'in', 'london', '##d', '##er', '##r', '##y', '.', '[SEP]'],
    words: ['[CLS]', 'Ada', 'Lovelace', 'wasn', '\'', 't', 'born', 'in', 'Londonderry', '.', '[SEP]'],
  },
  {
    model: 'xlm-roberta-cls', convention: { kind: 'start', marker: '▁' }, text: 'The new café opened downtown, unexpectedly.',
    tokens: ['<s>', '▁The', '▁new', '▁caf', 'é', '▁opened', '▁down', 'town', ',', '▁', 'u', 'n', 'e', 'x', 'p', 'e', 'c', 't', 'ed', 'ly', '.', '</s>'],
    words: ['<s>', 'The', 'new', 'café', 'opened', 'downtown,', 'unexpectedly.', '</s>'],
  },
  {
    model: 'roberta-qa', convention: { kind: 'start', marker: 'Ġ' }, text: 'Who founded it?', pair: 'Ada Lovelace founded it in Londonderry.',
    tokens: ['<s>', 'Who', 'Ġfounded', 'Ġit', '?', '</s>', '</s>', 'Ada', 'ĠLovelace', 'Ġfounded', 'Ġit', 'Ġin', 'ĠLo', 'ndo', 'nd', 'e', 'r', 'r', 'y', '.', '</s>'],
    words: ['<s>', 'Who', 'founded', 'it?', '</s>', '</s>', 'Ada', 'Lovelace', 'founded', 'it', 'in', 'Londonderry.', '</s>'],
  },
];

for (const c of cases) {
  test(`words of ${c.model} (${JSON.stringify(c.convention)})`, async () => {
    const model = await loadModel(fixture('models', c.model));
    assert.deepEqual(model.tokenizer.words, c.convention);
    const enc = model.tokenizer.encode(c.text, c.pair);
    assert.deepEqual(enc.tokens, c.tokens);
    const w = groupWords(enc, model.tokenizer.words, [c.text, c.pair]);
    assert.deepEqual(w.words, c.words);
    assert.equal(w.wordOf.length, enc.tokens.length);
    w.wordOf.forEach((x, i) => i > 0 && assert.ok(x === w.wordOf[i - 1]! || x === w.wordOf[i - 1]! + 1, 'words are runs of tokens'));
    assert.deepEqual(w.special, c.words.map((x) => /^(\[CLS\]|\[SEP\]|<s>|<\/s>)$/.test(x)));
    const values = enc.tokens.map((_, i) => i + 1);
    const sums = sumByWord(values, w.wordOf, w.words.length);
    assert.equal(sums.reduce((a, b) => a + b, 0), values.reduce((a, b) => a + b, 0));
  });
}

test('conventions from tokenizer.json: WordPiece prefix, ByteLevel and Metaspace (also inside a Sequence), else offsets', () => {
  assert.deepEqual(wordConvention({ model: { type: 'WordPiece', continuing_subword_prefix: '@@' } }), { kind: 'continuation', prefix: '@@' });
  assert.deepEqual(wordConvention({ model: { type: 'BPE' }, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split' }, { type: 'ByteLevel' }] } }), { kind: 'start', marker: 'Ġ' });
  assert.deepEqual(wordConvention({ model: { type: 'Unigram' }, pre_tokenizer: null, decoder: { type: 'Metaspace', replacement: '▁' } }), { kind: 'start', marker: '▁' });
  assert.deepEqual(wordConvention({ model: { type: 'BPE' }, pre_tokenizer: { type: 'Whitespace' } }), { kind: 'offsets' });
});
