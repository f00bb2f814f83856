import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderText, visibleWidth } from '../../src/viz/text.js';
import { ANSWER, QA_TOKENS, START_WARNING, TRUNCATION_WARNING, UNK_INDEX, classifyExplanation, qaExplanation, stripAnsi } from './fixtures.js';

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

/** The lines of the token block after the `[target]` line (up to the next blank line). */
function tokenBlock(out: string, target: string): string[] {
  const lines = out.split('\n');
  let i = lines.findIndex((l) => stripAnsi(l).startsWith(`[${target}] attribution score`));
  assert.ok(i >= 0, `a [${target}] line`);
  while (lines[i + 1]!.startsWith('  ')) i++; // the score line's continuation lines
  const block: string[] = [];
  for (let j = i + 1; j < lines.length && lines[j] !== ''; j++) block.push(lines[j]!);
  return block;
}

/**
 * Asserts that the lines hold exactly the units in order, each line breaking only between two units, and that the
 * wrap is greedy: the next line's first unit would not have fitted (so escape sequences did not count).
 */
function assertWholeUnits(lines: string[], units: string[], width: number): void {
  let k = 0;
  for (const [n, line] of lines.entries()) {
    if (n > 0) assert.ok(visibleWidth(lines[n - 1]!) + 1 + visibleWidth(units[k]!) > width, `${JSON.stringify(units[k])} would have fitted on ${JSON.stringify(lines[n - 1])}`);
    let rest = line;
    let first = true;
    while (rest.length > 0) {
      const u = units[k];
      assert.ok(u !== undefined, `extra text on a line: ${JSON.stringify(rest)}`);
      const want = first ? u : ` ${u}`;
      assert.ok(rest.startsWith(want), `line ${JSON.stringify(line)} continues with ${JSON.stringify(want)}: a unit was split`);
      rest = rest.slice(want.length);
      first = false;
      k++;
    }
  }
  assert.equal(k, units.length, 'every token shown');
}

test('text view: lines wrap to the width at token boundaries, escapes do not count, no token split', () => {
  const e = qaExplanation();
  for (const color of [false, true]) {
    for (const width of [40, 64, 100]) {
      const out = renderText(e, color, { width, values: true });
      for (const line of out.split('\n')) assert.ok(visibleWidth(line) <= width, `${color ? 'colour' : 'plain'}, width ${width}: ${JSON.stringify(stripAnsi(line))} is ${visibleWidth(line)} columns`);
      for (const [t, a] of e.attributions.entries()) {
        const block = tokenBlock(out, a.target).map(stripAnsi);
        assert.ok(block.length > 1, 'the tokens do wrap');
        const units = QA_TOKENS.map((tok, i) => `${!color && i === ANSWER[0] ? '[' : ''}${tok}(${signed(e.attributions[t]!.normalized[i]!)})${!color && i === ANSWER[1] ? ']' : ''}`);
        assertWholeUnits(block, units, width);
      }
    }
  }
  assert.ok(renderText(e, true, { width: 64 }).split('\n').some((l) => l.length > 64), 'the raw colour lines are longer than the width');
  // The default width is 100.
  for (const line of renderText(e, false).split('\n')) assert.ok(visibleWidth(line) <= 100);
  assert.ok(renderText(e, false).split('\n').some((l) => visibleWidth(l) > 64), 'default wider than 64');
});

test('text view: a token longer than the line stays whole, on a line of its own', () => {
  const e = classifyExplanation();
  const long = 'x'.repeat(50);
  e.tokens[2] = long;
  const block = tokenBlock(renderText(e, false, { width: 30 }), 'positive');
  assert.ok(block.includes(`${long}(${signed(e.attributions[0]!.normalized[2]!)})`), block.join('\n'));
});

test('text view: neutral tokens have no background, strong ones a background with black text', () => {
  const e = qaExplanation();
  const out = renderText(e, true, { width: 200 });
  const block = tokenBlock(out, 'start').join(' ');
  const norm = e.attributions[0]!.normalized;
  const strong = norm.filter((v) => Math.abs(v) > 0.05).length;
  assert.ok(strong >= 3 && strong < norm.length - 10, 'a few strong tokens, many neutral ones');
  assert.equal((block.match(/\x1b\[48;2;/g) ?? []).length, strong, 'one background per strong token');
  assert.equal((block.match(/\x1b\[48;2;\d+;\d+;\d+m\x1b\[38;2;0;0;0m/g) ?? []).length, strong, 'black text on each background');
  // "who" (index 1) is strong, "founded" (index 2) neutral: printed plain, no escape before it.
  assert.ok(Math.abs(norm[1]!) > 0.05 && Math.abs(norm[2]!) <= 0.05);
  assert.match(block, /\x1b\[48;2;\d+;\d+;\d+m\x1b\[38;2;0;0;0mwho\x1b\[0m founded < \x1b\[48;2;/);
  assert.doesNotMatch(block, /\x1b\[48;2;255;255;255m/, 'no white boxes');
  const plain = renderText(e, false);
  assert.doesNotMatch(plain, /\x1b/, 'no escape at all without colour');
});

test('text view: values in colour mode only with values: true; always without colour', () => {
  const e = qaExplanation();
  const v1 = signed(e.attributions[0]!.normalized[1]!);
  assert.doesNotMatch(stripAnsi(renderText(e, true)), /who\(/);
  assert.match(stripAnsi(renderText(e, true, { values: true })), new RegExp(`who\\(\\${v1}\\) founded\\(`));
  assert.match(renderText(e, false), new RegExp(`who\\(\\${v1}\\) founded\\(`));
  assert.match(renderText(e, false, { values: false }), new RegExp(`who\\(\\${v1}\\)`), 'without colour the values stay');
});

test('text view: the QA answer span is underlined in colour, in [ ] without', () => {
  const e = qaExplanation();
  const n = e.attributions[0]!.normalized;
  const colour = tokenBlock(renderText(e, true, { width: 200 }), 'start').join(' ');
  const underlined = [...colour.matchAll(/\x1b\[4m([^\x1b]+)\x1b\[0m/g)].map((m) => m[1]);
  assert.deepEqual(underlined, ['london', '.']);
  const plain = tokenBlock(renderText(e, false, { width: 200 }), 'start').join(' ');
  assert.ok(plain.includes(` [london(${signed(n[15]!)}) .(${signed(n[16]!)})] it(`), plain);
  assert.equal(plain.split(' [london(').length, 2, 'one opening bracket');
});

test('text view: F(x), F(baseline) and the delta with its share on the score line; warnings as lines', () => {
  const out = renderText(qaExplanation(), false);
  const lines = out.split('\n');
  assert.ok(lines.includes('[start] attribution score 11.61, F(x) 3.983, F(baseline) -5.901,'), out);
  assert.ok(lines.includes('  convergence delta 1.73 (17% of F(x) − F(baseline)) ⚠'), out);
  assert.ok(lines.includes('[end] attribution score 16.6, F(x) 8.659, F(baseline) -7.941,'), out);
  assert.ok(lines.includes('  convergence delta 0.0001 (0.0006% of F(x) − F(baseline))'), out);
  const wide = renderText(qaExplanation(), false, { width: 140 }).split('\n');
  assert.ok(wide.includes('[start] attribution score 11.61, F(x) 3.983, F(baseline) -5.901, convergence delta 1.73 (17% of F(x) − F(baseline)) ⚠'));
  // Warnings: a `warning:` line each, continuation lines indented.
  const warnings = lines.filter((l) => l.startsWith('warning: '));
  assert.equal(warnings.length, 2);
  const joined = out.replace(/\n {2}/g, ' ');
  assert.ok(joined.includes(`warning: ${TRUNCATION_WARNING}`));
  assert.ok(joined.includes(`warning: ${START_WARNING}`));
  // No delta for smoothgrad; its settings line names only its options.
  const sg = renderText(classifyExplanation(), false);
  assert.match(sg, /^\[positive\] attribution score 0\.807$/m);
  assert.match(sg, /method smoothgrad on \/bert\/embeddings\/LayerNorm\/Add_1_output_0, 7 samples, stdevs 0\.25, seed 42/);
  assert.doesNotMatch(sg, /steps|baseline|convergence/);
});

test('text view: a legend with the scale in colour, a short one without', () => {
  const qa = qaExplanation();
  const colour = renderText(qa, true, { width: 200 }).split('\n');
  const legend = colour.find((l) => l.startsWith('legend:'))!;
  const swatches = [...legend.matchAll(/\x1b\[48;2;(\d+);(\d+);(\d+)m\x1b\[38;2;0;0;0m ([^\x1b]+) \x1b\[0m/g)].map((m) => m[4]);
  assert.deepEqual(swatches, ['-1', '-0.5', '+0.5', '+1'], 'coloured swatches with their numbers');
  assert.match(stripAnsi(legend), /^legend: {2}-1 {3}-0\.5 {2}0 {2}\+0\.5 {3}\+1 {2}\(/, 'five steps, 0 plain');
  assert.match(legend, /\x1b\[4munderlined\x1b\[0m: the answer/);
  const plain = renderText(qa, false).split('\n').find((l) => l.startsWith('legend:'))!;
  assert.match(plain, /^legend: token\(value\), the attribution normalised by its L2 norm/);
  assert.doesNotMatch(renderText(classifyExplanation(), false), /answer span/, 'no answer in the legend of a classifier');
});

test('text view: everything from the model or the input is escaped; [UNK] with its original text', () => {
  const e = classifyExplanation();
  e.model = 'evil\x1b]0;title\x07';
  e.warnings = ['bad\rline'];
  e.attributions[0]!.target = 'pos\u202eitive';
  for (const color of [false, true]) {
    const out = renderText(e, color);
    assert.doesNotMatch(out, /\x1b\[2J|\x1b\]|\x07|\r|\u202e/, 'no raw control from the model or input');
    assert.ok(out.includes('\\x1b[2J') && out.includes('\\x1b]0;title\\x07') && out.includes('bad\\rline') && out.includes('pos\\u202eitive'));
  }
  const qa = qaExplanation();
  const out = renderText(qa, false, { width: 200, unk: { [UNK_INDEX]: 'Ł\x1bovelace' } });
  assert.ok(out.includes('ada(') && out.includes(' [UNK] (Ł\\x1bovelace)('), out);
  const own = { ...qaExplanation(), unk_text: { [String(UNK_INDEX)]: 'Łovelace' } };
  assert.ok(renderText(own, false, { width: 200 }).includes(' [UNK] (Łovelace)('), 'the explanation\'s own unk_text');
});
