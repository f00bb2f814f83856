// The gradlens web app: a form whose pickers come from the same tables as the CLI (tasks, methods, options), a
// worker that runs the explanation, and the report's own renderer for the result.
import {
  DEFAULT_SETTINGS, GRANULARITIES, IMAGE_BASELINES, METHOD_TABLE, OPTIONS, SIGNS, TABULAR_BASELINES, defaultFor, methodsFor, type OptionKey, SEED_EXAMPLE, TASK_TABLE,
  type Explanation, type ImageExplanation, type MethodSpec, type Sign, type TabularExplanation, type TaskInput, type TaskName,
} from '../src/core.js';
import { REPORT_CSS, renderAttentionView, renderTable } from '../src/viz/html.js';
import { describePrediction, relativeDelta, settingsLine } from '../src/viz/report.js';
import { escapeHtml } from '../src/viz/escape.js';
import type { ImageRef, ModelRef, RowRef, RunRequest, WorkerMessage } from './protocol.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const esc = escapeHtml;

const style = document.createElement('style');
style.textContent = REPORT_CSS;
document.head.append(style);

type State = 'idle' | 'running' | 'done' | 'error' | 'cancelled';
function setState(state: State): void {
  document.body.dataset['state'] = state;
  $<HTMLButtonElement>('run').textContent = state === 'running' ? 'Explain (restart)' : 'Explain';
  $<HTMLButtonElement>('cancel').disabled = state !== 'running';
}

// ---- tasks: the text tasks of the CLI's table, image classification (gradlens explain image) and tabular models ---
// (gradlens explain tabular)
type WebTask = TaskName | 'image' | 'tabular';
type WebModality = 'text' | 'image' | 'tabular';
const WEB_TASKS: readonly { name: WebTask; description: string; fields: readonly string[] }[] = [
  ...TASK_TABLE,
  { name: 'image', description: 'image classification: which pixels made the model see this class, with Captum\'s image views', fields: ['image'] },
  { name: 'tabular', description: 'tabular models (one float feature vector in, class scores or a value out): each feature\'s attribution', fields: ['tabular'] },
];
const modalityOf = (task: WebTask): WebModality => (task === 'image' || task === 'tabular' ? task : 'text');
const currentTask = (): WebTask => $<HTMLSelectElement>('task').value as WebTask;
/**
 * The method options an image or tabular run reads from the option table, as `gradlens explain image` and `gradlens
 * explain tabular` (their baselines, and the image's window and stride, are their own).
 */
const DENSE_OPTION_KEYS: readonly OptionKey[] = ['steps', 'integration', 'samples', 'stdevs', 'seed', 'perturbationsPerEval'];
/** The demo image model's samples (demo/image/samples/NAME.png). */
const DEMO_SAMPLES = ['circle', 'square', 'triangle', 'cross'] as const;
const IMAGE_METHOD_DEFAULT = 'ig';
const TABULAR_METHOD_DEFAULT = 'ig';

// ---- model picker ----------------------------------------------------------------------------------------------
interface Mounted { name: string; path: string }
const DEMO_TASKS: Record<string, WebTask> = { qa: 'qa', sentiment: 'classify', image: 'image' };
const DEMO_TEXT: Partial<Record<TaskName, TaskInput>> = {
  qa: SEED_EXAMPLE,
  classify: { text: 'This movie was absolutely wonderful!' },
  tokens: { text: 'Ada Lovelace was born in London.' },
  'zero-shot': { text: 'The match ended 2-1 after extra time.', labels: ['sports', 'politics', 'cooking'] },
};
let picked: { files: [string, File][]; name: string; key: string } | undefined;
let pickCount = 0;

async function mountedModels(): Promise<Mounted[]> {
  try {
    const res = await fetch('./models/index.json');
    if (res.ok) {
      const body = (await res.json()) as { models?: Mounted[] };
      if (Array.isArray(body.models)) return body.models.filter((m) => typeof m.name === 'string' && typeof m.path === 'string');
    }
  } catch {
    // Static hosting without an index: the demos the build copies.
  }
  return [{ name: 'qa', path: './models/qa/' }, { name: 'sentiment', path: './models/sentiment/' }, { name: 'image', path: './models/image/' }];
}

function modelLabel(m: Mounted): string {
  return m.name in DEMO_TASKS ? `demo/${m.name} (embedded demo model)` : m.name;
}

function showModelRows(): void {
  const v = $<HTMLSelectElement>('model-select').value;
  $('folder-row').hidden = v !== 'folder';
  $('url-row').hidden = v !== 'url';
}

function currentModel(): ModelRef {
  const select = $<HTMLSelectElement>('model-select');
  if (select.value === 'folder') {
    if (!picked) throw new Error('pick or drop a model folder first');
    return { kind: 'files', ...picked };
  }
  if (select.value === 'url') {
    const url = $<HTMLInputElement>('model-url').value.trim();
    if (!url) throw new Error('give the model\'s URL or Hugging Face Hub id');
    if (/^(\/|\.{1,2}\/|https?:\/\/)/.test(url)) return { kind: 'url', url, name: url };
    if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(url)) return { kind: 'hub', repo: url, name: url };
    throw new Error(`"${url}" is neither a URL (/…, ./…, http(s)://…) nor a Hub id (owner/name)`);
  }
  const option = select.selectedOptions[0]!;
  return { kind: 'url', url: select.value, name: option.dataset['label'] ?? select.value };
}

function usePicked(files: [string, File][], name: string): void {
  picked = { files, name, key: String(++pickCount) };
  $('drop-zone').textContent = `${name}: ${files.length} files`;
}

async function readEntry(entry: FileSystemEntry, prefix: string, out: [string, File][]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push([`${prefix}${entry.name}`, file]);
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const e of batch) await readEntry(e, `${prefix}${entry.name}/`, out);
    }
  }
}

// ---- task, method and option pickers, from the same tables as the CLI --------------------------------------
function fillSelect(select: HTMLSelectElement, items: { value: string; label: string; title?: string }[], selected?: string): void {
  select.replaceChildren(...items.map((i) => {
    const o = new Option(i.label, i.value);
    if (i.title) o.title = i.title;
    return o;
  }));
  if (selected !== undefined && items.some((i) => i.value === selected)) select.value = selected;
}

function showTaskFields(): void {
  const task = WEB_TASKS.find((t) => t.name === currentTask())!;
  for (const el of document.querySelectorAll<HTMLElement>('.field')) el.hidden = !task.fields.includes(el.dataset['field']!);
  $('granularity-row').hidden = task.name === 'image' || task.name === 'tabular';
  $<HTMLInputElement>('target').placeholder = task.name === 'image' || task.name === 'tabular' ? 'label name or index (default: the predicted class)' : task.name === 'qa' ? 'START:END token positions' : 'label name or index';
  if (!picked) $('drop-zone').textContent = task.name === 'tabular' ? DROP_TABULAR : DROP_TEXT;
}

const DROP_TEXT = '…or drop a model folder here (config.json, tokenizer.json, onnx/model.onnx)';
const DROP_TABULAR = '…or drop a model folder here (onnx/model.onnx or model.onnx; optional config.json id2label and features.json)';

function fillInputs(task: WebTask, force = false): void {
  if (task === 'image' || task === 'tabular') return;
  const example = DEMO_TEXT[task] ?? {};
  const set = (id: string, value: string | undefined) => {
    const el = $<HTMLInputElement | HTMLTextAreaElement>(id);
    if (value !== undefined && (force || el.value === '')) el.value = value;
  };
  set('question', example.question);
  set('context', example.context);
  set('text', example.text);
  set('labels', example.labels?.join(', '));
}

function buildMethodOptions(values: Record<string, string>): void {
  const box = $('method-options');
  box.replaceChildren(...OPTIONS.map((o) => {
    const label = document.createElement('label');
    label.dataset['option'] = o.key;
    label.title = o.description;
    label.append(`${o.label} `);
    let input: HTMLInputElement | HTMLSelectElement;
    if (o.choices) {
      input = document.createElement('select');
      fillSelect(input, o.choices.map((c) => ({ value: c, label: c })), values[o.key] ?? o.default);
    } else {
      input = document.createElement('input');
      input.type = 'text';
      input.size = 8;
      // Empty means the method's own default (shown as the placeholder: shapley's samples are 25, smoothgrad's 5).
      input.value = values[o.key] ?? '';
      input.placeholder = o.default;
      if (o.suggestions) {
        const list = document.createElement('datalist');
        list.id = `${o.key}-suggestions`;
        list.append(...o.suggestions.map((s) => new Option(s, s)));
        label.append(list);
        input.setAttribute('list', list.id);
      }
    }
    input.id = `opt-${o.key}`;
    label.append(input);
    return label;
  }));
}

/** The method select: the methods of the task's modality, from the same table as the CLI's --method. */
function fillMethods(task: WebTask, wanted?: string | null): void {
  const select = $<HTMLSelectElement>('method');
  const modality = modalityOf(task);
  if (select.dataset['modality'] === modality && !wanted) return;
  const methods = methodsFor(modality);
  const keep = wanted ?? select.value;
  const fallback = modality === 'image' ? IMAGE_METHOD_DEFAULT : modality === 'tabular' ? TABULAR_METHOD_DEFAULT : DEFAULT_SETTINGS.method;
  fillSelect(select, methods.map((m) => ({ value: m.name, label: m.name, title: `${captumOf(m, modality)}: ${m.description}` })), methods.some((m) => m.name === keep) ? keep : fallback);
  select.dataset['modality'] = modality;
}

const captumOf = (m: MethodSpec, modality: WebModality): string => (modality !== 'text' ? m.denseCaptum ?? m.captum : m.captum);
/** The image run's own option fields a method reads (gradlens explain image's --baseline, --window, --stride). */
const imageOptionUsed = (m: MethodSpec, key: string): boolean =>
  key === 'baseline' ? (m.options as readonly string[]).includes('baseline') : key === 'window' ? ['occlusion', 'feature-ablation', 'shapley', 'kernel-shap', 'lime'].includes(m.name) : key === 'stride' ? m.name === 'occlusion' : true;

function showMethodOptions(): void {
  const modality = modalityOf(currentTask());
  const method = METHOD_TABLE.find((m) => m.name === $<HTMLSelectElement>('method').value)! as MethodSpec;
  for (const el of document.querySelectorAll<HTMLElement>('#method-options label')) {
    const key = el.dataset['option'] as OptionKey;
    el.hidden = !(method.options as readonly string[]).includes(key) || (modality !== 'text' && !DENSE_OPTION_KEYS.includes(key));
    const input = el.querySelector('input');
    if (input) input.placeholder = defaultFor(method.name, key, modality);
  }
  for (const el of document.querySelectorAll<HTMLElement>('#image-options label[data-image-option]')) el.hidden = !imageOptionUsed(method, el.dataset['imageOption']!);
  $('tabular-options').querySelector<HTMLElement>('[data-tabular-option="baseline"]')!.hidden = !tabularBaselineUsed(method);
  // The descriptions of the methods shared with text models speak of tokens and embeddings: images and tables get the Captum class.
  $('method-info').textContent = modality !== 'text' && method.modalities.includes('text')
    ? `${captumOf(method, modality)} on the ${modality === 'image' ? 'pixel' : 'feature'} values` : `${captumOf(method, modality)}: ${method.description}`;
}

/** Integrated gradients and the perturbation methods read gradlens explain tabular's --baseline (zero or the CSV's means). */
const tabularBaselineUsed = (m: MethodSpec): boolean => (m.options as readonly string[]).includes('baseline');

// ---- the image to explain ---------------------------------------------------------------------------------------
let pickedImage: File | undefined;
let previewUrl: string | undefined;
let imageMount: string | undefined;

function useImageFile(file: File): void {
  pickedImage = file;
  $<HTMLSelectElement>('image-source').value = 'file';
  $('image-drop-hint').textContent = `${file.name} (${file.size.toLocaleString('en')} bytes)`;
  showPreview();
}

function showPreview(): void {
  const img = $<HTMLImageElement>('image-preview');
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = undefined;
  const source = $<HTMLSelectElement>('image-source').value;
  let src: string | undefined;
  if (source === 'file') {
    if (pickedImage) src = previewUrl = URL.createObjectURL(pickedImage);
  } else if (imageMount) src = `${imageMount}samples/${source}.png`;
  img.hidden = src === undefined;
  // A file that is not an image shows nothing here; the run says why.
  img.onerror = () => { img.hidden = true; };
  if (src !== undefined) img.src = src;
  else img.removeAttribute('src');
}

function currentImage(): ImageRef {
  const source = $<HTMLSelectElement>('image-source').value;
  if (source === 'file') {
    if (!pickedImage) throw new Error('pick or drop a PNG or JPEG image first');
    return { kind: 'file', file: pickedImage };
  }
  return { kind: 'sample', dir: `${imageMount!}samples/`, name: source };
}

// ---- the row to explain: JSON typed in the page, or row N of a picked CSV file (parsed in the worker) -----------
let pickedCsv: File | undefined;

function showRowSource(): void {
  const csv = $<HTMLSelectElement>('row-source').value === 'csv';
  $('row-json-box').hidden = csv;
  $('csv-box').hidden = !csv;
}

function useCsvFile(file: File): void {
  pickedCsv = file;
  $<HTMLSelectElement>('row-source').value = 'csv';
  $('csv-drop-hint').textContent = `${file.name} (${file.size.toLocaleString('en')} bytes)`;
  showRowSource();
}

function currentRow(): RowRef {
  if ($<HTMLSelectElement>('row-source').value === 'csv') {
    if (!pickedCsv) throw new Error('pick or drop a CSV file first (a header of feature names, then rows)');
    return { kind: 'csv', file: pickedCsv, row: $<HTMLInputElement>('csv-row').value };
  }
  return { kind: 'json', text: $<HTMLTextAreaElement>('row').value };
}

// ---- running ------------------------------------------------------------------------------------------------
let worker: Worker | undefined;
let workerWebGpu = false;
let runId = 0;
let running: number | undefined;

function freshWorker(webgpu: boolean): Worker {
  worker?.terminate();
  workerWebGpu = webgpu;
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.onmessage = (e: MessageEvent<WorkerMessage>) => onWorkerMessage(e.data);
  w.onerror = (e) => {
    e.preventDefault();
    if (running !== undefined) fault(`the worker stopped: ${e.message || 'it could not start (is the app served over http with its ort/ files?)'}`);
    worker = undefined;
  };
  worker = w;
  return w;
}

function clearResult(): void {
  const result = $('gradlens-result');
  result.hidden = true;
  result.replaceChildren();
  $('gradlens-json').textContent = '';
  const error = $('gradlens-error');
  error.hidden = true;
  error.textContent = '';
}

function fault(message: string): void {
  running = undefined;
  clearResult();
  // One sentence: the core's one-line message (it may start with a file name, so its case is kept).
  $('gradlens-error').textContent = /[.!?]$/.test(message) ? message : `${message}.`;
  $('gradlens-error').hidden = false;
  $('gradlens-status').textContent = '';
  resetProgress();
  setState('error');
}

function resetProgress(): void {
  const bar = $<HTMLProgressElement>('gradlens-progress');
  bar.max = 1;
  bar.value = 0;
}

function startRun(): void {
  const wasRunning = running !== undefined;
  let request: RunRequest;
  try {
    if (currentTask() === 'image') request = imageRequest();
    else if (currentTask() === 'tabular') request = tabularRequest();
    else request = textRequest();
  } catch (e) {
    fault((e as Error).message);
    return;
  }
  // A run in flight is abandoned (its worker terminated): only the newest run's result is ever shown.
  if (wasRunning || !worker || workerWebGpu !== request.webgpu) freshWorker(request.webgpu);
  running = request.id;
  clearResult();
  resetProgress();
  $('gradlens-status').textContent = wasRunning ? 'The previous run was cancelled; starting…' : 'Starting…';
  setState('running');
  worker!.postMessage(request);
}

function runCommon(): { id: number; threads?: number; webgpu: boolean; model: ModelRef; target?: string } {
  const target = $<HTMLInputElement>('target').value.trim();
  const threads = Number(params.get('threads'));
  return { ...(Number.isInteger(threads) && threads > 0 && threads <= 64 ? { threads } : {}), id: ++runId, model: currentModel(), webgpu: $<HTMLInputElement>('webgpu').checked, ...(target ? { target } : {}) };
}

/** As `gradlens explain image`: the method's options from the table, the image's own baseline, window, stride and sign. */
function imageRequest(): RunRequest {
  const method = METHOD_TABLE.find((m) => m.name === $<HTMLSelectElement>('method').value)! as MethodSpec;
  const settings: Record<string, string> = { method: method.name };
  for (const key of method.options) {
    if (!DENSE_OPTION_KEYS.includes(key)) continue;
    const v = $<HTMLInputElement>(`opt-${key}`).value.trim();
    if (v !== '') settings[key] = v;
  }
  const image = currentImage();
  const field = (id: string, key: string) => {
    const v = $<HTMLInputElement>(id).value.trim();
    return v !== '' && imageOptionUsed(method, key) ? { [key]: v } : {};
  };
  return {
    type: 'run', task: 'image', ...runCommon(), image, settings, sign: $<HTMLSelectElement>('image-sign').value as Sign,
    ...field('image-baseline', 'baseline'), ...field('image-window', 'window'), ...field('image-stride', 'stride'),
  };
}

/** As `gradlens explain tabular`: the method's options from the table, the row, and the tabular baseline. */
function tabularRequest(): RunRequest {
  const method = METHOD_TABLE.find((m) => m.name === $<HTMLSelectElement>('method').value)! as MethodSpec;
  const settings: Record<string, string> = { method: method.name };
  for (const key of method.options) {
    if (!DENSE_OPTION_KEYS.includes(key)) continue;
    const v = $<HTMLInputElement>(`opt-${key}`).value.trim();
    if (v !== '') settings[key] = v;
  }
  const baseline = $<HTMLSelectElement>('tabular-baseline').value;
  return { type: 'run', task: 'tabular', ...runCommon(), row: currentRow(), settings, ...(baseline !== '' && tabularBaselineUsed(method) ? { baseline } : {}) };
}

function textRequest(): RunRequest {
  const task = $<HTMLSelectElement>('task').value as TaskName;
  const spec = TASK_TABLE.find((t) => t.name === task)!;
  const input: TaskInput = {};
  const read = (id: string) => $<HTMLInputElement>(id).value;
  for (const f of spec.fields) {
    const v = read(f);
    if (f === 'labels') input.labels = v.split(',').map((s) => s.trim()).filter(Boolean);
    else if (f === 'token') { if (v.trim() !== '') input.token = Number(v); }
    else if (f === 'pair') { if (v.trim() !== '') input.pair = v; }
    else (input as Record<string, string>)[f] = v;
  }
  const method = METHOD_TABLE.find((m) => m.name === $<HTMLSelectElement>('method').value)!;
  const settings: Record<string, string> = { method: method.name, granularity: $<HTMLSelectElement>('granularity').value };
  for (const key of method.options) {
    const v = $<HTMLInputElement>(`opt-${key}`).value.trim();
    if (v !== '') settings[key] = v;
  }
  return { type: 'run', ...runCommon(), task, input, settings };
}

function cancelRun(): void {
  if (running === undefined) return;
  running = undefined;
  worker?.terminate();
  worker = undefined;
  resetProgress();
  clearResult();
  $('gradlens-status').textContent = 'The run was cancelled.';
  setState('cancelled');
}

const PHASES = { backend: 'Starting ONNX Runtime…', loading: 'Loading the model…', predicting: 'Predicting…', attributing: 'Attributing', explaining: 'Predicting and attributing…' };

function onWorkerMessage(m: WorkerMessage): void {
  if (m.id !== running) return; // a message of an abandoned run
  if (m.type === 'progress') {
    const bar = $<HTMLProgressElement>('gradlens-progress');
    if (m.phase === 'attributing') {
      if (m.total !== undefined) {
        bar.max = m.total;
        bar.value = Math.min(m.done ?? 0, m.total);
        $('gradlens-status').textContent = `Attributing: ${m.done} of ${m.total} gradient rows`;
      } else {
        bar.removeAttribute('value');
        $('gradlens-status').textContent = `Attributing: ${m.done} gradient rows (steps auto)`;
      }
    } else $('gradlens-status').textContent = PHASES[m.phase];
    return;
  }
  running = undefined;
  if (m.type === 'error') {
    fault(m.message);
    return;
  }
  if (m.task === 'image') showImageResult(m.result, m.html, m.png);
  else if (m.task === 'tabular') showTabularResult(m.result, m.html, m.svg);
  else showResult(m.result, m.html, m.svg);
  // Timings for automation (npm run bench): model load and task run inside the worker, in ms.
  document.body.dataset['loadMs'] = m.ms.load.toFixed(1);
  document.body.dataset['runMs'] = m.ms.run.toFixed(1);
  const bar = $<HTMLProgressElement>('gradlens-progress');
  bar.max = 1;
  bar.value = 1;
  $('gradlens-status').textContent = `Done in ${((m.ms.load + m.ms.run) / 1000).toFixed(1)} s (${m.backend.device}, ${m.backend.threads} thread${m.backend.threads === 1 ? '' : 's'}).`;
  $('backend-info').textContent = `ONNX Runtime Web: ${m.backend.device}, ${m.backend.threads} thread${m.backend.threads === 1 ? '' : 's'}${crossOriginIsolated ? '' : ' (not cross-origin isolated: serve with gradlens serve for threads)'}`;
  setState('done');
}

function download(name: string, type: string, content: string | Uint8Array): HTMLAnchorElement {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([content as BlobPart], { type }));
  a.download = name;
  a.textContent = `Download ${name.split('.').pop()!.toUpperCase()}`;
  a.id = `download-${name.split('.').pop()}`;
  return a;
}

function showResult(e: Explanation, html: string, svg: string): void {
  const json = `${JSON.stringify(e, null, 2)}\n`;
  $('gradlens-json').textContent = json;
  const parts: string[] = [`<h2>${esc(describePrediction(e))}</h2>`];
  const p = e.prediction as Record<string, unknown>;
  if (e.task === 'qa' && typeof p['start_char'] === 'number' && typeof p['end_char'] === 'number') {
    const context = $<HTMLTextAreaElement>('context').value;
    const [s, t] = [p['start_char'] as number, p['end_char'] as number];
    parts.push(`<p class="answer-text">${esc(context.slice(0, s))}<mark id="answer">${esc(context.slice(s, t))}</mark>${esc(context.slice(t))}</p>`);
  }
  parts.push(renderTable([e]));
  parts.push(renderAttentionView(e));
  const deltas = e.attributions.filter((a) => a.delta !== null);
  if (deltas.length > 0) {
    const gap = deltas.every((a) => a.f_baseline === null);
    parts.push(`<table class="deltas"><tr><th>target</th><th>F(x)</th><th>F(baseline)</th><th title="${gap ? 'Σ relevance − F(x): LRP is not conservative through softmax and biases' : 'Σ attributions − (F(x) − F(baseline))'}">${gap ? 'conservation gap' : 'convergence delta'}</th><th>relative</th></tr>` + deltas.map((a) => {
      const r = relativeDelta(a);
      const f = (v: number | null) => (v === null ? '—' : v.toFixed(4));
      return `<tr><td>${esc(a.target)}</td><td>${f(a.f_x)}</td><td>${f(a.f_baseline)}</td><td>${a.delta!.toExponential(3)}</td><td>${r === undefined ? '—' : `${(100 * r).toFixed(1)}%`}</td></tr>`;
    }).join('') + '</table>');
  }
  for (const w of e.warnings) parts.push(`<p class="warning">${esc(w)}</p>`);
  parts.push(`<p class="muted">${esc(e.model)} · ${esc(settingsLine(e))}</p>`);
  $('gradlens-result').innerHTML = parts.join('\n');
  showDownloads([download('gradlens.json', 'application/json', json), download('gradlens.html', 'text/html', html), download('gradlens.svg', 'image/svg+xml', svg)]);
}

/** The download links under the result, and the result shown. */
function showDownloads(links: HTMLAnchorElement[]): void {
  const result = $('gradlens-result');
  const p = document.createElement('p');
  p.className = 'downloads';
  p.append(...links);
  result.append(p);
  result.hidden = false;
}

/** A report page from the core's renderer as the result's content, less its embedded JSON (#gradlens-json has it). */
function reportBox(e: unknown, html: string, className: string): { box: HTMLDivElement; json: string } {
  const json = `${JSON.stringify(e, null, 2)}\n`;
  $('gradlens-json').textContent = json;
  const report = new DOMParser().parseFromString(html, 'text/html');
  report.getElementById('gradlens-explanation')?.remove();
  const box = document.createElement('div');
  box.className = className;
  box.append(...[...report.body.childNodes].map((n) => document.importNode(n, true)));
  $('gradlens-result').replaceChildren(box);
  return { box, json };
}

/**
 * The image report as `gradlens explain image -o report.html` writes it (the panels PNG with captions, the prediction,
 * the top classes), shown in the page; the downloads are the PNG, the JSON and that HTML.
 */
function showImageResult(e: ImageExplanation, html: string, png: Uint8Array): void {
  const { box, json } = reportBox(e, html, 'image-report');
  // The panels are scaled down to the page's width where they are wider (1152 px for a 32×32 model): each caption keeps
  // its panel's share of the width.
  const panels = box.querySelector<HTMLImageElement>('.panels img');
  if (panels) {
    panels.id = 'image-panels';
    const total = Number(panels.getAttribute('width'));
    for (const span of box.querySelectorAll<HTMLElement>('.captions span')) {
      const px = parseFloat(span.style.width);
      if (total > 0 && px > 0) span.style.width = `${((100 * px) / total).toFixed(4)}%`;
    }
    box.querySelector<HTMLElement>('.captions')!.style.maxWidth = `${total}px`;
  }
  showDownloads([download('gradlens.png', 'image/png', png), download('gradlens.json', 'application/json', json), download('gradlens.html', 'text/html', html)]);
}

/**
 * The tabular report as `gradlens explain tabular -o row.html` writes it (the title, the bar chart Vega drew in the
 * worker, the feature table), shown in the page; the downloads are the JSON, the SVG chart and that HTML.
 */
function showTabularResult(e: TabularExplanation, html: string, svg: string): void {
  const { box, json } = reportBox(e, html, 'tabular-report');
  box.querySelector('svg')?.setAttribute('id', 'tabular-chart');
  box.querySelector('table')?.setAttribute('id', 'tabular-features');
  showDownloads([download('gradlens.json', 'application/json', json), download('gradlens.svg', 'image/svg+xml', svg), download('gradlens.html', 'text/html', html)]);
}

// ---- start-up: URL parameters preselect everything ------------------------------------------------------------
async function init(): Promise<void> {
  const models = await mountedModels();
  const select = $<HTMLSelectElement>('model-select');
  fillSelect(select, [
    ...models.map((m) => ({ value: m.path, label: modelLabel(m) })),
    { value: 'folder', label: 'A folder on this computer…' },
    { value: 'url', label: 'A URL or Hugging Face Hub id…' },
  ]);
  models.forEach((m, i) => { select.options[i]!.dataset['label'] = modelLabel(m); });
  const wantedModel = params.get('model');
  if (wantedModel) {
    const match = models.find((m) => m.path === wantedModel || m.path === `${wantedModel}/` || m.path === `.${wantedModel}`);
    if (match) select.value = match.path;
    else {
      select.value = 'url';
      $<HTMLInputElement>('model-url').value = wantedModel;
    }
  }
  // task=image without model=: the demo image model (the first mount is a text model).
  const imageDemo = models.find((m) => DEMO_TASKS[m.name] === 'image');
  if (!wantedModel && params.get('task') === 'image' && imageDemo) select.value = imageDemo.path;
  // task=tabular without model=: no demo is a tabular model; the first other mount, else the folder picker.
  const tabularModel = (): string => models.find((m) => !(m.name in DEMO_TASKS))?.path ?? 'folder';
  if (!wantedModel && params.get('task') === 'tabular') select.value = tabularModel();
  const mountName = models.find((m) => m.path === select.value)?.name;
  const task = (params.get('task') ?? (mountName ? DEMO_TASKS[mountName] : undefined) ?? 'qa') as WebTask;
  fillSelect($<HTMLSelectElement>('task'), WEB_TASKS.map((t) => ({ value: t.name, label: t.name, title: t.description })), task);
  fillMethods(currentTask(), params.get('method'));
  fillSelect($<HTMLSelectElement>('granularity'), GRANULARITIES.map((g) => ({ value: g, label: g })), params.get('granularity') ?? DEFAULT_SETTINGS.granularity);
  // Images: baseline, window and stride are the image's own fields (kinds and pixels, not tokens); tables: the baseline.
  const imageOwn = (key: string) => currentTask() === 'image' && (key === 'baseline' || key === 'window' || key === 'stride');
  const tabularOwn = (key: string) => currentTask() === 'tabular' && key === 'baseline';
  buildMethodOptions(Object.fromEntries(OPTIONS.flatMap((o) => (params.has(o.key) && !imageOwn(o.key) && !tabularOwn(o.key) ? [[o.key, params.get(o.key)!]] : []))));
  for (const key of ['question', 'context', 'text', 'pair', 'labels', 'template', 'target', 'token', 'row']) {
    if (params.has(key)) $<HTMLInputElement>(key).value = params.get(key)!;
  }
  imageMount = models.find((m) => m.name === 'image')?.path;
  fillSelect($<HTMLSelectElement>('image-source'), [
    ...(imageMount ? DEMO_SAMPLES.map((n) => ({ value: n, label: `sample: ${n} (demo/image)` })) : []),
    { value: 'file', label: 'A PNG or JPEG file…' },
  ], params.get('sample') ?? 'triangle');
  fillSelect($<HTMLSelectElement>('image-baseline'), [{ value: '', label: 'default (black; gradient-shap: black and noise)' }, ...IMAGE_BASELINES.map((b) => ({ value: b, label: b }))], imageOwn('baseline') ? params.get('baseline') ?? '' : '');
  fillSelect($<HTMLSelectElement>('image-sign'), SIGNS.map((g) => ({ value: g, label: g })), params.get('sign') ?? 'absolute_value');
  for (const key of ['window', 'stride']) if (imageOwn(key) && params.has(key)) $<HTMLInputElement>(`image-${key}`).value = params.get(key)!;
  fillSelect($<HTMLSelectElement>('tabular-baseline'), [
    { value: '', label: 'default (zero)' },
    ...TABULAR_BASELINES.map((b) => ({ value: b, label: b === 'mean' ? 'mean (the CSV\'s column means)' : 'zero (Captum\'s baselines=0)' })),
  ], tabularOwn('baseline') ? params.get('baseline') ?? '' : '');
  const wantedSample = params.get('sample');
  const startError = wantedSample !== null && $<HTMLSelectElement>('image-source').value !== wantedSample
    ? (imageMount ? `sample=${wantedSample.slice(0, 40)}: the demo image model's samples are ${DEMO_SAMPLES.join(', ')}` : 'sample=: no demo image model is mounted at /models/image/')
    : undefined;
  if (params.get('webgpu') === '1') $<HTMLInputElement>('webgpu').checked = true;
  const gpu = 'gpu' in navigator;
  $<HTMLInputElement>('webgpu').disabled = !gpu;
  if (!gpu) $<HTMLInputElement>('webgpu').parentElement!.title = 'this browser offers no WebGPU';
  fillInputs(currentTask());
  showModelRows();
  showTaskFields();
  showMethodOptions();
  showPreview();
  showRowSource();

  const applyTask = () => {
    showTaskFields();
    fillInputs(currentTask());
    fillMethods(currentTask());
    showMethodOptions();
  };
  select.addEventListener('change', () => {
    showModelRows();
    const name = models.find((m) => m.path === select.value)?.name;
    if (name && DEMO_TASKS[name] && DEMO_TASKS[name] !== $<HTMLSelectElement>('task').value) {
      $<HTMLSelectElement>('task').value = DEMO_TASKS[name]!;
      applyTask();
    }
  });
  $('task').addEventListener('change', () => {
    // Between image and text tasks a demo model of the other kind is swapped for the demo of the new task; the demos
    // are no tabular models, so tabular swaps them for the first other mount or the folder picker.
    const name = models.find((m) => m.path === select.value)?.name;
    const demo = models.find((m) => DEMO_TASKS[m.name] === currentTask());
    if (name && DEMO_TASKS[name] && currentTask() === 'tabular') {
      select.value = tabularModel();
      showModelRows();
    } else if (name && DEMO_TASKS[name] && demo && (DEMO_TASKS[name] === 'image') !== (currentTask() === 'image')) {
      select.value = demo.path;
      showModelRows();
    }
    applyTask();
  });
  $('method').addEventListener('change', showMethodOptions);
  $('image-source').addEventListener('change', showPreview);
  $('row-source').addEventListener('change', showRowSource);
  $('csv-file').addEventListener('change', () => {
    const file = $<HTMLInputElement>('csv-file').files?.[0];
    if (file) useCsvFile(file);
  });
  const csvZone = $('csv-drop');
  csvZone.addEventListener('dragover', (e) => { e.preventDefault(); csvZone.classList.add('over'); });
  csvZone.addEventListener('dragleave', () => csvZone.classList.remove('over'));
  csvZone.addEventListener('drop', (e) => {
    e.preventDefault();
    csvZone.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) useCsvFile(file);
  });
  $('image-file').addEventListener('change', () => {
    const file = $<HTMLInputElement>('image-file').files?.[0];
    if (file) useImageFile(file);
  });
  const imageZone = $('image-drop');
  imageZone.addEventListener('dragover', (e) => { e.preventDefault(); imageZone.classList.add('over'); });
  imageZone.addEventListener('dragleave', () => imageZone.classList.remove('over'));
  imageZone.addEventListener('drop', (e) => {
    e.preventDefault();
    imageZone.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) useImageFile(file);
  });
  $('folder-input').addEventListener('change', () => {
    const files = [...($<HTMLInputElement>('folder-input').files ?? [])];
    if (files.length === 0) return;
    const name = files[0]!.webkitRelativePath.split('/')[0] || 'the picked folder';
    usePicked(files.map((f) => [f.webkitRelativePath || f.name, f]), name);
  });
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const out: [string, File][] = [];
    const entries = [...(e.dataTransfer?.items ?? [])].map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
    try {
      for (const entry of entries) await readEntry(entry, '', out);
    } catch (err) {
      fault(`cannot read the dropped folder: ${(err as Error).message}`);
      return;
    }
    if (out.length === 0) return;
    usePicked(out, entries.length === 1 && entries[0]!.isDirectory ? entries[0]!.name : 'the dropped files');
  });
  $('form').addEventListener('submit', (e) => { e.preventDefault(); startRun(); });
  $('cancel').addEventListener('click', cancelRun);
  setState('idle');
  if (startError) fault(startError);
  else if (params.get('run') === '1') startRun();
}

init().catch((e) => fault(`the page could not start: ${(e as Error).message}`));
