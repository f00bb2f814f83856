// Builds the browser app (web/) into dist/web/ with esbuild: app.js (the page), worker.js (gradlens on
// onnxruntime-web), ONNX Runtime's WASM files in ort/, and the demo models in models/ so dist/web is a complete static
// site. Nothing it writes is committed.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/web`;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/ort`, { recursive: true });

// @huggingface/hub's package "exports" point at its Node build; its "browser" build is the one for pages.
const hubBrowser = {
  name: 'hub-browser',
  setup(build) {
    build.onResolve({ filter: /^@huggingface\/hub$/ }, () => ({ path: `${root}node_modules/@huggingface/hub/dist/browser/index.mjs` }));
  },
};

await esbuild.build({
  entryPoints: { app: `${root}web/app.ts`, worker: `${root}web/worker.ts` },
  bundle: true,
  format: 'esm',
  splitting: true,
  platform: 'browser',
  target: ['chrome111', 'firefox115', 'safari16.4'],
  // onnxruntime-web's builds that fetch the .wasm from env.wasm.wasmPaths instead of inlining it in the bundle.
  conditions: ['onnxruntime-web-use-extern-wasm'],
  minify: true,
  sourcemap: true,
  outdir: out,
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [hubBrowser],
  logLevel: 'warning',
});

for (const f of ['index.html', 'style.css']) cpSync(`${root}web/${f}`, `${out}/${f}`);
const ort = `${root}node_modules/onnxruntime-web/dist`;
// WASM (threaded SIMD) for the default build, the asyncify variant for the WebGPU build.
for (const f of ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm']) {
  cpSync(`${ort}/${f}`, `${out}/ort/${f}`);
}
const demos = ['qa', 'sentiment', 'image'];
for (const d of demos) cpSync(`${root}demo/${d}`, `${out}/models/${d}`, { recursive: true });
writeFileSync(`${out}/models/index.json`, `${JSON.stringify({ models: demos.map((name) => ({ name, path: `./models/${name}/` })) })}\n`);
