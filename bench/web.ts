// npm run bench web: LayerIG (50 steps, start + end) in headless Chromium (onnxruntime-web, WASM threads, served by
// gradlens serve with COOP/COEP) against the Node CPU backend on the same machine, on the demo QA model and the
// BERT-base-size bench model; time to first result (cold) and a repeated run (warm); the app's bundle size (gzip).
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadModel, DEMO_MODELS } from '../src/io/folder.js';
import { explainQa } from '../src/tasks/qa.js';
import { DEFAULT_SETTINGS } from '../src/attr/registry.js';
import { cliModelFolder } from './attr.js';
import { now } from './common.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const WALKTHROUGH = { question: 'What is important to us?', context: 'It is important to us to include, empower and support humans of all kinds.' };
// About 120 tokens, as the end-to-end bench of bench/attr.ts.
const LONG = {
  question: 'Who maintains the library?',
  context: Array.from({ length: 5 }, (_, i) => `In release ${i + 1} the maintainers of the open source library added support for new models, fixed bugs reported by users, and improved the documentation.`).join(' '),
};

async function nodeRun(dir: string, input: typeof WALKTHROUGH): Promise<{ coldMs: number; warmMs: number; tokens: number }> {
  const t0 = now();
  const model = await loadModel(dir);
  const first = await explainQa(model, input, { ...DEFAULT_SETTINGS });
  const coldMs = now() - t0;
  const t1 = now();
  await explainQa(model, { ...input, question: `${input.question} ` }, { ...DEFAULT_SETTINGS });
  const warmMs = now() - t1;
  await model.runner.release();
  return { coldMs, warmMs, tokens: first.tokens.length };
}

async function startServe(args: string[]): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['bin/gradlens.js', 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/\S+?\/) /.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (c) => reject(new Error(`gradlens serve exited ${c}`)));
  });
  return { url, stop: () => child.kill('SIGINT') };
}

function bundleSize(): { js: number; wasm: number; total: number; files: number } {
  const dir = join('dist', 'web');
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  // What a WASM run loads: the app, the worker and their chunks, the WASM build of ONNX Runtime; not the demo models,
  // source maps, the WebGPU build or the Hub client (both loaded only when asked for).
  const files = walk(dir).filter((f) => !relative(dir, f).startsWith('models') && !f.endsWith('.map') && !/asyncify|webgpu|browser-/.test(f));
  let js = 0, wasm = 0;
  for (const f of files) {
    const gz = gzipSync(readFileSync(f), { level: 9 }).length;
    if (f.endsWith('.wasm')) wasm += gz;
    else js += gz;
  }
  return { js, wasm, total: js + wasm, files: files.length };
}

export async function benchWeb(): Promise<void> {
  const { chromium } = await import('playwright-core');
  const benchDir = cliModelFolder();
  const server = await startServe(['--model', benchDir]);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const mount = `/models/${benchDir.split('/').pop()}/`;
  const cases = [
    { name: 'demo QA (hidden 64, 2 layers)', dir: DEMO_MODELS.qa, path: '/models/qa/', input: WALKTHROUGH },
    { name: 'BERT-base size (12 layers, 768)', dir: benchDir, path: mount, input: WALKTHROUGH },
    { name: 'BERT-base size, ~120 tokens', dir: benchDir, path: mount, input: LONG },
  ];
  const rows: Record<string, unknown>[] = [];
  try {
    for (const c of cases) {
      const node = await nodeRun(c.dir, c.input);
      // A fresh page per case: cold = navigation to result (ONNX Runtime's WASM, the model, sessions, the run).
      const page = await browser.newPage();
      const q = new URLSearchParams({ model: c.path, task: 'qa', question: c.input.question, context: c.input.context, steps: '50', run: '1' });
      const t0 = now();
      await page.goto(`${server.url}?${q}`);
      const done = () => page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset['state'] ?? ''), null, { timeout: 600_000 });
      await done();
      const coldMs = now() - t0;
      if ((await page.evaluate(() => document.body.dataset['state'])) !== 'done') throw new Error(`${c.name}: ${await page.textContent('#gradlens-error')}`);
      const threads = await page.textContent('#gradlens-status');
      // Warm: the same model again (cached in the worker), a changed question so nothing is reused.
      await page.fill('#question', `${c.input.question} `);
      await page.click('#run');
      await page.waitForFunction(() => document.body.dataset['state'] === 'running');
      await done();
      const warmMs = Number(await page.evaluate(() => document.body.dataset['runMs']));
      await page.close();
      rows.push({
        model: c.name, tokens: node.tokens,
        node_cold_s: +(node.coldMs / 1000).toFixed(2), web_cold_s: +(coldMs / 1000).toFixed(2),
        node_warm_s: +(node.warmMs / 1000).toFixed(2), web_warm_s: +(warmMs / 1000).toFixed(2),
        'web/node warm': +(warmMs / node.warmMs).toFixed(2), 'web/node cold': +(coldMs / node.coldMs).toFixed(2),
        web: /\(([^)]*)\)/.exec(threads ?? '')?.[1] ?? '',
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  } finally {
    await browser.close();
    server.stop();
  }
  console.table(rows);
  const size = bundleSize();
  console.log(`web app without models, gzip -9: ${(size.total / 2 ** 20).toFixed(2)} MiB (${(size.js / 1024).toFixed(0)} KiB JavaScript, ${(size.wasm / 2 ** 20).toFixed(2)} MiB ONNX Runtime WASM; ${size.files} files)`);
}
