// The Web Worker that runs gradlens: loads the model through a model source, runs the task on onnxruntime-web, and
// posts progress per ONNX Runtime call. The page stays responsive; Cancel terminates this worker.
import { parse as parseCsv } from 'csv-parse/browser/esm/sync';
import {
  BlobSource, GradlensError, HubSource, IMAGE_BASELINES, TABULAR_BASELINES, UrlSource, csvRow, decodeImage, explainImage, explainTabular,
  loadDenseFromSource, loadModelFromSource, parseSettings, renderHtml, renderImageHtml, renderPanels, renderSvg, renderTabularHtml, renderTabularSvg,
  jsonRow, runTask, useWebBackend,
  type DenseModel, type ImageBaseline, type LoadedModel, type ModelSource,
} from '../src/web.js';
import { fail } from '../src/errors.js';
import { LIMITS } from '../src/io/limits.js';
import { checkSize } from '../src/io/source.js';
import { parsePixels } from '../src/tasks/image.js';
import type { TabularBaseline } from '../src/tasks/tabular.js';
import type { ImageRef, ImageRunRequest, ModelRef, RunRequest, TabularRunRequest, TextRunRequest, WorkerMessage } from './protocol.js';

const scope = self as unknown as { postMessage(m: WorkerMessage): void; onmessage: ((e: MessageEvent<RunRequest>) => void) | null; location: Location };
const WASM_BUDGET = 2 * 1024 ** 3;
let backend: Promise<{ threads: number; device: string }> | undefined;
// One model at a time, text (tokenizer + graph), image or tabular (dense): the key says which.
let cached: { key: string; model: Promise<LoadedModel | DenseModel> } | undefined;

const keyOf = (ref: ModelRef): string => (ref.kind === 'url' ? `url:${ref.url}` : ref.kind === 'hub' ? `hub:${ref.repo}` : `files:${ref.key}`);

function sourceOf(ref: ModelRef): ModelSource {
  switch (ref.kind) {
    case 'url': return new UrlSource(new URL(ref.url, scope.location.href).href, { label: ref.url });
    case 'hub': return new HubSource(ref.repo);
    case 'files': return BlobSource.pickedFolder(ref.files, ref.name);
  }
}

function load<M extends LoadedModel | DenseModel>(kind: 'text' | 'image' | 'tabular', ref: ModelRef, loader: (source: ModelSource) => Promise<M>): Promise<M> {
  const key = `${kind}:${keyOf(ref)}`;
  if (cached?.key !== key) {
    const loading = loader(sourceOf(ref));
    cached = { key, model: loading };
    loading.catch(() => { if (cached?.model === loading) cached = undefined; });
  }
  return cached.model as Promise<M>;
}

const textModel = (ref: ModelRef) => load('text', ref, (source) => loadModelFromSource(source, { name: ref.name }));
const imageModel = (ref: ModelRef) => load('image', ref, (source) => loadDenseFromSource(source, 'image', { name: ref.name }));
const tabularModel = (ref: ModelRef) => load('tabular', ref, (source) => loadDenseFromSource(source, 'tabular', { name: ref.name }));

/** The image's bytes: a picked file (size checked before reading) or a served sample. */
async function imageBytes(ref: ImageRef): Promise<{ bytes: Uint8Array; what: string }> {
  if (ref.kind === 'sample') {
    const what = `sample ${ref.name}.png`;
    return { bytes: await new UrlSource(new URL(ref.dir, scope.location.href).href, { label: ref.dir }).read(`${ref.name}.png`, LIMITS.image, what), what };
  }
  const what = ref.file.name || 'the picked image';
  checkSize(ref.file.size, LIMITS.image, what);
  try {
    return { bytes: new Uint8Array(await ref.file.arrayBuffer()), what };
  } catch (e) {
    fail(`cannot read ${what}: ${(e as Error).message}`);
  }
}

function imageBaseline(v: string | undefined): ImageBaseline | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(IMAGE_BASELINES as readonly string[]).includes(v)) fail(`--baseline for images is one of ${IMAGE_BASELINES.join(', ')}, got ${v.slice(0, 40)}`);
  return v as ImageBaseline;
}

function tabularBaseline(v: string | undefined): TabularBaseline | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(TABULAR_BASELINES as readonly string[]).includes(v)) fail(`the baseline for tabular models is one of ${TABULAR_BASELINES.join(', ')}, got ${v.slice(0, 40)}`);
  return v as TabularBaseline;
}

/** A picked CSV file's records (header first), parsed as `gradlens explain tabular --csv` parses them. */
async function csvRecords(file: File): Promise<{ records: string[][]; what: string }> {
  const what = file.name || 'the picked CSV file';
  checkSize(file.size, LIMITS.table, what);
  let text: string;
  try {
    text = await file.text();
  } catch (e) {
    fail(`cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return { records: parseCsv(text, { skip_empty_lines: true, relax_column_count: true, bom: true }) as string[][], what };
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('CSV_')) fail(`${what}: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`);
    throw e;
  }
}

type Post = (m: WorkerMessage) => void;
type Backend = () => Promise<{ threads: number; device: string }>;

async function runText(req: TextRunRequest, post: Post, startBackend: Backend): Promise<void> {
  // Rows per ONNX Runtime call are planned within half of the 4 GiB a WASM (wasm32) heap can grow to, which also holds
  // the model's weights (tasks/attribute.ts, attr/memory.ts).
  const settings = { ...parseSettings(req.settings), memoryBudget: WASM_BUDGET };
  const info = await startBackend();
  post({ type: 'progress', id: req.id, phase: 'loading' });
  const t0 = performance.now();
  const loaded = await textModel(req.model);
  const t1 = performance.now();
  post({ type: 'progress', id: req.id, phase: 'predicting' });
  const result = await runTask(req.task, loaded, req.input, req.target, settings, {
    onProgress: (p) => post({ type: 'progress', id: req.id, phase: 'attributing', done: p.done, ...(p.total !== undefined ? { total: p.total } : {}) }),
  });
  const t2 = performance.now();
  post({ type: 'done', id: req.id, task: req.task, result, html: renderHtml([result]), svg: renderSvg(result), backend: info, ms: { load: t1 - t0, run: t2 - t1 } });
}

/** As `gradlens explain image`: the same settings, the same views and the same report. */
async function runImage(req: ImageRunRequest, post: Post, startBackend: Backend): Promise<void> {
  const settings = { ...parseSettings(req.settings, 'image'), memoryBudget: WASM_BUDGET };
  const baseline = imageBaseline(req.baseline);
  const window = parsePixels(req.window || undefined, '--window'), stride = parsePixels(req.stride || undefined, '--stride');
  const { bytes, what } = await imageBytes(req.image);
  const img = decodeImage(bytes, what);
  const info = await startBackend();
  post({ type: 'progress', id: req.id, phase: 'loading' });
  const t0 = performance.now();
  const model = await imageModel(req.model);
  const t1 = performance.now();
  post({ type: 'progress', id: req.id, phase: 'explaining' });
  const { explanation, view } = await explainImage(model, img, settings, {
    ...(req.target !== undefined ? { target: req.target } : {}), ...(baseline ? { baseline } : {}),
    ...(window !== undefined ? { window } : {}), ...(stride !== undefined ? { stride } : {}),
  });
  const panels = renderPanels(view.image, view.attr, view.channels, { sign: req.sign });
  const html = renderImageHtml(explanation, panels, req.sign);
  const t2 = performance.now();
  post({
    type: 'done', id: req.id, task: 'image', result: explanation, html, png: panels.png, panels: { width: panels.width, height: panels.height },
    backend: info, ms: { load: t1 - t0, run: t2 - t1 },
  });
}

/** As `gradlens explain tabular`: the row as JSON or row N of a CSV table, the same settings, the same report. */
async function runTabular(req: TabularRunRequest, post: Post, startBackend: Backend): Promise<void> {
  const settings = { ...parseSettings(req.settings, 'tabular'), memoryBudget: WASM_BUDGET };
  const baseline = tabularBaseline(req.baseline);
  const row = req.row;
  if (baseline === 'mean' && row.kind !== 'csv') fail('baseline mean is the column means of a table: pick a CSV file and give the row number');
  if (row.kind === 'json' && row.text.trim() === '') fail('give the row as JSON: {"feature": value, …} or a list of the feature values');
  if (row.kind === 'csv' && row.row.trim() === '') fail('give the number of the CSV row to explain (0 is the first row after the header)');
  const table = row.kind === 'csv' ? await csvRecords(row.file) : undefined;
  const info = await startBackend();
  post({ type: 'progress', id: req.id, phase: 'loading' });
  const t0 = performance.now();
  const model = await tabularModel(req.model);
  const t1 = performance.now();
  // Without names from features.json, the CSV header names the columns (as the CLI); the cached model keeps its own.
  let features = model.features!;
  let values: number[];
  let means: number[] | undefined;
  if (row.kind === 'csv') {
    const { records, what } = table!;
    ({ features, values, means } = csvRow(model, records, row.row.trim(), {
      what, flag: 'the row number', rowsNote: (n) => ` (${what} has ${n} row${n === 1 ? '' : 's'} after its header)`,
    }));
  } else values = jsonRow(row.text, features, 'the row');
  post({ type: 'progress', id: req.id, phase: 'explaining' });
  const explanation = await explainTabular({ ...model, features }, values, settings, {
    ...(req.target !== undefined ? { target: req.target } : {}), ...(baseline ? { baseline } : {}), ...(means ? { means } : {}),
  });
  // The bar chart by Vega (loaded on first use), as the CLI's -o row.svg and -o row.html.
  const [svg, html] = await Promise.all([renderTabularSvg(explanation), renderTabularHtml(explanation)]);
  const t2 = performance.now();
  post({ type: 'done', id: req.id, task: 'tabular', result: explanation, html, svg, backend: info, ms: { load: t1 - t0, run: t2 - t1 } });
}

scope.onmessage = async (event) => {
  const req = event.data;
  if (req?.type !== 'run') return;
  const post: Post = (m) => scope.postMessage(m);
  const startBackend: Backend = () => {
    post({ type: 'progress', id: req.id, phase: 'backend' });
    backend ??= useWebBackend({ wasmPaths: new URL('./ort/', scope.location.href).href, webgpu: req.webgpu, ...(req.threads ? { threads: req.threads } : {}) });
    return backend.catch((e) => { backend = undefined; throw e; });
  };
  try {
    if (req.task === 'image') await runImage(req, post, startBackend);
    else if (req.task === 'tabular') await runTabular(req, post, startBackend);
    else await runText(req, post, startBackend);
  } catch (e) {
    const message = e instanceof GradlensError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    post({ type: 'error', id: req.id, message: message.split('\n')[0]! });
  }
};
