import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, runCli, assertOneLineError } from './run-cli.js';
import { ROOT } from '../helpers.js';

// Queue mode with a real redis-server (Debian's package, started here on a free loopback port and stopped after;
// .ci/run installs it): push, workers, kill -9 mid-run, collect; the output equals single-process batch.

const REDIS = '/usr/bin/redis-server';
const skip = !existsSync(REDIS) && !process.env['CI'] ? `no redis-server at ${REDIS} (apt-get install redis-server)` : false;

let redis: ChildProcess | undefined;
let url = '';
const dir = mkdtempSync(join(tmpdir(), 'gradlens-queue-'));

const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const port = (s.address() as { port: number }).port;
    s.close(() => resolve(port));
  });
  s.on('error', reject);
});

before(async () => {
  if (skip) return;
  const port = await freePort();
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = await runCli(['queue', 'status', '--redis', url, '--queue', 'probe']);
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('redis-server did not start');
});

after(() => { redis?.kill('SIGKILL'); });

const TEXTS = ['This movie was absolutely wonderful!', 'The food was terrible and the staff were rude.', 'I loved it, great fun.', 'A boring, slow and predictable plot.',
  'The service was quick and the staff were friendly.', 'Not worth the money at all.', 'What a delightful surprise, I would go again.', 'The worst hotel I have ever stayed in.'];
const LINES = [
  ...TEXTS.map((text, i) => JSON.stringify(i % 3 === 0 ? { text } : { id: `r${i}`, text })),
  'not json',
  JSON.stringify({ id: 'empty', text: '' }),
  JSON.stringify({ id: 'no-text' }),
  ...TEXTS.map((text, i) => JSON.stringify({ id: 1000 + i, text: `${text} Really.` })),
];
const SETTINGS = ['--steps', '400'];

function startWorker(queue: string, extra: string[] = []): { proc: ChildProcess; done: Promise<{ code: number | null; stderr: string }>; stderr: () => string } {
  const proc = spawn(process.execPath, [BIN, 'worker', '--redis', url, '--queue', queue, '--exit-when-empty', '--lock-duration', '2000', ...extra], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.on('close', (code) => resolve({ code, stderr })));
  return { proc, done, stderr: () => stderr };
}

const parse = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { id: string; attributions?: { per_token: number[] }[] });

test('push twice (the second adds nothing), 2 workers, one killed -9 mid-run, a third started: every line exactly once, equal to gradlens batch', { skip, timeout: 300_000 }, async () => {
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, `${LINES.join('\n')}\n`);
  const first = await runCli(['queue', 'push', '--redis', url, '--queue', 'q1', '--task', 'classify', '--input', input, ...SETTINGS]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, new RegExp(`${LINES.length} jobs added to queue q1, 0 already in it`));
  const again = await runCli(['queue', 'push', '--redis', url, '--queue', 'q1', '--task', 'classify', '--input', input, ...SETTINGS]);
  assert.match(again.stderr, new RegExp(`0 jobs added to queue q1, ${LINES.length} already in it`));
  // Other settings on the same queue are refused.
  assertOneLineError(await runCli(['queue', 'push', '--redis', url, '--queue', 'q1', '--task', 'classify', '--input', input, '--steps', '5']), /queue q1 holds jobs of another task, model or settings/);
  const status0 = await runCli(['queue', 'status', '--redis', url, '--queue', 'q1']);
  assert.match(status0.stdout, new RegExp(`^${LINES.length} lines: ${LINES.length} waiting, 0 active, 0 done, 0 failed`));

  const a = startWorker('q1');
  const b = startWorker('q1');
  // Kill A as soon as it has finished one job (it is then working on another, which must not be lost).
  for (let i = 0; i < 600 && !/done /.test(a.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
  a.proc.kill('SIGKILL');
  const c = startWorker('q1');
  const [rb, rc] = await Promise.all([b.done, c.done]);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(rc.code, 0, rc.stderr);
  const early = await runCli(['queue', 'status', '--redis', url, '--queue', 'q1']);
  assert.match(early.stdout, new RegExp(`^${LINES.length} lines: 0 waiting, 0 active, ${LINES.length - 3} done, 3 failed`), early.stdout);

  const out = join(dir, 'collected.jsonl');
  const col = await runCli(['queue', 'collect', '--redis', url, '--queue', 'q1', '--out', out]);
  assert.equal(col.code, 0, col.stderr);
  const collected = parse(readFileSync(out, 'utf8'));
  const batchOut = join(dir, 'batch.jsonl');
  const batch = await runCli(['batch', '--task', 'classify', '--input', input, '--out', batchOut, ...SETTINGS]);
  assert.equal(batch.code, 0, batch.stderr);
  const single = parse(readFileSync(batchOut, 'utf8'));
  assert.deepEqual(collected.map((r) => r.id), single.map((r) => r.id), 'every line once, in input order');
  assert.equal(new Set(collected.map((r) => r.id)).size, LINES.length);
  collected.forEach((r, i) => {
    const s = single[i]!;
    if ('error' in s) return assert.equal(r['error'], s['error']);
    assert.deepEqual({ ...r, attributions: undefined }, { ...s, attributions: undefined });
    r.attributions!.forEach((x, k) => x.per_token.forEach((v, j) => assert.ok(Math.abs(v - s.attributions![k]!.per_token[j]!) <= 1e-6, `${r.id} token ${j}`)));
  });
  assert.deepEqual(collected.filter((r) => 'error' in r).map((r) => [r.id, r['error']]), [
    ['line:8', 'line 9 is not valid JSON: Unexpected token \'o\', "not json" is not valid JSON'], ['empty', 'the text is empty'], ['no-text', 'missing "text"'],
  ]);
});

test('SIGTERM lets a worker finish its job and exit; collect refuses while lines are unfinished; bad URLs are one line within seconds', { skip, timeout: 120_000 }, async () => {
  const input = join(dir, 'slow.jsonl');
  writeFileSync(input, `${TEXTS.map((text, i) => JSON.stringify({ id: `s${i}`, text })).join('\n')}\n`);
  assert.equal((await runCli(['queue', 'push', '--redis', url, '--queue', 'q2', '--task', 'classify', '--input', input, '--steps', '2000'])).code, 0);
  assertOneLineError(await runCli(['queue', 'collect', '--redis', url, '--queue', 'q2', '--out', join(dir, 'early.jsonl')]), /8 of 8 lines of queue q2 are not done yet/);
  const w = startWorker('q2');
  for (let i = 0; i < 600 && !/done /.test(w.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
  w.proc.kill('SIGTERM');
  const r = await w.done;
  assert.equal(r.code, 0, r.stderr);
  const done = Number(/(\d+) jobs done/.exec(r.stderr)?.[1]);
  assert.ok(done >= 1 && done < 8, `stopped early after finishing its job: ${r.stderr}`);
  const s = await runCli(['queue', 'status', '--redis', url, '--queue', 'q2']);
  assert.match(s.stdout, new RegExp(`^8 lines: ${8 - done} waiting, 0 active, ${done} done, 0 failed`), s.stdout);

  const t = Date.now();
  assertOneLineError(await runCli(['queue', 'status', '--redis', 'redis://127.0.0.1:1']), /cannot reach Redis at redis:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  assert.ok(Date.now() - t < 8000, 'within a few seconds');
  assertOneLineError(await runCli(['worker', '--redis', 'http://example.com']), /--redis must be a redis:\/\/ or rediss:\/\/ URL/);
  assertOneLineError(await runCli(['queue', 'push', '--redis', url, '--queue', 'bad name', '--task', 'classify', '--input', input]), /--queue must be 1–100 letters/);
  assertOneLineError(await runCli(['queue', 'collect', '--redis', url, '--queue', 'empty', '--out', join(dir, 'x.jsonl')]), /queue empty has no lines/);
});

test('batch --workers 2 writes the same output as one process, and resumes the same way', { timeout: 120_000 }, async () => {
  const input = join(dir, 'w.jsonl');
  writeFileSync(input, `${LINES.join('\n')}\n`);
  const one = join(dir, 'one.jsonl');
  const two = join(dir, 'two.jsonl');
  assert.equal((await runCli(['batch', '--task', 'classify', '--input', input, '--out', one, '--steps', '20'])).code, 0);
  const r = await runCli(['batch', '--task', 'classify', '--input', input, '--out', two, '--steps', '20', '--workers', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(two, 'utf8'), readFileSync(one, 'utf8'));
  const again = await runCli(['batch', '--task', 'classify', '--input', input, '--out', two, '--steps', '20', '--workers', '2']);
  assert.match(again.stderr, new RegExp(`0 new results, ${LINES.length} already done`));
  assertOneLineError(await runCli(['batch', '--task', 'classify', '--input', input, '--out', join(dir, 'three.jsonl'), '--workers', '0']), /--workers must be an integer from 1 to 64/);
});
