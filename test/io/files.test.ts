// Special files and absurd sizes in model folders: refused in one line, before anything blocks or fills memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, cpSync, ftruncateSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfinedFolder, readRegularFile, isInside } from '../../src/io/files.js';
import { loadModel } from '../../src/io/folder.js';
import { GradlensError } from '../../src/errors.js';
import { BIN, runCli } from '../cli/run-cli.js';
import { fixture } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-files-'));
const copyModel = () => {
  const dir = join(tmp(), 'm');
  cpSync(fixture('models', 'bert-nli'), dir, { recursive: true });
  return dir;
};
const mkfifo = (path: string) => execFileSync('mkfifo', [path]);

/** Resolves within `ms` or fails: a read that blocks on a FIFO or streams /dev/zero would not. */
async function within<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`did not finish within ${ms} ms`)), ms); });
  try {
    return await Promise.race([work(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('links to /dev/zero, FIFOs and directories in a model folder are refused without blocking', async () => {
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['model.onnx → /dev/zero', (d) => { rmSync(join(d, 'onnx', 'model.onnx')); symlinkSync('/dev/zero', join(d, 'onnx', 'model.onnx')); }, /model\.onnx in .* links to a place outside the model folder/],
    ['config.json → /dev/zero', (d) => { rmSync(join(d, 'config.json')); symlinkSync('/dev/zero', join(d, 'config.json')); }, /config\.json in .* links to a place outside/],
    ['config.json → ../../etc/passwd', (d) => { rmSync(join(d, 'config.json')); symlinkSync('../../../../../../../etc/passwd', join(d, 'config.json')); }, /config\.json in .* links to a place outside/],
    ['tokenizer.json is a FIFO', (d) => { rmSync(join(d, 'tokenizer.json')); mkfifo(join(d, 'tokenizer.json')); }, /tokenizer\.json (of|in) .* is a FIFO, not a regular file/],
    ['config.json is a directory', (d) => { rmSync(join(d, 'config.json')); cpSync(join(d, 'onnx'), join(d, 'config.json'), { recursive: true }); }, /config\.json (of|in) .* is a directory/],
    ['model.onnx is a FIFO', (d) => { rmSync(join(d, 'onnx', 'model.onnx')); mkfifo(join(d, 'onnx', 'model.onnx')); }, /model\.onnx in .* is a FIFO/],
    ['a link to a FIFO inside the folder', (d) => { mkfifo(join(d, 'fifo')); rmSync(join(d, 'tokenizer.json')); symlinkSync('fifo', join(d, 'tokenizer.json')); }, /tokenizer\.json (of|in) .* is a FIFO/],
  ];
  for (const [what, make, pattern] of cases) {
    const dir = copyModel();
    make(dir);
    await within(5000, () => assert.rejects(loadModel(dir), (e: unknown) => e instanceof GradlensError && pattern.test(e.message) && !e.message.includes('\n'), what));
  }
});

test('absurd sizes are refused from the file size, before reading (a sparse 3 GiB model.onnx, a 100 MiB config.json)', async () => {
  const dir = copyModel();
  const sparse = (path: string, size: number) => {
    rmSync(path);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, size);
    closeSync(fd);
  };
  sparse(join(dir, 'onnx', 'model.onnx'), 3 * 1024 ** 3);
  await within(5000, () => assert.rejects(loadModel(dir), /model\.onnx in .* is 3\.0 GiB, more than gradlens reads for it \(2\.0 GiB\)/));
  const dir2 = copyModel();
  sparse(join(dir2, 'config.json'), 100 * 1024 ** 2);
  await within(5000, () => assert.rejects(loadModel(dir2), /config\.json (of|in) .* is 100\.0 MiB, more than gradlens reads for it \(16\.0 MiB\)/));
});

test('config.json that is not JSON, or not an object, is one clear line', async () => {
  const dir = copyModel();
  writeFileSync(join(dir, 'config.json'), '{"model_type": "bert",');
  await assert.rejects(loadModel(dir), /config\.json (of|in) .* is not valid JSON/);
  writeFileSync(join(dir, 'config.json'), '[1, 2]');
  await assert.rejects(loadModel(dir), /config\.json (of|in) .* is not a JSON object/);
});

test('the CLI on /dev/stdin, a FIFO and /dev/zero: one line, non-zero, no hang', async () => {
  const dir = tmp();
  const fifo = join(dir, 'model.onnx');
  mkfifo(fifo);
  for (const [args, pattern] of [
    [['inspect', fifo], /model\.onnx is a FIFO, not a regular file/],
    [['inspect', '/dev/zero'], /\/dev\/zero is a character device, not a regular file/],
  ] as const) {
    const r = await within(20000, () => runCli([...args]));
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
  // stdin is a pipe (a socket pair, as Node spawns it) that is never closed: reading it would block forever.
  const child = spawn(process.execPath, [BIN, 'inspect', '/dev/stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await within(20000, () => new Promise<number | null>((resolve) => child.on('close', resolve)));
  child.stdin.destroy();
  assert.equal(code, 1);
  assert.match(stderr, /\/dev\/stdin is a (FIFO|socket), not a regular file/);
});

test('ConfinedFolder: absolute names, climbing names and NULs are refused; isInside is not fooled by prefixes', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'a.txt'), 'hello');
  const f = new ConfinedFolder(dir);
  assert.equal(f.read('a.txt', 100).toString(), 'hello');
  assert.throws(() => f.read('/etc/hostname', 100), /absolute path/);
  assert.throws(() => f.read('../a.txt', 100), /outside the model folder/);
  assert.throws(() => f.read('a\0.txt', 100), /NUL/);
  assert.throws(() => f.read('a.txt', 3), /more than gradlens reads/);
  assert.throws(() => readRegularFile(join(dir, 'a.txt'), 100, 'a', { offset: 2, length: 4 }), /runs past the end/);
  assert.equal(readRegularFile(join(dir, 'a.txt'), 100, 'a', { offset: 1, length: 3 }).toString(), 'ell');
  assert.equal(isInside('/a/bc', '/a/b'), false);
  assert.equal(isInside('/a/b/c', '/a/b'), true);
  assert.equal(isInside('/a/b', '/a/b'), true);
  assert.equal(isInside('/a/..b', '/a'), true);
});
