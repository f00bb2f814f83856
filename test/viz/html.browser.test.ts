import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCli } from '../cli/run-cli.js';
import { captumColor } from '../../src/viz/colors.js';

// The HTML report in real headless Chromium (Debian's package, driven by playwright-core; no browser download).
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env['CI'] ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;

// The walkthrough question (the CLI's default, SEED_EXAMPLE in src/tasks/index.ts), as the user would type it.
const QUESTION = 'What is important to us?';

test('HTML report renders in Chromium: Captum table, one coloured mark per token, a real screenshot', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-html-'));
  const html = join(dir, 'report.html');
  const json = join(dir, 'report.json');
  const r1 = await runCli(['explain', 'qa', '--format', 'html', '-o', html, '--steps', '16']);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli(['explain', 'qa', '--format', 'json', '-o', json, '--steps', '16']);
  assert.equal(r2.code, 0, r2.stderr);
  const result = JSON.parse(readFileSync(json, 'utf8')) as { tokens: string[]; attributions: { normalized: number[] }[]; prediction: { answer: string; start: number; end: number }; warnings: string[] };
  const convergence = result.warnings.find((w) => w.startsWith('start: the convergence delta'));
  assert.ok(convergence, `the demo QA model's start target warns about its convergence delta: ${JSON.stringify(result.warnings)}`);
  const source = readFileSync(html, 'utf8');
  assert.doesNotMatch(source, /<script|https?:\/\//, 'self-contained: no scripts, no network');

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto(pathToFileURL(html).href);
    const headers = await page.$$eval('#attributions th', (ths) => ths.map((t) => t.textContent?.trim()));
    assert.deepEqual(headers, ['True Label', 'Predicted Label', 'Attribution Label', 'Attribution Score', 'Word Importance']);
    const rows = await page.$$eval('#attributions tbody tr', (trs) => trs.map((tr) => ({
      label: tr.children[2]!.querySelector('.target')?.textContent,
      delta: tr.children[2]!.querySelector('.delta')?.textContent ?? null,
      deltaLarge: tr.children[2]!.querySelector('.delta')?.classList.contains('large') ?? false,
      marks: [...tr.querySelectorAll('mark.tok')].map((m) => ({ value: Number((m as HTMLElement).dataset['value']), color: getComputedStyle(m).backgroundColor, title: m.getAttribute('title') })),
    })));
    assert.deepEqual(rows.map((r) => r.label), ['start', 'end']);
    // The convergence delta under each target label; the start one (large) flagged.
    for (const r of rows) assert.match(r.delta ?? '', /delta -?\d\.\d{2}e[+-]\d+ \(\S+%\)$/, `${r.label}: a delta line`);
    assert.equal(rows[0]!.deltaLarge, true, 'the start delta is flagged large');
    assert.match(rows[0]!.delta!, /^⚠ /);

    // Standalone: title and heading name the model and task, the input as text, the answer, every warning.
    assert.match(await page.title(), /question answering \(qa\) with demo\/qa/);
    assert.match((await page.textContent('h1')) ?? '', /question answering \(qa\) with demo\/qa/);
    const visible = await page.evaluate(() => document.body.innerText);
    // The question as the user gave it (the CLI passes its inputs to renderHtml); its words are there even when rebuilt from the tokens.
    assert.ok(visible.includes(QUESTION), `the question text "${QUESTION}" is shown`);
    assert.equal(await page.textContent('mark.answer-text'), result.prediction.answer, 'the answer as text');
    const answerMarks = await page.$$eval('#attributions tbody tr:first-child mark.tok.answer', (ms) => ms.map((m) => Number((m as HTMLElement).dataset['index'])));
    assert.deepEqual(answerMarks, Array.from({ length: result.prediction.end - result.prediction.start + 1 }, (_, i) => result.prediction.start + i), 'the answer span marked in the table');
    assert.equal(await page.isVisible('mark.answer-span'), true, 'the answer marked in the context');
    const warnings = await page.$$eval('ul.warnings li', (lis) => lis.map((li) => li.textContent ?? ''));
    assert.deepEqual(warnings, result.warnings.map((w) => `⚠ ${w}`), 'every warning');
    assert.ok(await page.isVisible(`ul.warnings li:has-text("start: the convergence delta")`), 'the convergence warning is visible');
    const settings = await page.$$eval('ul.settings li', (lis) => lis.map((li) => li.getAttribute('data-setting')));
    assert.deepEqual(settings.filter((k) => k !== 'qa_target'), ['method', 'layer', 'steps', 'integration', 'baseline'], 'the settings layer-ig reads');

    for (const [k, row] of rows.entries()) {
      assert.equal(row.marks.length, result.tokens.length, 'one mark per token');
      row.marks.forEach((m, i) => {
        assert.ok(Math.abs(m.value - result.attributions[k]!.normalized[i]!) < 1e-9, 'mark value = normalized attribution');
        assert.ok(m.title && m.title.includes(m.value.toFixed(4)), 'exact value on hover');
      });
      // The rendered colour follows the value: the computed style equals Captum's colour for it.
      for (const m of row.marks) {
        const expected = await colorOf(page, captumColor(m.value));
        assert.equal(m.color, expected, `colour of ${m.value}`);
      }
      const pos = row.marks.filter((m) => m.value > 0.05).map((m) => m.color);
      const neg = row.marks.filter((m) => m.value < -0.05).map((m) => m.color);
      for (const c of pos) assert.match(c, /^rgb\((\d+), (\d+), \1\)$/, 'positive = green hue');
      for (const c of neg) assert.match(c, /^rgb\((\d+), (\d+), \2\)$/, 'negative = red hue');
    }
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(dir, 'report.png'), shot);
    assert.ok(shot.length > 5000, 'non-empty screenshot');
    const distinct = await page.evaluate(() => new Set([...document.querySelectorAll('mark.tok')].map((m) => getComputedStyle(m).backgroundColor)).size);
    assert.ok(distinct > 3, 'several colours on the page');
    assert.deepEqual(requests, [], 'no network requests');
  } finally {
    await browser.close();
  }
});

async function colorOf(page: import('playwright-core').Page, css: string): Promise<string> {
  return page.evaluate((c) => {
    const el = document.createElement('span');
    el.style.backgroundColor = c;
    document.body.appendChild(el);
    const out = getComputedStyle(el).backgroundColor;
    el.remove();
    return out;
  }, css);
}
