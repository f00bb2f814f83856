// Model sources other than a folder on disk: files in memory, picked files (Blobs), URLs over real HTTP. The loaders
// read through them alone, so the same model loads the same from each, and hostile names and sizes are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BlobSource, MemorySource, UrlSource, confinedName, readJsonFrom } from '../../src/io/source.js';
import { FolderSource } from '../../src/io/folder.js';
import { loadModelFromSource } from '../../src/models/load.js';
import { readModelFrom, encodeModel } from '../../src/onnx/model.js';
import { readModelFile } from '../../src/io/model-file.js';
import { onnx } from '../../src/onnx/proto.js';
import { GradlensError } from '../../src/errors.js';
import { explainClassify } from '../../src/tasks/classify.js';
import { DEFAULT_SETTINGS } from '../../src/attr/registry.js';
import { ROOT, fixture } from '../helpers.js';

const DEMO = join(ROOT, 'demo', 'sentiment');
const files = (dir: string): [string, Uint8Array][] => {
  const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  return walk(dir).map((p) => [relative(dir, p), readFileSync(p)]);
};
const oneLine = (pattern: RegExp) => (e: unknown) => e instanceof GradlensError && pattern.test(e.message) && !e.message.includes('\n');

test('confinedName keeps names inside the folder', () => {
  assert.equal(confinedName('onnx/model.onnx'), 'onnx/model.onnx');
  assert.equal(confinedName('./a//b/../c'), 'a/c');
  assert.equal(confinedName('model.onnx_data', 'onnx'), 'onnx/model.onnx_data');
  assert.equal(confinedName('../weights.bin', 'onnx'), 'weights.bin');
  for (const bad of ['../x', 'onnx/../../x', '/etc/passwd', '\\\\server\\share', 'C:\\x', 'file:///etc/passwd', 'a\0b']) {
    assert.throws(() => confinedName(bad), oneLine(/outside the model folder|absolute path|NUL/), bad);
  }
  assert.throws(() => confinedName('../../x', 'onnx'), oneLine(/outside the model folder/));
});

test('the demo model loads the same from memory, from picked files and from the folder, and explains the same', async () => {
  const settings = { ...DEFAULT_SETTINGS, steps: 8 };
  const input = { text: 'What a wonderful film' };
  const fromFolder = await loadModelFromSource(new FolderSource(DEMO));
  const fromMemory = await loadModelFromSource(new MemorySource(Object.fromEntries(files(DEMO))));
  const picked = BlobSource.pickedFolder(files(DEMO).map(([p, b]) => [`sentiment/${p}`, new Blob([b as Uint8Array<ArrayBuffer>])]));
  const fromBlobs = await loadModelFromSource(picked);
  const [a, b, c] = [await explainClassify(fromFolder, input, settings), await explainClassify(fromMemory, input, settings), await explainClassify(fromBlobs, input, settings)];
  assert.deepEqual(b.attributions, a.attributions);
  assert.deepEqual(c.attributions, a.attributions);
  assert.equal(picked.label, 'the picked folder sentiment');
  for (const m of [fromFolder, fromMemory, fromBlobs]) await m.runner.release();
});

test('a source that can list names the quantized variants of a folder without onnx/model.onnx', async () => {
  const source = new MemorySource({ 'config.json': '{}', 'tokenizer.json': '{}', 'onnx/model_quantized.onnx': new Uint8Array(4) });
  await assert.rejects(loadModelFromSource(source), oneLine(/has only model_quantized\.onnx: gradlens differentiates the fp32 onnx\/model\.onnx/));
});

test('memory and blob sources refuse sizes over the limit before reading, and ranges past the end', async () => {
  const big = new MemorySource({ 'config.json': new Uint8Array(2048) });
  await assert.rejects(big.read('config.json', 1024), oneLine(/config\.json in the model files is 2\.0 KiB, more than gradlens reads/));
  let sliced = false;
  const blob = { size: 5e9, slice: () => { sliced = true; return { arrayBuffer: async () => new ArrayBuffer(0) }; } };
  const blobs = new BlobSource([['onnx/model.onnx', blob]]);
  await assert.rejects(blobs.read('onnx/model.onnx', 1024), oneLine(/is 4\.7 GiB, more than gradlens reads/));
  assert.equal(sliced, false, 'nothing was read');
  await assert.rejects(blobs.read('onnx/model.onnx', 1e10, 'w', { offset: 5e9 - 10, length: 20 }), oneLine(/runs past the end/));
  await assert.rejects(readJsonFrom(new MemorySource({ 'config.json': '[1]' }), 'config.json', 100), oneLine(/config\.json of .* is not a JSON object/));
});

// ---- URLs over real HTTP -----------------------------------------------------------------------------------------
let server: Server;
let base = '';
const served = new Map<string, Uint8Array>();
const hits: string[] = [];

before(async () => {
  for (const [p, b] of files(DEMO)) served.set(`/m/${p}`, b);
  // A model with external data: the largest initializer in onnx/model.onnx_data, at an offset.
  const model = readModelFile(fixture('bert', 'qa-opset14.onnx'));
  const t = [...model.graph!.initializer!].sort((x, y) => (y.rawData?.length ?? 0) - (x.rawData?.length ?? 0))[0]!;
  const raw = t.rawData!;
  const data = new Uint8Array(raw.length + 100);
  data.set(raw, 100);
  t.externalData = [{ key: 'location', value: 'model.onnx_data' }, { key: 'offset', value: '100' }, { key: 'length', value: String(raw.length) }].map((e) => onnx.StringStringEntryProto.create(e));
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.rawData = new Uint8Array(0);
  served.set('/ext/onnx/model.onnx', encodeModel(model));
  served.set('/ext/onnx/model.onnx_data', data);
  served.set('/escape/onnx/model.onnx', (() => {
    t.externalData = [{ key: 'location', value: '../../m/config.json' }].map((e) => onnx.StringStringEntryProto.create(e));
    return encodeModel(model);
  })());
  server = createServer((req, res) => {
    const url = decodeURIComponent(req.url!.split('?')[0]!);
    hits.push(`${req.method} ${url}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (url === '/chunked/config.json') {
      // No Content-Length, and far more than the limit: the reader must stop at the limit.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 32);
      let sent = 0;
      const pump = () => { while (sent < 64 && res.write(chunk)) sent++; if (sent >= 64) res.end(); };
      res.on('drain', () => { sent++; pump(); });
      pump();
      return;
    }
    const body = served.get(url);
    if (!body) { res.writeHead(404).end(); return; }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range && !url.startsWith('/norange/')) {
      const [s, e] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, { 'Content-Length': String(e - s + 1) }).end(req.method === 'HEAD' ? undefined : body.subarray(s, e + 1));
      return;
    }
    res.writeHead(200, { 'Content-Length': String(body.length) }).end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

test('a model folder over HTTP loads as from disk', async () => {
  const model = await loadModelFromSource(new UrlSource(`${base}/m/`));
  const local = await loadModelFromSource(new FolderSource(DEMO));
  const settings = { ...DEFAULT_SETTINGS, steps: 4 };
  assert.deepEqual((await explainClassify(model, { text: 'great' }, settings)).attributions, (await explainClassify(local, { text: 'great' }, settings)).attributions);
  await model.runner.release();
  await local.runner.release();
});

test('external data over HTTP is fetched as a byte range next to the model file; a location out of the folder is refused', async () => {
  hits.length = 0;
  const model = await readModelFrom(new UrlSource(`${base}/ext/`), 'onnx/model.onnx');
  assert.ok(hits.some((h) => /^GET \/ext\/onnx\/model\.onnx_data bytes=100-\d+$/.test(h)), hits.join('\n'));
  const reference = readModelFile(fixture('bert', 'qa-opset14.onnx'));
  const big = (m: typeof model) => [...m.graph!.initializer!].sort((x, y) => (y.rawData?.length ?? 0) - (x.rawData?.length ?? 0))[0]!;
  assert.deepEqual(Buffer.from(big(model).rawData!), Buffer.from(big(reference).rawData!));
  await assert.rejects(readModelFrom(new UrlSource(`${base}/escape/`), 'onnx/model.onnx'), oneLine(/outside the model folder/));
  assert.ok(!hits.some((h) => h.includes('/m/config.json')), 'nothing outside the folder was requested');
});

test('over HTTP: sizes are refused from Content-Length, an endless body is cut at the limit, 404 is "no such file"', async () => {
  const source = new UrlSource(`${base}/m/`);
  await assert.rejects(source.read('onnx/model.onnx', 1024), oneLine(/onnx\/model\.onnx in .* is \d\.\d MiB, more than gradlens reads/));
  await assert.rejects(new UrlSource(`${base}/chunked/`).read('config.json', 100_000), oneLine(/config\.json in .* is more than gradlens reads for it \(97\.7 KiB\)/));
  await assert.rejects(source.read('nothing.json', 1024), oneLine(/nothing\.json: no such file in/));
  assert.equal(await source.has('config.json'), true);
  assert.equal(await source.has('missing.json'), false);
  assert.throws(() => new UrlSource('file:///etc/'), oneLine(/only http and https/));
});
