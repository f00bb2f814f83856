// Hostile external data: locations that climb out of the model folder, links, special files, bad ranges, subgraphs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelFile, writeModelFile } from '../../src/io/model-file.js';
import { onnx, type ModelProto } from '../../src/onnx/proto.js';
import { GradlensError } from '../../src/errors.js';
import { Session, tensor } from '../../src/runtime/session.js';
import { runCli } from '../cli/run-cli.js';
import { fixture } from '../helpers.js';

const QA14 = fixture('bert', 'qa-opset14.onnx');
const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-extdata-'));
const entry = (key: string, value: string) => onnx.StringStringEntryProto.create({ key, value });

/** The QA fixture with its largest initializer moved to external data at `location` (bytes written to `dataFile`). */
function withExternal(dir: string, location: string, dataFile?: string, extra: { offset?: string; length?: string } = {}): { path: string; name: string } {
  const model = readModelFile(QA14);
  const t = [...model.graph!.initializer!].sort((a, b) => (b.rawData?.length ?? 0) - (a.rawData?.length ?? 0))[0]!;
  const raw = Buffer.from(t.rawData!);
  if (dataFile) writeFileSync(dataFile, raw);
  t.externalData = [entry('location', location), entry('offset', extra.offset ?? '0'), entry('length', extra.length ?? String(raw.length))];
  t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
  t.rawData = new Uint8Array(0);
  const path = join(dir, 'model.onnx');
  writeModelFile(path, model);
  return { path, name: t.name! };
}

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof GradlensError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line GradlensError matching ${pattern}`);

test('external data that climbs out of the folder is refused, naming the tensor, not the target', () => {
  const outside = tmp();
  writeFileSync(join(outside, 'secret.bin'), Buffer.alloc(1 << 20, 7));
  const dir = join(tmp(), 'model');
  mkdirSync(dir);
  const relExisting = `../../${outside.split('/').pop()}/secret.bin`;
  const a = withExternal(dir, relExisting);
  let existing = '';
  try { readModelFile(a.path); } catch (e) { existing = (e as Error).message; }
  assert.match(existing, new RegExp(`tensor "${a.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`));
  assert.match(existing, /outside the model folder/);
  // The same answer for a file that does not exist: nothing about existence or size leaks.
  withExternal(dir, relExisting.replace('secret.bin', 'missing.bin'));
  let missing = '';
  try { readModelFile(a.path); } catch (e) { missing = (e as Error).message; }
  assert.equal(missing.replace('missing.bin', 'secret.bin'), existing);
  assert.doesNotMatch(existing, /1048576|1\.0 MiB|size|bytes/);
  for (const location of ['../../../../etc/passwd', '/etc/passwd', '/dev/zero', 'sub/../../x.bin']) {
    withExternal(dir, location);
    refused(() => readModelFile(a.path), /outside the model folder|absolute path/);
  }
});

test('a link inside the folder that points out of it is refused; links that stay inside are followed', () => {
  const outside = tmp();
  writeFileSync(join(outside, 'w.bin'), Buffer.alloc(16));
  const dir = tmp();
  const m = withExternal(dir, 'weights.bin', join(dir, 'real.bin'));
  symlinkSync(join(dir, 'real.bin'), join(dir, 'weights.bin'));
  const back = readModelFile(m.path);
  assert.ok(back.graph!.initializer!.every((t) => t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL));
  for (const [name, target] of [['to-outside.bin', join(outside, 'w.bin')], ['to-zero.bin', '/dev/zero'], ['dangling.bin', join(outside, 'nothing.bin')]] as const) {
    symlinkSync(target, join(dir, name));
    withExternal(dir, name);
    refused(() => readModelFile(m.path), /links to a place outside the model folder/);
  }
});

test('bad ranges and lengths: past the end, not matching the shape, not a number', () => {
  const dir = tmp();
  const m = withExternal(dir, 'w.bin', join(dir, 'w.bin'), { offset: '8' });
  refused(() => readModelFile(m.path), /runs past the end/);
  withExternal(dir, 'w.bin', join(dir, 'w.bin'), { length: '12' });
  refused(() => readModelFile(m.path), /length 12 does not match its type and shape/);
  withExternal(dir, 'w.bin', join(dir, 'w.bin'), { offset: '-1' });
  refused(() => readModelFile(m.path), /offset is not a non-negative integer/);
  withExternal(dir, 'w.bin', join(dir, 'w.bin'), { offset: '1e400' });
  refused(() => readModelFile(m.path), /offset is not a non-negative integer/);
});

/** y = If(cond) then x + C (C external) else x; C lives in `location` next to the model. */
function ifModel(location: string): ModelProto {
  const vi = (name: string, elemType: number, dims: number[]) => onnx.ValueInfoProto.create({
    name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType, shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create({ dimValue: d })) }) }) }),
  });
  const c = onnx.TensorProto.create({ name: 'C', dataType: 1, dims: [3], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [entry('location', location), entry('offset', '0'), entry('length', '12')] });
  const thenBranch = onnx.GraphProto.create({ name: 'then', initializer: [c], node: [onnx.NodeProto.create({ opType: 'Add', input: ['x', 'C'], output: ['t'] })], output: [vi('t', 1, [3])] });
  const elseBranch = onnx.GraphProto.create({ name: 'else', node: [onnx.NodeProto.create({ opType: 'Identity', input: ['x'], output: ['e'] })], output: [vi('e', 1, [3])] });
  const graph = onnx.GraphProto.create({
    name: 'if', input: [vi('cond', 9, []), vi('x', 1, [3])], output: [vi('y', 1, [3])],
    node: [onnx.NodeProto.create({ opType: 'If', input: ['cond'], output: ['y'], attribute: [
      onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: thenBranch }),
      onnx.AttributeProto.create({ name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: elseBranch }),
    ] })],
  });
  return onnx.ModelProto.create({ irVersion: 8, opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 })], graph });
}

test('subgraph (If) external data is read relative to the model folder, not the current directory, and confined', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'c.bin'), Buffer.from(new Float32Array([10, 20, 30]).buffer));
  writeModelFile(join(dir, 'if.onnx'), ifModel('c.bin'));
  const cwd = process.cwd();
  process.chdir(tmpdir());
  let model: ModelProto;
  try {
    model = readModelFile(join(dir, 'if.onnx'));
  } finally {
    process.chdir(cwd);
  }
  const session = await Session.create(model);
  const out = await session.run({ cond: tensor('bool', [1], []), x: tensor('float32', [1, 2, 3], [3]) });
  assert.deepEqual(Array.from(out['y']!.data as Float32Array), [11, 22, 33]);
  await session.release();
  writeModelFile(join(dir, 'bad.onnx'), ifModel('../../../../etc/passwd'));
  refused(() => readModelFile(join(dir, 'bad.onnx')), /tensor "C".*outside the model folder/);
});

test('gradlens grad refuses a climbing location in one line and writes nothing', async () => {
  const dir = tmp();
  const m = withExternal(dir, '../../../../etc/passwd');
  const out = join(dir, 'grad.onnx');
  const r = await runCli(['grad', m.path, '--of', 'start_logits', '--wrt', '/bert/embeddings/LayerNorm/Add_1_output_0', '-o', out]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^gradlens: tensor ".*": external data "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" is outside the model folder/);
  assert.ok(!existsSync(out));
  assert.doesNotMatch(readFileSync(QA14).toString('latin1'), /root:x:0:0/);
});
