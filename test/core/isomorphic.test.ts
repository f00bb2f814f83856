import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../helpers.js';

// The core runs unchanged in Node and in browsers: outside the Node-only modules below, no source file imports
// node:* (or a bare Node built-in), reads process/Buffer, or imports an ONNX Runtime build.
const SRC = join(ROOT, 'src');
const NODE_ONLY = [
  /^cli\//,                                   // the command line
  /^runtime\/node\.ts$/,                      // onnxruntime-node
  /^io\/(files|folder|model-file|hub-cache)\.ts$/, // files on disk, the Hub cache
  /^index\.ts$/,                              // the Node entry
];
const RUNTIME_BACKENDS = [/^runtime\/node\.ts$/, /^runtime\/web\.ts$/];
const BUILTINS = ['fs', 'path', 'os', 'url', 'child_process', 'crypto', 'stream', 'util', 'http', 'https', 'net', 'worker_threads', 'readline', 'zlib', 'events', 'buffer', 'process'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : /\.ts$/.test(f) && !f.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports (static imports, re-exports, dynamic imports with a literal). */
export function specifiers(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

test('the scanner sees node: imports, bare built-ins, re-exports and dynamic imports (it can fail)', () => {
  const code = `import { readFileSync } from 'node:fs';\nimport * as p from "path";\nexport { x } from 'node:os';\nconst m = await import('node:url');\nimport './side.js';`;
  assert.deepEqual(specifiers(code), ['node:fs', 'path', 'node:os', 'node:url', './side.js']);
});

test('the core imports nothing from node:*, no Node built-in, no ONNX Runtime build, and uses no process/Buffer', () => {
  const files = sources(SRC).map((p) => relative(SRC, p).split('\\').join('/'));
  const core = files.filter((f) => !NODE_ONLY.some((r) => r.test(f)));
  assert.ok(core.length > 40, `the core has its modules (${core.length})`);
  for (const dir of ['onnx/', 'graph/', 'autodiff/', 'attr/', 'tasks/', 'viz/', 'models/']) assert.ok(core.some((f) => f.startsWith(dir)), `${dir} is in the core`);
  const problems: string[] = [];
  for (const f of core) {
    const code = readFileSync(join(SRC, f), 'utf8');
    for (const s of specifiers(code)) {
      if (s.startsWith('node:') || BUILTINS.includes(s.split('/')[0]!)) problems.push(`${f} imports ${s}`);
      if (/^onnxruntime-(node|web)/.test(s) && !RUNTIME_BACKENDS.some((r) => r.test(f))) problems.push(`${f} imports ${s}`);
    }
    // Comments aside, the core touches no Node globals.
    const live = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    if (/\bprocess\.(env|argv|stdout|stderr|exit|cwd)\b|\bBuffer\.|\brequire\(/.test(live) && f !== 'runtime/session.ts') problems.push(`${f} uses a Node global`);
  }
  assert.deepEqual(problems, []);
});

test('the browser entry bundles for platform "browser" with no Node built-in and no onnxruntime-node in it', async () => {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(SRC, 'web.ts')], bundle: true, write: false, format: 'esm', platform: 'browser', splitting: true, outdir: '/nonexistent',
    conditions: ['onnxruntime-web-use-extern-wasm'], metafile: true, logLevel: 'silent',
    plugins: [{ name: 'hub-browser', setup(b) { b.onResolve({ filter: /^@huggingface\/hub$/ }, () => ({ path: join(ROOT, 'node_modules/@huggingface/hub/dist/browser/index.mjs') })); } }],
  });
  const inputs = Object.keys(result.metafile!.inputs);
  assert.ok(inputs.some((i) => i.includes('src/attr/integrated-gradients.ts')), 'the bundle holds the core');
  assert.ok(inputs.some((i) => i.includes('onnxruntime-web')), 'and onnxruntime-web');
  assert.deepEqual(inputs.filter((i) => /onnxruntime-node|src\/io\/(files|folder)|src\/cli\//.test(i)), []);
  for (const out of Object.values(result.metafile!.outputs)) {
    const external = out.imports.filter((i) => i.external).map((i) => i.path);
    assert.deepEqual(external.filter((p) => p.startsWith('node:') || BUILTINS.includes(p)), []);
  }
});
