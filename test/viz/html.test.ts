import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml, renderTable } from '../../src/viz/html.js';
import { settingsLine } from '../../src/viz/report.js';
import type { Explanation } from '../../src/tasks/common.js';
import { ANSWER, CONTEXT, QUESTION, START_WARNING, TRUNCATION_WARNING, UNK_INDEX, classifyExplanation, qaExplanation } from './fixtures.js';

const section = (html: string, from: string, to: string): string => {
  const i = html.indexOf(from);
  assert.ok(i >= 0, `has ${from}`);
  const j = html.indexOf(to, i + from.length);
  return html.slice(i, j < 0 ? undefined : j);
};
const rows = (html: string) => [...html.matchAll(/<tr data-target="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => ({ target: m[1], cells: [...m[2]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!) }));

test('HTML report: title and h1 name the model and the task', () => {
  const html = renderHtml([qaExplanation()]);
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '';
  const h1 = /<h1>([^<]*)<\/h1>/.exec(html)?.[1] ?? '';
  for (const t of [title, h1]) {
    assert.match(t, /demo\/qa \(hand-built\)/, 'the model');
    assert.match(t, /question answering \(qa\)/, 'the task');
  }
  assert.match(renderHtml([classifyExplanation()]), /<title>gradlens: text classification \(classify\) with demo\/sentiment<\/title>/);
});

test('HTML report: the input as text (escaped), the answer marked in the context and shown as text', () => {
  const html = renderHtml([qaExplanation()], { inputs: [{ question: QUESTION, context: CONTEXT }] });
  const input = section(html, '<dl class="input">', '</dl>');
  assert.ok(input.includes('Who founded &lt;it&gt; &amp; when?'), 'the question, escaped');
  assert.doesNotMatch(html, /<it>/, 'no raw markup from the input');
  assert.ok(input.includes('Ada Łovelace founded it in <mark class="answer-span">London.</mark> It grew quickly &amp; it was very successful afterwards.'), 'the context with the answer marked');
  assert.match(html, /<p class="answer">Answer: <mark class="answer-text">London\.<\/mark><\/p>/, 'the answer text');
  // The Word Importance row still outlines the answer tokens.
  const answerMarks = [...html.matchAll(/<mark class="tok answer" data-index="(\d+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual(answerMarks, [ANSWER[0], ANSWER[1], ANSWER[0], ANSWER[1]], 'answer tokens in both rows');
  assert.doesNotMatch(html, /from-tokens/, 'no fallback when the input is given');
});

test('HTML report: every input field of every task; labels as a list, the zero-shot hypothesis', () => {
  const c = classifyExplanation();
  const html = renderHtml([c], { inputs: [{ text: 'A "great" movie', pair: 'Second <text>' }] });
  assert.match(html, /<dt>Text<\/dt><dd class="input-text">A &quot;great&quot; movie<\/dd>/);
  assert.match(html, /<dt>Pair<\/dt><dd class="input-pair">Second &lt;text&gt;<\/dd>/);
  const z: Explanation = { ...c, task: 'zero-shot', prediction: { label: 'sports', score: 0.7, labels: ['sports', 'politics'], scores: [0.7, 0.3], hypothesis: 'This is about sports.' } };
  const zh = renderHtml([z], { inputs: [{ text: 'The team won.', labels: ['sports', 'politics'], template: 'This is about {}.' }] });
  assert.match(zh, /<dt>Candidate labels<\/dt><dd class="input-labels">sports, politics<\/dd>/);
  assert.match(zh, /<dt>Hypothesis template<\/dt><dd class="input-template">This is about \{\}\.<\/dd>/);
  assert.match(zh, /<dt>Hypothesis<\/dt><dd class="input-hypothesis">This is about sports\.<\/dd>/);
});

test('HTML report: without inputs the text is rebuilt from the tokens, [UNK] with its original text', () => {
  const e = qaExplanation();
  const html = renderHtml([e], { inputs: [{ unk: { [UNK_INDEX]: 'Łovelace' } }] });
  const input = section(html, '<dl class="input from-tokens">', '</dl>');
  assert.match(input, /<dt>Question<\/dt><dd[^>]*>who founded &lt; it &gt; &amp; when \?<\/dd>/);
  assert.match(input, /<dt>Context<\/dt><dd[^>]*>ada Łovelace founded it in <mark class="answer-span">london \.<\/mark> it grew quickly &amp; it was very successful afterwards \.<\/dd>/);
  // In the table: [UNK] (orig) in the token and its hover text.
  const row = rows(html)[0]!;
  assert.match(row.cells[4]!, new RegExp(`<mark class="tok" data-index="${UNK_INDEX}" [^>]*title="\\[UNK\\] \\(Łovelace\\): [^"]*"[^>]*>\\[UNK\\] \\(Łovelace\\)</mark>`));
  // Without the map: [UNK] stays as it is.
  const plain = renderHtml([e]);
  assert.doesNotMatch(plain, /Łovelace/);
  assert.match(plain, />\[UNK\]<\/mark>/);
});

test('HTML report: the convergence delta under each target label, flagged when large; Captum\'s five columns', () => {
  const html = renderHtml([qaExplanation()], { trueLabel: 'London' });
  const heads = [...section(html, '<thead>', '</thead>').matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]);
  assert.deepEqual(heads, ['True Label', 'Predicted Label', 'Attribution Label', 'Attribution Score', 'Word Importance']);
  const [start, end] = rows(html);
  assert.equal(start!.cells.length, 5);
  assert.equal(start!.cells[0], 'London');
  assert.equal(start!.cells[3], '11.61');
  assert.match(start!.cells[2]!, /^<span class="target">start<\/span><span class="delta large" title="[^"]*F\(x\) 3\.983, F\(baseline\) -5\.901[^"]*">⚠ delta 1\.73e\+0 \(17%\)<\/span>$/);
  assert.match(end!.cells[2]!, /^<span class="target">end<\/span><span class="delta" title="[^"]*">delta 1\.00e-4 \(0\.0006%\)<\/span>$/);
  // No delta line for a method without one.
  const c = rows(renderTable([classifyExplanation()]))[0]!;
  assert.equal(c.cells[2], '<span class="target">positive</span>');
});

test('HTML report: every warning in ul.warnings; none said when there are none', () => {
  const html = renderHtml([qaExplanation()]);
  const list = section(html, '<ul class="warnings">', '</ul>');
  const items = [...list.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1]);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
  assert.deepEqual(items, [`⚠ ${esc(TRUNCATION_WARNING)}`, `⚠ ${esc(START_WARNING)}`]);
  const none = renderHtml([classifyExplanation()]);
  assert.doesNotMatch(none, /<ul class="warnings">/);
  assert.match(none, /No warnings\./);
});

test('HTML report: only the settings the method reads (layer-ig, auto steps, smoothgrad, saliency)', () => {
  const settingsOf = (e: Explanation) => section(renderHtml([e]), '<ul class="settings">', '</ul>');
  const keys = (s: string) => [...s.matchAll(/data-setting="([^"]+)"/g)].map((m) => m[1]);

  const lig = settingsOf(qaExplanation());
  assert.deepEqual(keys(lig), ['method', 'layer', 'steps', 'integration', 'baseline']);
  assert.match(lig, /<strong>Steps<\/strong>: 50</);
  assert.match(lig, /<strong>Integration<\/strong>: gausslegendre</);
  assert.match(lig, /<strong>Baseline<\/strong>: pad</);
  assert.match(lig, /<strong>Layer<\/strong>: \/bert\/embeddings\/LayerNorm\/Add_1_output_0</);
  assert.doesNotMatch(lig, /Samples|Seed|stdev/i);

  const auto = qaExplanation();
  auto.settings.steps = 'auto';
  auto.attributions[0]!.n_steps = 64;
  auto.attributions[1]!.n_steps = 128;
  assert.match(settingsOf(auto), /<strong>Steps<\/strong>: auto \(start 64, end 128 used\)</);
  auto.attributions[1]!.n_steps = 64;
  assert.match(settingsOf(auto), /<strong>Steps<\/strong>: auto \(64 used\)</);

  const sg = settingsOf(classifyExplanation());
  assert.deepEqual(keys(sg), ['method', 'layer', 'samples', 'stdevs', 'seed']);
  assert.match(sg, /<strong>Method<\/strong>: smoothgrad <span class="captum">\(Captum: NoiseTunnel\(Saliency\), smoothgrad\)<\/span></);
  assert.match(sg, /<strong>Samples<\/strong>: 7</);
  assert.match(sg, /<strong>Noise stdev<\/strong>: 0\.25</);
  assert.match(sg, /<strong>Seed<\/strong>: 42</);
  assert.doesNotMatch(sg, /steps|baseline|integration/i);
  assert.equal(settingsLine(classifyExplanation()), 'method smoothgrad on /bert/embeddings/LayerNorm/Add_1_output_0, 7 samples, stdevs 0.25, seed 42');

  const sal = classifyExplanation();
  sal.settings.method = 'saliency';
  assert.deepEqual(keys(settingsOf(sal)), ['method', 'layer']);
});

test('HTML report: self-contained (no scripts, no network) and escaped everywhere', () => {
  const e = qaExplanation();
  e.model = '<script>alert(1)</script>';
  e.warnings = ['<img src=x onerror=alert(1)>'];
  const html = renderHtml([e], { inputs: [{ question: '<script>q</script>', context: CONTEXT }] });
  assert.doesNotMatch(html, /<script|<img|https?:\/\//);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

test('HTML report: several explanations, one input record each', () => {
  const html = renderHtml([qaExplanation(), classifyExplanation()], { inputs: [{ question: QUESTION, context: CONTEXT }, undefined] });
  assert.match(html, /<h2>Example 1: qa with demo\/qa \(hand-built\)<\/h2>/);
  assert.match(html, /<h2>Example 2: classify with demo\/sentiment<\/h2>/);
  assert.match(html, /<dd class="input-question">Who founded &lt;it&gt; &amp; when\?<\/dd>/);
  assert.match(html, /<dl class="input from-tokens">\n<dt>Text<\/dt><dd class="input-text">the movie was great /, 'the second is rebuilt from its tokens');
  assert.equal(rows(html).length, 3, 'one table, a row per target');
  assert.equal((html.match(/<ul class="settings">/g) ?? []).length, 2);
});
