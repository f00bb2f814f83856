// `gradlens explain image` and `gradlens explain tabular`: models with one float input (pixels, a feature row).
import { Command, Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { fail } from '../errors.js';
import { LIMITS, readRegularFile, readTextFile } from '../io/files.js';
import { DEMO_MODELS, FolderSource, openModelFolder } from '../io/folder.js';
import { loadDenseFromSource, featureNames, parseLabelLines, type DenseKind, type DenseLoadOptions, type DenseModel } from '../models/dense.js';
import { decodeImage } from '../models/image.js';
import { OPTIONS, SETTING_LIMITS, defaultFor, methodsFor, parseIntIn, parseSettings, type ExplainSettings, type Modality, type OptionKey, type SettingValues } from '../attr/registry.js';
import { IMAGE_BASELINES, explainImage, parsePixels, type ImageBaseline } from '../tasks/image.js';
import { TABULAR_BASELINES, csvRow, explainTabular, jsonRow, type TabularBaseline } from '../tasks/tabular.js';
import { SIGNS, normalizeAttr, renderImageHtml, renderPanels, type Sign } from '../viz/image.js';
import { renderTabularHtml, renderTabularSvg, renderTabularText } from '../viz/tabular.js';
import { escapeControls } from '../viz/escape.js';
import { DEFAULT_BUDGET_SHARE, availableMemory, emit, parseSize, useColor } from './explain-commands.js';


interface DenseCliOptions extends Pick<SettingValues, 'steps' | 'integration' | 'samples' | 'stdevs' | 'seed' | 'window' | 'stride' | 'perturbationsPerEval' | 'internalBatchSize'> {
  model?: string;
  method: string;
  target?: string;
  baseline?: string;
  memoryBudget?: string;
  layer?: string;
  labels?: string;
  format?: string;
  out?: string;
  offline?: boolean;
}

const DENSE_OPTION_KEYS: OptionKey[] = ['steps', 'integration', 'samples', 'stdevs', 'seed', 'perturbationsPerEval'];

function addDenseOptions(cmd: Command, modality: Exclude<Modality, 'text'>): Command {
  const methods = methodsFor(modality);
  cmd.addOption(new Option('--method <name>', `attribution method: ${methods.map((m) => `${m.name} (${m.denseCaptum ?? m.captum})`).join(', ')}`).choices(methods.map((m) => m.name)).default('ig'));
  for (const key of DENSE_OPTION_KEYS) {
    const o = OPTIONS.find((x) => x.key === key)!;
    const users = methods.filter((m) => (m.options as readonly string[]).includes(key));
    if (users.length === 0) continue;
    const defaults = [...new Set(users.map((m) => defaultFor(m.name, key, modality)))];
    const option = new Option(`${o.flag} <${o.value}>`, `${o.description} [${users.map((m) => m.name).join(', ')}] (default: ${defaults.length === 1 ? defaults[0] : users.map((m) => `${m.name} ${defaultFor(m.name, key, modality)}`).join(', ')})`);
    cmd.addOption(o.choices ? option.choices([...o.choices]) : option);
  }
  return cmd
    .option('--target <label>', 'explain this class (label name or index) instead of the predicted one')
    .option('--labels <a,b,…>', 'class names in output order, comma-separated, or @labels.txt (one per line); default: config.json id2label, else labels.txt next to the model')
    .option('--internal-batch-size <n>', `rows per ONNX Runtime call, 1–${SETTING_LIMITS.internalBatchSize} (default: 16, fewer if the memory budget says so)`)
    .option('--memory-budget <size>', 'memory the rows of a run may use, e.g. 4G (default: half the memory available)')
    .option('--offline', 'never download: local folders and the Hub cache only')
    .option('-o, --out <file>', 'write the report to a file: .png, .json, .html (or .svg for tabular) choose the format');
}

function settingsFor(o: DenseCliOptions, modality: Exclude<Modality, 'text'>): ExplainSettings {
  const values: Record<string, string | undefined> = { method: o.method, internalBatchSize: o.internalBatchSize };
  for (const key of DENSE_OPTION_KEYS) values[key] = (o as unknown as Record<string, string | undefined>)[key];
  return {
    ...parseSettings(values, modality),
    memoryBudget: o.memoryBudget === undefined ? Math.floor(DEFAULT_BUDGET_SHARE * availableMemory()) : parseSize(o.memoryBudget, '--memory-budget'),
  };
}

function parseLabels(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const labels = v.startsWith('@') ? parseLabelLines(readTextFile(v.slice(1), LIMITS.configJson, `--labels ${v.slice(0, 200)}`)) : v.split(',').map((s) => s.trim());
  if (labels.length === 0 || labels.some((l) => l === '')) fail('--labels must name every class (a,b,c or @labels.txt)');
  return labels;
}

/** A folder, a Hub id, or a bare .onnx file (its settings from the command line, labels.txt next to it). */
async function openDense(kind: DenseKind, spec: string, o: DenseCliOptions, extra: DenseLoadOptions): Promise<DenseModel> {
  const options: DenseLoadOptions = { ...extra, ...(o.labels !== undefined ? { labels: parseLabels(o.labels) } : {}) };
  const path = resolve(spec);
  if (existsSync(path) && statSync(path).isFile()) {
    if (extname(path).toLowerCase() !== '.onnx') fail(`--model ${spec.slice(0, 200)} is a file but not an .onnx model`);
    return loadDenseFromSource(new FolderSource(dirname(path)), kind, { ...options, onnxName: basename(path), name: spec });
  }
  return loadDenseFromSource(await openModelFolder(spec, { offline: o.offline }), kind, { ...options, name: spec });
}

function formatOf(o: DenseCliOptions, allowed: readonly string[]): string {
  const byExtension: Record<string, string> = { '.png': 'png', '.json': 'json', '.html': 'html', '.htm': 'html', '.svg': 'svg', '.txt': 'text' };
  const f = o.format ?? (o.out ? byExtension[extname(o.out).toLowerCase()] ?? extname(o.out).slice(1, 20) : 'text');
  if (!allowed.includes(f)) fail(`${o.format ? '--format' : `--out ${o.out}`}: the formats are ${allowed.join(', ')}${o.format ? '' : ' (by the file\'s extension)'}`);
  if (f === 'png' && !o.out) fail('--format png writes binary: give --out FILE.png');
  return f;
}

function parseTriple(v: string | undefined, flag: string): [number, number, number] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || !parts.every(Number.isFinite)) fail(`${flag} must be three numbers r,g,b, got ${v.slice(0, 40)}`);
  return parts as [number, number, number];
}

function nonZero(v: [number, number, number] | undefined, flag: string): [number, number, number] | undefined {
  if (v?.some((x) => x === 0)) fail(`${flag} has a zero: pixel values are divided by it`);
  return v;
}

function parseSizeHW(v: string | undefined): { height: number; width: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,5})[x×,](\d{1,5})$/i.exec(v.trim()) ?? /^(\d{1,5})$/.exec(v.trim());
  if (!m) fail(`--size must be HxW (e.g. 224x224) or one number for a square, got ${v.slice(0, 40)}`);
  const h = parseIntIn(m[1]!, '--size height', 1, 8192), w = parseIntIn(m[2] ?? m[1]!, '--size width', 1, 8192);
  return { height: h, width: w };
}

/** A terminal sketch of the attribution: shades of its absolute value, at most 48 columns. */
function asciiHeat(attr: Float64Array, channels: number, W: number, H: number): string {
  const norm = normalizeAttr(attr, channels, 'absolute_value');
  const cols = Math.min(48, W), rows = Math.max(1, Math.round((cols * H) / W / 2));
  const shades = ' ░▒▓█';
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      let s = 0, n = 0;
      for (let y = Math.floor((r * H) / rows); y < Math.floor(((r + 1) * H) / rows); y++) {
        for (let x = Math.floor((c * W) / cols); x < Math.floor(((c + 1) * W) / cols); x++) { s += norm[y * W + x]!; n++; }
      }
      line += shades[Math.min(4, Math.round((n ? s / n : 0) * 4))];
    }
    lines.push(`  │${line}│`);
  }
  return [`  ┌${'─'.repeat(cols)}┐`, ...lines, `  └${'─'.repeat(cols)}┘`].join('\n');
}

export function registerDenseCommands(explain: Command): void {
  const image = addDenseOptions(explain.command('image')
    .description('image classification (transformers.js folders with preprocessor_config.json, or a bare .onnx): which pixels made the model see this class, with Captum\'s image views')
    .requiredOption('-i, --image <file>', 'the image, PNG or JPEG')
    .option('-m, --model <path|hub-id|file.onnx>', 'image model folder (config.json, preprocessor_config.json, onnx/model.onnx), Hub id, or a bare .onnx file (default: the embedded demo shape classifier)')
    .option('--baseline <kind|file>', `integrated gradients, gradient-shap and the perturbation methods: ${IMAGE_BASELINES.join(', ')} (pixel values 0, i.e. Captum's baselines=0), or an image file (default: black; gradient-shap: black and noise)`)
    .option('--window <px|auto>', 'occlusion\'s patch side in pixels, and the side of the square patches feature-ablation, shapley, kernel-shap and lime perturb as features; or auto (≈ 1/14 of the image side) (default: auto)')
    .option('--stride <px|auto>', 'occlusion stride in pixels, or auto (half the patch) (default: auto)')
    .option('--layer <tensor>', 'grad-cam: the spatial layer (default: the feature map before the last global pooling)')
    .option('--size <HxW>', 'resize to this size (bare .onnx files without a fixed input size need it; overrides preprocessor_config.json)')
    .option('--mean <r,g,b>', 'normalisation mean after rescaling to [0, 1] (bare .onnx files; overrides preprocessor_config.json)')
    .option('--std <r,g,b>', 'normalisation standard deviation (with --mean)')
    .addOption(new Option('--sign <sign>', 'which attributions the views show (Captum\'s visualize_image_attr sign; masked_image and alpha_scaling need a sign other than all)').choices([...SIGNS]).default('absolute_value'))
    .addOption(new Option('--format <format>', 'output format (default: from the --out file\'s extension, else a text summary)').choices(['text', 'json', 'html', 'png'])), 'image')
    .addHelpText('after', `
Examples:
  $ gradlens explain image --image demo/image/samples/circle.png -o circle.png
  $ gradlens explain image --image cat.jpg --model ./vit-base-patch16-224 --method grad-cam -o cat.html
  $ gradlens explain image --image x.png --model resnet.onnx --size 224x224 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --labels @labels.txt --method occlusion -o x.json`);
  image.action(async (o: DenseCliOptions & { image: string; size?: string; mean?: string; std?: string; sign: Sign; window?: string; stride?: string }) => {
    const format = formatOf(o, ['text', 'json', 'html', 'png']);
    if (o.std !== undefined && o.mean === undefined) fail('--std needs --mean');
    const settings = settingsFor(o, 'image');
    const img = decodeImage(readRegularFile(o.image, LIMITS.image, `--image ${o.image.slice(0, 200)}`), o.image.slice(0, 200));
    let baseline: ImageBaseline | undefined;
    if (o.baseline !== undefined) {
      if ((IMAGE_BASELINES as readonly string[]).includes(o.baseline)) baseline = o.baseline as ImageBaseline;
      else if (existsSync(o.baseline)) baseline = { image: decodeImage(readRegularFile(o.baseline, LIMITS.image, `--baseline ${o.baseline.slice(0, 200)}`), o.baseline.slice(0, 200)), label: o.baseline };
      else fail(`--baseline is one of ${IMAGE_BASELINES.join(', ')} or an image file; ${o.baseline.slice(0, 200)} is neither`);
    }
    const model = await openDense('image', o.model ?? DEMO_MODELS.image, o, {
      size: parseSizeHW(o.size), mean: parseTriple(o.mean, '--mean'), std: nonZero(parseTriple(o.std, '--std'), '--std'), ...(o.layer ? { layers: [o.layer] } : {}),
    });
    if (o.model === undefined) model.name = 'demo/image (embedded demo model)';
    const window = parsePixels(o.window, '--window'), stride = parsePixels(o.stride, '--stride');
    const { explanation, view } = await explainImage(model, img, settings, {
      ...(o.target !== undefined ? { target: o.target } : {}), ...(baseline ? { baseline } : {}),
      ...(window !== undefined ? { window } : {}), ...(stride !== undefined ? { stride } : {}), ...(o.layer ? { layer: o.layer } : {}),
    });
    for (const w of explanation.warnings) console.error(`gradlens: warning: ${escapeControls(w)}`);
    const panels = () => renderPanels(view.image, view.attr, view.channels, { sign: o.sign });
    if (format === 'json') emit(`${JSON.stringify(explanation)}\n`, o.out);
    else if (format === 'png') emit(panels().png, o.out);
    else if (format === 'html') emit(renderImageHtml(explanation, panels(), o.sign), o.out);
    else {
      const e = explanation;
      const pct = (p: number) => (Number.isFinite(p) ? `${(100 * p).toFixed(1)}%` : '');
      const lines = [
        `${e.model}: ${e.prediction.label} (${pct(e.prediction.probability)})`,
        `top: ${e.top.map((c) => `${c.label} ${pct(c.probability)}`).join(', ')}`,
        `${e.method} (${e.captum}) on ${e.target.label}${e.baseline ? `, baseline ${e.baseline}` : ''}${e.delta !== null ? `, convergence delta ${e.delta.toPrecision(3)}` : ''}${e.layer ? `, layer ${e.layer}` : ''}`,
        `|attribution| where the model looked (${e.image.processed.width}×${e.image.processed.height}):`,
        asciiHeat(view.attr, view.channels, view.image.width, view.image.height),
        'write the views with -o report.png or -o report.html, the values with -o result.json',
      ];
      emit(`${lines.flatMap((l) => l.split('\n')).map(escapeControls).join('\n')}\n`, o.out);
    }
    await model.runner.release();
  });

  const tabular = addDenseOptions(explain.command('tabular')
    .description('tabular models (one float feature vector in, class scores or a value out): each feature\'s attribution')
    .requiredOption('-m, --model <path|file.onnx>', 'model folder (onnx/model.onnx, config.json id2label, features.json) or a bare .onnx file')
    .option('--row <json|n>', 'the row: a JSON object {"feature": value, …} or list of values; with --csv, the 0-based row number')
    .option('--csv <file>', 'a CSV table with a header of feature names; --row N picks its row')
    .option('--features <names.json>', 'feature names in input order (a JSON list; default features.json next to the model, else the CSV header order must match the model, else f0, f1, …)')
    .option('--baseline <kind>', `integrated gradients and the perturbation methods: ${TABULAR_BASELINES.join(', ')} (the CSV's column means) (default: zero)`)
    .addOption(new Option('--format <format>', 'output format (default: from the --out file\'s extension, else text)').choices(['text', 'json', 'html', 'svg'])), 'tabular')
    .addHelpText('after', `
Examples:
  $ gradlens explain tabular --model mlp.onnx --features names.json --row '{"age": 41, "income": 52000, …}'
  $ gradlens explain tabular --model ./my-model --csv data.csv --row 3 --method kernel-shap --baseline mean -o row3.svg`);
  tabular.action(async (o: DenseCliOptions & { row?: string; csv?: string; features?: string }) => {
    const format = formatOf(o, ['text', 'json', 'html', 'svg']);
    const settings = settingsFor(o, 'tabular');
    if (o.baseline !== undefined && !(TABULAR_BASELINES as readonly string[]).includes(o.baseline)) fail(`--baseline for tabular models is one of ${TABULAR_BASELINES.join(', ')}, got ${o.baseline.slice(0, 40)}`);
    if (o.row === undefined) fail(o.csv ? 'give the row number with --row N' : 'give the row with --row \'{"feature": value, …}\' or --csv FILE --row N');
    let features: string[] | undefined;
    if (o.features !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(readTextFile(o.features, LIMITS.configJson, `--features ${o.features.slice(0, 200)}`));
      } catch (e) {
        if (e instanceof SyntaxError) fail(`--features ${o.features.slice(0, 200)} is not valid JSON`);
        throw e;
      }
      features = featureNames(raw, `--features ${o.features.slice(0, 200)}`);
    }
    let records: string[][] | undefined;
    if (o.csv !== undefined) {
      try {
        records = parseCsv(readTextFile(o.csv, LIMITS.table, `--csv ${o.csv.slice(0, 200)}`), { skip_empty_lines: true, relax_column_count: true, bom: true }) as string[][];
      } catch (e) {
        if ((e as { code?: string }).code?.startsWith('CSV_')) fail(`--csv ${o.csv.slice(0, 200)}: ${(e as Error).message.split('\n')[0]!.slice(0, 200)}`);
        throw e;
      }
    }
    const model = await openDense('tabular', o.model!, o, features ? { features } : {});
    let values: number[];
    let means: number[] | undefined;
    if (records) {
      const picked = csvRow(model, records, o.row, { what: `--csv ${o.csv!.slice(0, 200)}`, flag: '--row', rowsNote: (n) => ` (the table has ${n} rows)` });
      ({ values, means } = picked);
      model.features = picked.features;
    } else values = jsonRow(o.row, model.features!, '--row', ' (or a row number with --csv)');
    const e = await explainTabular(model, values, settings, {
      ...(o.target !== undefined ? { target: o.target } : {}), ...(o.baseline ? { baseline: o.baseline as TabularBaseline } : {}), ...(means ? { means } : {}),
    });
    for (const w of e.warnings) console.error(`gradlens: warning: ${escapeControls(w)}`);
    const text = format === 'json' ? `${JSON.stringify(e, null, 2)}\n` : format === 'svg' ? await renderTabularSvg(e) : format === 'html' ? await renderTabularHtml(e)
      : renderTabularText(e, !o.out && useColor());
    emit(text, o.out);
    await model.runner.release();
  });
}
