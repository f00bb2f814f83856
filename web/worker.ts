// The Web Worker that runs gradlens: loads the model through a model source, runs the task on onnxruntime-web, and
// posts progress per ONNX Runtime call. The page stays responsive; Cancel terminates this worker.
import {
  BlobSource, GradlensError, HubSource, UrlSource, loadModelFromSource, parseSettings, renderHtml, renderSvg, runTask, useWebBackend,
  type LoadedModel, type ModelSource,
} from '../src/web.js';
import type { ModelRef, RunRequest, WorkerMessage } from './protocol.js';

const scope = self as unknown as { postMessage(m: WorkerMessage): void; onmessage: ((e: MessageEvent<RunRequest>) => void) | null; location: Location };
const WASM_BUDGET = 2 * 1024 ** 3;
let backend: Promise<{ threads: number; device: string }> | undefined;
let cached: { key: string; model: Promise<LoadedModel> } | undefined;

const keyOf = (ref: ModelRef): string => (ref.kind === 'url' ? `url:${ref.url}` : ref.kind === 'hub' ? `hub:${ref.repo}` : `files:${ref.key}`);

function sourceOf(ref: ModelRef): ModelSource {
  switch (ref.kind) {
    case 'url': return new UrlSource(new URL(ref.url, scope.location.href).href, { label: ref.url });
    case 'hub': return new HubSource(ref.repo);
    case 'files': return BlobSource.pickedFolder(ref.files, ref.name);
  }
}

function model(ref: ModelRef): Promise<LoadedModel> {
  const key = keyOf(ref);
  if (cached?.key !== key) {
    const loading = loadModelFromSource(sourceOf(ref), { name: ref.name });
    cached = { key, model: loading };
    loading.catch(() => { if (cached?.model === loading) cached = undefined; });
  }
  return cached.model;
}

scope.onmessage = async (event) => {
  const req = event.data;
  if (req?.type !== 'run') return;
  const post = (m: WorkerMessage) => scope.postMessage(m);
  try {
    // Rows per ONNX Runtime call are planned within half of the 4 GiB a WASM (wasm32) heap can grow to, which also holds
    // the model's weights (tasks/attribute.ts, attr/memory.ts).
    const settings = { ...parseSettings(req.settings), memoryBudget: WASM_BUDGET };
    post({ type: 'progress', id: req.id, phase: 'backend' });
    backend ??= useWebBackend({ wasmPaths: new URL('./ort/', scope.location.href).href, webgpu: req.webgpu, ...(req.threads ? { threads: req.threads } : {}) });
    const info = await backend.catch((e) => { backend = undefined; throw e; });
    post({ type: 'progress', id: req.id, phase: 'loading' });
    const t0 = performance.now();
    const loaded = await model(req.model);
    const t1 = performance.now();
    post({ type: 'progress', id: req.id, phase: 'predicting' });
    const result = await runTask(req.task, loaded, req.input, req.target, settings, {
      onProgress: (p) => post({ type: 'progress', id: req.id, phase: 'attributing', done: p.done, ...(p.total !== undefined ? { total: p.total } : {}) }),
    });
    const t2 = performance.now();
    post({ type: 'done', id: req.id, result, html: renderHtml([result]), svg: renderSvg(result), backend: info, ms: { load: t1 - t0, run: t2 - t1 } });
  } catch (e) {
    const message = e instanceof GradlensError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    post({ type: 'error', id: req.id, message: message.split('\n')[0]! });
  }
};
