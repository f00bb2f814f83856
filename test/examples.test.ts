// The runnable examples in examples/ (compiled to dist/examples/) and the README's Library section, which shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

const ANSWER = 'to include, empower and support humans of all kinds';
/** The README's Library blocks, in order: the files they must be identical to. */
const SHOWN = ['examples/explain-qa.ts', 'examples/layer-ig.ts', 'examples/web.ts'];
const NUMBER = String.raw`(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)`;

/** Runs a compiled example from another folder (the package resolves 'gradlens' by its own name, not the cwd). */
function runExample(name: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'examples', `${name}.js`)], { cwd: tmpdir(), env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('examples/explain-qa.ts answers the walkthrough question and prints each target\'s convergence delta', async () => {
  const r = await runExample('explain-qa');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`answer: "${ANSWER}"`));
  const deltas = [...r.stdout.matchAll(new RegExp(`convergence delta ${NUMBER}`, 'g'))].map((m) => Number(m[1]));
  assert.equal(deltas.length, 2, `a delta for start and for end:\n${r.stdout}`);
  assert.ok(deltas.every(Number.isFinite));
  assert.match(r.stdout, /\[start\]/);
  assert.match(r.stdout, /\[end\]/);
});

test('examples/layer-ig.ts finds the answer span and prints the convergence delta of start and end', async () => {
  const r = await runExample('layer-ig');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^answer: "${ANSWER}" \\(tokens 13–23\\)$`, 'm'));
  for (const target of ['start', 'end']) {
    const m = new RegExp(`^${target}: convergence delta ${NUMBER} \\(.*% of F\\(x\\) − F\\(baseline\\) = ${NUMBER}\\)$`, 'm').exec(r.stdout);
    assert.ok(m, `no delta line for ${target}:\n${r.stdout}`);
    const [delta, change] = [Number(m[1]), Number(m[2])];
    assert.ok(Number.isFinite(delta) && Number.isFinite(change) && Math.abs(delta) < Math.abs(change), `${target}: delta ${delta}, F(x) − F(b) ${change}`);
  }
  assert.match(r.stdout, /^ {2}top tokens: \S+@\d+ -?\d/m);
});

/** The ```ts blocks of the README's "## Library" section, each with the line of prose before it. */
function libraryBlocks(readme: string): { intro: string; code: string }[] {
  const lines = readme.split('\n');
  const start = lines.indexOf('## Library');
  assert.ok(start >= 0, 'README has a "## Library" section');
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  const section = lines.slice(start + 1, end < 0 ? undefined : end);
  const blocks: { intro: string; code: string }[] = [];
  for (let i = 0; i < section.length; i++) {
    if (section[i] !== '```ts') continue;
    const close = section.indexOf('```', i + 1);
    assert.ok(close > i, 'every ```ts block is closed');
    const intro = section.slice(0, i).reverse().find((l) => l.trim() !== '') ?? '';
    blocks.push({ intro, code: `${section.slice(i + 1, close).join('\n')}\n` });
    i = close;
  }
  return blocks;
}

test('the README\'s Library code blocks are the example files, character for character', () => {
  const blocks = libraryBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.equal(blocks.length, SHOWN.length, `the Library section shows ${SHOWN.join(', ')}`);
  SHOWN.forEach((file, k) => {
    assert.equal(blocks[k]!.code, readFileSync(join(ROOT, file), 'utf8'), `README block ${k + 1} differs from ${file}: paste the file`);
    assert.ok(blocks[k]!.intro.includes(file), `the sentence before block ${k + 1} names ${file}: ${blocks[k]!.intro}`);
  });
});
