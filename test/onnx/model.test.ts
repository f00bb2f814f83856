import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelFile, writeModelFile } from '../../src/io/model-file.js';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { onnx } from '../../src/onnx/proto.js';
import { vjpModel } from '../../src/autodiff/vjp.js';
import { GradlensError } from '../../src/errors.js';
import { fixture } from '../helpers.js';

const QA14 = fixture('bert', 'qa-opset14.onnx');
const EMB14 = '/bert/embeddings/LayerNorm/Add_1_output_0';

test('decode → encode reproduces the file byte for byte', () => {
  const bytes = readFileSync(QA14);
  assert.deepEqual(Buffer.from(encodeModel(decodeModel(bytes))), bytes);
});

test('the large-tensor encoder gives a model that decodes to the same message', () => {
  const bytes = readFileSync(QA14);
  const model = decodeModel(bytes);
  const fast = encodeModel(model, 1024); // every weight above 1 KiB takes the append path
  assert.notDeepEqual(Buffer.from(fast), bytes, 'a different field layout');
  assert.deepEqual(Buffer.from(onnx.ModelProto.encode(decodeModel(fast)).finish()), bytes);
  assert.deepEqual(Buffer.from(encodeModel(model)), bytes, 'the model object is left unchanged');
});

test('the gradient model preserves opset imports, metadata and the initializers it keeps, byte for byte', () => {
  const model = readModelFile(QA14);
  model.metadataProps.push(onnx.StringStringEntryProto.create({ key: 'author', value: 'gradlens test' }));
  const grad = vjpModel(model, { of: ['start_logits'], wrt: [EMB14] });
  assert.deepEqual(grad.opsetImport.map((o) => [o.domain, Number(o.version)]), model.opsetImport.map((o) => [o.domain, Number(o.version)]));
  assert.deepEqual(grad.metadataProps.map((m) => [m.key, m.value]), [['author', 'gradlens test']]);
  assert.equal(grad.producerName, model.producerName);
  assert.equal(Number(grad.irVersion), Number(model.irVersion));
  const original = new Map(model.graph!.initializer!.map((t) => [t.name, t]));
  let kept = 0;
  for (const t of grad.graph!.initializer!) {
    const o = original.get(t.name);
    if (!o) continue;
    kept++;
    assert.deepEqual(Buffer.from(onnx.TensorProto.encode(t).finish()), Buffer.from(onnx.TensorProto.encode(o).finish()), `initializer ${t.name}`);
  }
  assert.ok(kept > 10);
  // The word-embedding table is upstream of the cut and unused by the gradient model: dropped, never differentiated.
  assert.ok(!grad.graph!.output!.some((o) => /word_embeddings.*_grad/.test(o.name!)));
});

test('external data (model.onnx_data) is loaded inline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradlens-ext-'));
  const model = readModelFile(QA14);
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = t.rawData;
    if (!raw || raw.length < 1024) continue;
    chunks.push(Buffer.from(raw));
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: 'model.onnx_data' }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  writeFileSync(join(dir, 'model.onnx_data'), Buffer.concat(chunks));
  writeModelFile(join(dir, 'model.onnx'), model);
  const back = readModelFile(join(dir, 'model.onnx'));
  assert.deepEqual(Buffer.from(encodeModel(back)), readFileSync(QA14));
});

test('not ONNX, truncated, missing: clear errors', () => {
  assert.throws(() => decodeModel(Buffer.from('hello world, not a model'), 'x.onnx'), (e: unknown) => e instanceof GradlensError && /x.onnx is not a valid ONNX model/.test(e.message));
  const bytes = readFileSync(QA14);
  assert.throws(() => decodeModel(bytes.subarray(0, bytes.length / 3), 't.onnx'), GradlensError);
  assert.throws(() => readModelFile('/nonexistent/model.onnx'), /model file not found/);
});
