import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, BIN, assertOneLineError } from './run-cli.js';
import { ROOT, fixture } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-batch-'));
const SEED_ANSWER = 'to include, empower and support humans of all kinds';
const SEED = { question: 'What is important to us?', context: 'It is important to us to include, empower and support humans of all kinds.' };

/** The output's lines, each parsed (a line that does not parse fails the test). */
function results(out: string): any[] {
  const text = readFileSync(out, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'the output ends with a complete line');
  return text.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '').map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`output line ${i + 1} does not parse: ${l.slice(0, 120)}`);
    }
  });
}

/** Every input id is in the output exactly once (and nothing else is). */
function assertExactlyOnce(out: string, ids: string[]): any[] {
  const rs = results(out);
  const seen = rs.map((r) => r.id);
  assert.equal(new Set(seen).size, seen.length, `no duplicate ids: ${seen.filter((x, i) => seen.indexOf(x) !== i).join(', ')}`);
  assert.deepEqual([...seen].sort(), [...ids].sort(), 'every input line exactly once');
  return rs;
}

const countLines = (path: string): number => (existsSync(path) ? readFileSync(path).filter((b) => b === 10).length : 0);

/** n classify lines with ids c0…c(n-1). */
function classifyInput(path: string, n: number): string[] {
  const ids = Array.from({ length: n }, (_, i) => `c${i}`);
  writeFileSync(path, ids.map((id, i) => JSON.stringify({ id, text: i % 2 ? `The food was terrible ${i}` : `A wonderful film ${i}` })).join('\n') + '\n');
  return ids;
}

interface Running { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>; isDone(): boolean }

function startBatch(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '', done = false;
  child.stdout!.resume();
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => { done = true; resolve({ code, signal, stderr }); });
  });
  return { child, exited, isDone: () => done };
}

/** Waits until `path` has at least n complete lines (or the process is gone); returns the count. */
async function waitForLines(path: string, n: number, run?: Running, timeoutMs = 30_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const count = countLines(path);
    if (count >= n || run?.isDone()) return count;
    if (Date.now() > until) throw new Error(`timed out waiting for ${n} lines in ${path} (have ${count})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pid that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => p.on('close', r));
  return p.pid!;
}

test('batch: JSONL in and out, bad lines become error results, a killed run resumes without loss or duplicates', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  const out = join(dir, 'out.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) lines.push(JSON.stringify({ id: `q${i}`, ...SEED }));
  lines.splice(5, 0, '{not json');
  lines.push(JSON.stringify({ question: '', context: 'x' }));
  writeFileSync(input, `${lines.join('\n')}\n`);
  const args = ['batch', '--task', 'qa', '--input', input, '--out', out, '--steps', '24'];
  // Start, kill hard once a few results are written, then append a torn line as a crash mid-write would leave.
  const run = startBatch(args);
  await waitForLines(out, 3, run);
  run.child.kill('SIGKILL');
  await run.exited;
  const partial = countLines(out);
  assert.ok(partial >= 3 && partial < lines.length, `killed mid-way (${partial} of ${lines.length})`);
  appendFileSync(out, '{"id":"q11","line":12,"task":"qa","tok');
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const rs = results(out);
  assert.equal(rs.length, lines.length, 'exactly one result per input line');
  assert.equal(new Set(rs.map((x) => x.id)).size, lines.length, 'no duplicates');
  assert.match(rs.find((x) => x.id === 'line:5').error, /not valid JSON/);
  assert.match(rs.find((x) => x.id === 'line:13').error, /question is empty/);
  for (const x of rs.filter((y) => !y.error)) assert.equal(x.prediction.answer, SEED_ANSWER);
  // A third run has nothing left to do.
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /0 new results, 14 already done/);
});

test('batch: a wrong-typed field is that line\'s error record, naming the field and type; the batch goes on', async () => {
  const dir = tmp();
  const run = async (task: string, records: unknown[], extra: string[] = []) => {
    const input = join(dir, `${task}.jsonl`), out = join(dir, `${task}.out.jsonl`);
    writeFileSync(input, records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
    const r = await runCli(['batch', '--task', task, '--input', input, '--out', out, '--method', 'saliency', ...extra]);
    assert.equal(r.code, 0, `${task}: ${r.stderr}`);
    const rs = results(out);
    assert.equal(rs.length, records.length, `${task}: one result per line`);
    return new Map(rs.map((x) => [x.id, x]));
  };
  const isError = (x: any, pattern: RegExp) => {
    assert.ok(x, 'the line has a result');
    assert.deepEqual(Object.keys(x).sort(), ['error', 'id', 'line'], `an error record: ${JSON.stringify(x).slice(0, 200)}`);
    assert.match(x.error, pattern);
  };
  const ok = (x: any) => assert.ok(x && !x.error && x.attributions?.length >= 1, `a result: ${JSON.stringify(x)?.slice(0, 200)}`);

  const c = await run('classify', [
    { id: 'num', text: 123 }, { id: 'pair', text: 'fine', pair: 1 }, '[]', 'null', { id: 'tobj', text: 'fine', target: {} },
    { id: 'tarr', text: 'fine', target: ['positive'] }, { id: 'miss' }, { id: 'nul', text: null },
    { id: 'good', text: 'A wonderful film' }, { id: 'tnum', text: 'fine', target: 1 }, { id: 'pnull', text: 'fine', pair: null },
  ]);
  isError(c.get('num'), /"text" must be a string, got a number/);
  isError(c.get('pair'), /"pair" must be a string, got a number/);
  isError(c.get('line:2'), /line 3 is not a JSON object \(got an array\)/);
  isError(c.get('line:3'), /line 4 is not a JSON object \(got null\)/);
  isError(c.get('tobj'), /"target" must be a string or a number, got an object/);
  isError(c.get('tarr'), /"target" must be a string or a number, got an array/);
  isError(c.get('miss'), /missing "text"/);
  isError(c.get('nul'), /"text" must be a string, got null/);
  ok(c.get('good'));
  ok(c.get('tnum'));
  assert.equal(c.get('tnum').attributions[0].target, 'positive', 'a number target is a label index');
  ok(c.get('pnull'));

  const q = await run('qa', [{ id: 'arr', question: ['a'], context: 'x' }, { id: 'noctx', question: 'Why?' }, { id: 'good', ...SEED }, { id: 'ctx', question: 'q', context: 7 }]);
  isError(q.get('arr'), /"question" must be a string, got an array/);
  isError(q.get('noctx'), /missing "context"/);
  isError(q.get('ctx'), /"context" must be a string, got a number/);
  ok(q.get('good'));

  const t = await run('tokens', [
    { id: 'str', text: 'Ada Lovelace', token: 'x' }, { id: 'neg', text: 'Ada Lovelace', token: -1 }, { id: 'frac', text: 'Ada Lovelace', token: 1.5 },
    { id: 'good', text: 'Ada Lovelace was born in London.', token: 1 }, { id: 'spans', text: 'Ada Lovelace was born in London.' },
  ], ['--model', fixture('models', 'bert-ner')]);
  isError(t.get('str'), /"token" must be a non-negative integer, got a string/);
  isError(t.get('neg'), /"token" must be a non-negative integer, got a number \(-1\)/);
  isError(t.get('frac'), /"token" must be a non-negative integer, got a number \(1\.5\)/);
  ok(t.get('good'));
  assert.equal(t.get('good').attributions[0].position, 1);
  ok(t.get('spans'));

  const z = await run('zero-shot', [
    { id: 'five', text: 'The team won.', labels: 5 }, { id: 'mixed', text: 'The team won.', labels: ['sports', 2] },
    { id: 'tpl', text: 'The team won.', labels: ['sports'], template: 3 }, { id: 'nolabels', text: 'The team won.' },
    { id: 'comma', text: 'The team won the match.', labels: 'sports,politics' }, { id: 'list', text: 'The team won the match.', labels: ['sports', 'cooking'], target: 'cooking' },
  ], ['--model', fixture('models', 'bert-nli')]);
  isError(z.get('five'), /"labels" must be an array of strings or a comma-separated string, got a number/);
  isError(z.get('mixed'), /"labels" must be an array of strings .*got an array with a number/);
  isError(z.get('tpl'), /"template" must be a string, got a number/);
  isError(z.get('nolabels'), /missing "labels"/);
  ok(z.get('comma'));
  assert.deepEqual([...z.get('comma').prediction.labels].sort(), ['politics', 'sports']);
  ok(z.get('list'));
  assert.equal(z.get('list').attributions[0].target, 'cooking');
});

test('batch: the internal error of one line is recorded as that line\'s error, not the end of the batch', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl');
  // The tokens task on a text without word tokens: today a TypeError (a non-GradlensError) inside explainTokens.
  writeFileSync(input, [{ id: 'a', text: '\u0001' }, { id: 'b', text: 'Ada Lovelace was born in London.' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli(['batch', '--task', 'tokens', '--input', input, '--out', out, '--method', 'saliency', '--model', fixture('models', 'bert-ner')]);
  assert.equal(r.code, 0, r.stderr);
  const rs = assertExactlyOnce(out, ['a', 'b']);
  assert.ok(!rs[1].error, 'the next line was explained');
  // While the cause is that TypeError, the record says it is an internal error (once explainTokens refuses such a
  // text with a user error, or explains it, the line is a plain error record or a result).
  if (/Cannot read propert/.test(rs[0].error ?? '')) assert.match(rs[0].error, /^internal error: Cannot read propert/);
});

test('batch: duplicate ids and ids of the wrong type are refused before any work, naming the lines', async () => {
  const dir = tmp();
  const out = join(dir, 'out.jsonl');
  // A missing model: a check that came after loading it would fail on the model instead.
  const refused = async (records: unknown[], pattern: RegExp) => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
    assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', input, '--out', out, '--model', join(dir, 'no-such-model')]), pattern);
    for (const f of [out, `${out}.lock`, `${out}.meta.json`]) assert.ok(!existsSync(f), `${f} not created`);
  };
  await refused([{ id: 'a', text: 'x' }, { id: 1, text: 'x' }, { id: 'b', text: 'x' }, '', { id: '1', text: 'y' }], /duplicate id "1" on lines 2 and 5 .*ids must be unique/);
  // A line without an id is "line:N" (N its 0-based index): an explicit "line:2" collides with the third line.
  await refused([{ id: 'a', text: 'x' }, { id: 'b', text: 'x' }, { text: 'x' }, { id: 'line:2', text: 'y' }], /duplicate id "line:2" on lines 3 and 4/);
  await refused(['{not json', { id: 'line:0', text: 'x' }], /duplicate id "line:0" on lines 1 and 2/);
  await refused([{ id: 2.5, text: 'x' }, { id: '2.5', text: 'x' }], /duplicate id "2\.5" on lines 1 and 2/);
  for (const [bad, what] of [[{}, 'an object'], [['a'], 'an array'], [true, 'a boolean'], [null, 'null']] as const) {
    await refused([{ id: 'a', text: 'x' }, { id: bad, text: 'x' }], new RegExp(`line 2 of .*"id" must be a string or a finite number, got ${what.replace(/[()]/g, '\\$&')}`));
  }
});

test('batch: an output that is not a batch output is refused untouched; resuming with other settings needs --force', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  const foreign = join(dir, 'notes.txt');
  writeFileSync(foreign, 'my notes\nthe last line has no newline');
  const before = readFileSync(foreign);
  classifyInput(input, 3);
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', input, '--out', foreign, '--method', 'saliency']), /notes\.txt is not a gradlens batch output .*choose another --out/);
  assert.deepEqual(readFileSync(foreign), before, 'left untouched');
  assert.ok(!existsSync(`${foreign}.meta.json`) && !existsSync(`${foreign}.lock`));

  const out = join(dir, 'out.jsonl');
  const base = ['batch', '--task', 'classify', '--input', input, '--out', out];
  const first = await runCli([...base, '--method', 'saliency']);
  assert.equal(first.code, 0, first.stderr);
  const meta = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'));
  assert.equal(meta.gradlens, 'batch');
  assert.equal(meta.version, 1);
  assert.equal(meta.task, 'classify');
  assert.equal(meta.model, 'demo/sentiment');
  assert.equal(meta.input, input);
  assert.deepEqual(meta.settings, { method: 'saliency', steps: 50, integration: 'gausslegendre', internalBatchSize: null, baseline: 'pad', seed: 0, stdevs: 0.1, samples: 5, layer: null });

  // The sidecar of a real output next to a file that is not one: its lines are not results.
  copyFileSync(`${out}.meta.json`, `${foreign}.meta.json`);
  assertOneLineError(await runCli([...base.slice(0, 5), '--out', foreign, '--method', 'saliency']), /is not a gradlens batch output \(line 1 is not a result line\)/);
  assert.deepEqual(readFileSync(foreign), before, 'left untouched');

  // More input, other settings: refused, naming what differs; the output is untouched.
  const ids = classifyInput(input, 5);
  const written = readFileSync(out);
  const other = ['--method', 'layer-ig', '--steps', '4'];
  const refused = await runCli([...base, ...other]);
  assertOneLineError(refused, /written with other settings: method saliency \(now layer-ig\), steps 50 \(now 4\).*--force/);
  assert.deepEqual(readFileSync(out), written);
  assertOneLineError(await runCli(['batch', '--task', 'qa', '--input', input, '--out', out, '--method', 'saliency']), /task classify \(now qa\), model demo\/sentiment \(now demo\/qa\)/);
  const forced = await runCli([...base, ...other, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /2 new results, 3 already done/);
  const rs = assertExactlyOnce(out, ids);
  assert.deepEqual(rs.map((x) => x.settings.method), ['saliency', 'saliency', 'saliency', 'layer-ig', 'layer-ig'], 'each line carries its settings');
  const updated = JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'));
  assert.equal(updated.settings.method, 'layer-ig');
  assert.equal(updated.settings.steps, 4);
  const same = await runCli([...base, ...other]);
  assert.equal(same.code, 0, same.stderr);
  assert.match(same.stderr, /0 new results, 5 already done/);
  assert.deepEqual(readdirSync(dir).sort(), ['in.jsonl', 'notes.txt', 'notes.txt.meta.json', 'out.jsonl', 'out.jsonl.meta.json'], 'no lock or temporary file left');
});

test('batch: --retry-errors runs the error lines again, every id still once; exit 1 when every line run failed', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl');
  const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
  const write = (records: unknown[]) => writeFileSync(input, records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  write([{ id: 'a', text: 1 }, '[]', { id: 'c', text: false }]);
  const allBad = await runCli(args);
  assert.equal(allBad.code, 1, 'every line failed: exit 1');
  assert.match(allBad.stderr.trim().split('\n').pop()!, /^gradlens: every line failed; 3 new results, 0 already done, 3 errors/);
  // Fix two lines, add a good one; a plain rerun keeps the recorded errors.
  write([{ id: 'a', text: 'A wonderful film' }, { text: 'fine' }, { id: 'c', text: false }, { id: 'd', text: 'Terrible food' }]);
  const plain = await runCli(args);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /1 new results, 3 already done, 0 errors/);
  assert.equal(results(out).filter((x) => x.error).length, 3);
  // A torn line as a crash would leave, then --retry-errors: the output is rewritten without the errors first.
  appendFileSync(out, '{"id":"zz","line":9,"ta');
  const retry = await runCli([...args, '--retry-errors']);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stderr, /3 new results, 1 already done, 1 errors/);
  const rs = assertExactlyOnce(out, ['a', 'line:1', 'c', 'd']);
  assert.deepEqual(rs.map((x) => x.id), ['d', 'a', 'line:1', 'c'], 'kept lines first, the retried lines after');
  assert.ok(!rs[1].error && !rs[2].error);
  assert.match(rs[3].error, /"text" must be a string, got a boolean/);
  // Only the still-failing line is run again, and it fails: exit 1.
  const again = await runCli([...args, '--retry-errors']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /every line failed; 1 new results, 3 already done, 1 errors/);
  assertExactlyOnce(out, ['a', 'line:1', 'c', 'd']);
  const idle = await runCli(args);
  assert.equal(idle.code, 0, 'nothing run this time: exit 0');
  assert.deepEqual(readdirSync(dir).sort(), ['in.jsonl', 'out.jsonl', 'out.jsonl.meta.json'], 'no lock or temporary file left');
});

test('batch: crash recovery works on bytes (a multi-byte character across the 1 MiB read boundary, a torn last line)', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl');
  const ids = classifyInput(input, 4);
  const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
  const first = await runCli(args);
  assert.equal(first.code, 0, first.stderr);
  const real = readFileSync(out, 'utf8').split('\n');
  // Line 1 padded so that an "é" (0xC3 0xA9) sits on bytes 1,048,575 and 1,048,576; line 2 as is; a torn line 3.
  const r0 = JSON.parse(real[0]!);
  const prefix = Buffer.byteLength(JSON.stringify({ ...r0, pad: '' })) - 2;
  const ascii = (1 << 20) - 1 - prefix - 2 * 10;
  const line0 = JSON.stringify({ ...r0, pad: `${'a'.repeat(ascii)}${'é'.repeat(64)}` });
  const kept = Buffer.from(`${line0}\n${real[1]}\n`, 'utf8');
  assert.deepEqual([kept[(1 << 20) - 1], kept[1 << 20]], [0xc3, 0xa9], 'the character straddles the boundary');
  writeFileSync(out, Buffer.concat([kept, Buffer.from(real[2]!.slice(0, 60))]));
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /2 new results, 2 already done/);
  const rs = assertExactlyOnce(out, ids);
  assert.deepEqual(rs.map((x) => x.id), ids);
  assert.deepEqual(readFileSync(out).subarray(0, kept.length), kept, 'the complete lines are kept byte for byte');
  assert.equal(rs[0].pad.length, ascii + 64);
});

test('batch: SIGINT exits 130, SIGTERM 143, with the resume line; a rerun completes every line exactly once', async (t) => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  const ids = classifyInput(input, 300);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const out = join(dir, `${signal}.jsonl`);
    const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
    const run = startBatch(args);
    assert.ok(await waitForLines(out, 1, run) >= 1);
    run.child.kill(signal);
    const r = await run.exited;
    assert.equal(r.code, code, `${signal}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^gradlens: interrupted \\(${signal}\\); \\d+ new results, 0 already done, 0 errors → .*Rerun the same command to resume\\.$`, 'm'));
    const partial = countLines(out);
    assert.ok(partial >= 1 && partial < ids.length, `stopped mid-way (${partial} of ${ids.length})`);
    t.diagnostic(`${signal}: stopped after ${partial} of ${ids.length} lines`);
    assert.ok(!existsSync(`${out}.lock`), 'the lock is removed');
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`${ids.length - partial} new results, ${partial} already done`));
    assert.deepEqual(assertExactlyOnce(out, ids).map((x) => x.id), ids);
  }
});

test('batch: exactly once under kill -9, four times over; the dead holder\'s lock is taken over', async (t) => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl');
  const ids = classifyInput(input, 240);
  const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
  const counts: number[] = [];
  for (let cycle = 0; cycle < 4; cycle++) {
    const before = countLines(out);
    const run = startBatch(args);
    await waitForLines(out, before + 5, run);
    run.child.kill('SIGKILL');
    const r = await run.exited;
    assert.equal(r.signal, 'SIGKILL', `cycle ${cycle}: killed while running (${r.stderr})`);
    const lock = JSON.parse(readFileSync(`${out}.lock`, 'utf8'));
    assert.equal(lock.pid, run.child.pid, 'the killed process\'s lock is left behind');
    assert.equal(lock.hostname, hostname());
    assert.ok(!Number.isNaN(Date.parse(lock.started)));
    if (cycle % 2) appendFileSync(out, `{"id":"c${countLines(out)}","line":`); // a torn line as well
    counts.push(countLines(out));
  }
  assert.ok(counts.at(-1)! < ids.length, `${counts.join(', ')} lines after each kill, of ${ids.length}`);
  t.diagnostic(`complete lines after each kill -9: ${counts.join(', ')} of ${ids.length}`);
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const rs = assertExactlyOnce(out, ids);
  assert.deepEqual(rs.map((x) => x.id), ids, 'in input order');
  assert.ok(rs.every((x) => !x.error && x.task === 'classify'));
  assert.ok(!existsSync(`${out}.lock`));
});

test('batch: a second writer on the same --out is refused while the first runs; stale and foreign locks', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl');
  classifyInput(input, 600);
  const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
  const run = startBatch(args);
  try {
    await waitForLines(out, 1, run);
    const lock = JSON.parse(readFileSync(`${out}.lock`, 'utf8'));
    assert.deepEqual(Object.keys(lock).sort(), ['hostname', 'pid', 'started']);
    assert.equal(lock.pid, run.child.pid);
    assertOneLineError(await runCli(args), new RegExp(`being written by another gradlens batch \\(pid ${run.child.pid}\\b`));
    assert.ok(!run.isDone(), 'the first was still running');
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal((await run.exited).code, 143);
  assert.ok(!existsSync(`${out}.lock`));

  // A lock left by a process that no longer exists is taken over.
  const small = join(dir, 'small.jsonl'), out2 = join(dir, 'out2.jsonl');
  const ids = classifyInput(small, 3);
  const pid = await deadPid();
  writeFileSync(`${out2}.lock`, JSON.stringify({ pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z' }));
  const r = await runCli(['batch', '--task', 'classify', '--input', small, '--out', out2, '--method', 'saliency']);
  assert.equal(r.code, 0, r.stderr);
  assertExactlyOnce(out2, ids);
  assert.ok(!existsSync(`${out2}.lock`), 'removed on exit');

  // A lock from another host cannot be judged: refused, naming holder and host.
  writeFileSync(`${out}.lock`, JSON.stringify({ pid: 4242, hostname: 'elsewhere.example', started: '2020-01-01T00:00:00.000Z' }));
  assertOneLineError(await runCli(args), /locked by pid 4242 on host elsewhere\.example/);
  writeFileSync(`${out}.lock`, '');
  const fresh = await runCli(args);
  assertOneLineError(fresh, /being locked by another process/);

  // The lock is removed after an error too.
  const other = join(dir, 'other.jsonl');
  assertOneLineError(await runCli([...args.slice(0, 5), '--out', other, '--model', join(dir, 'missing')]), /not found/);
  assert.ok(!existsSync(`${other}.lock`));
});

test('batch: the parent\'s death stops the batch after the current line, lock removed; a rerun completes', async (t) => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl'), out = join(dir, 'out.jsonl'), errPath = join(dir, 'stderr.txt');
  const ids = classifyInput(input, 600);
  const args = ['batch', '--task', 'classify', '--input', input, '--out', out, '--method', 'saliency'];
  const parentScript = join(dir, 'parent.cjs');
  writeFileSync(parentScript, `const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [bin, errPath, ...args] = process.argv.slice(2);
const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', fs.openSync(errPath, 'w')] });
console.log(child.pid);
setInterval(() => {}, 1000);
`);
  const parent = spawn(process.execPath, [parentScript, BIN, errPath, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  const childPid = await new Promise<number>((resolve) => parent.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  try {
    await waitForLines(out, 1);
    parent.kill('SIGKILL');
    await new Promise((r) => parent.on('close', r));
    // The child cannot be waited for (not ours): its last words are the summary, then the lock goes.
    const until = Date.now() + 15_000;
    while (!(/new results/.test(readFileSync(errPath, 'utf8')) && !existsSync(`${out}.lock`))) {
      assert.ok(Date.now() < until, `the orphaned batch stopped: ${readFileSync(errPath, 'utf8')}`);
      await sleep(20);
    }
    assert.match(readFileSync(errPath, 'utf8'), /interrupted \(the parent process exited\).*Rerun the same command to resume/);
    const partial = countLines(out);
    assert.ok(partial < ids.length, `stopped early (${partial} of ${ids.length})`);
    t.diagnostic(`orphaned batch stopped after ${partial} of ${ids.length} lines`);
  } finally {
    try { process.kill(childPid, 'SIGKILL'); } catch { /* gone */ }
  }
  await sleep(100);
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(assertExactlyOnce(out, ids).map((x) => x.id), ids);
});

test('batch: --target is refused (each line has its own "target"), not silently ignored', async () => {
  const dir = tmp();
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, `${JSON.stringify({ text: 'I loved it' })}\n`);
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', input, '--out', join(dir, 'out.jsonl'), '--target', 'negative']), /--target does not apply \(add "target" to the input lines\)/);
  assert.ok(!existsSync(join(dir, 'out.jsonl')));
});

test('batch: an input that is a FIFO or a device, or has an absurdly long line, is refused in one line without hanging', async () => {
  const dir = tmp();
  const fifo = join(dir, 'in.fifo');
  execFileSync('mkfifo', [fifo]);
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', fifo, '--out', join(dir, 'a.jsonl')]), /in\.fifo is a FIFO, not a regular file/);
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', '/dev/zero', '--out', join(dir, 'b.jsonl')]), /\/dev\/zero is a character device, not a regular file/);
  const long = join(dir, 'long.jsonl');
  writeFileSync(long, `${JSON.stringify({ text: 'fine' })}\n${'a'.repeat(65 * 1024 * 1024)}`);
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', long, '--out', join(dir, 'c.jsonl')]), /line 2 of .*long\.jsonl is longer than 64\.0 MiB/);
  for (const f of ['a.jsonl', 'b.jsonl', 'c.jsonl']) assert.ok(!existsSync(join(dir, f)), `${f} not created`);
});
