// Long inputs through the real CLI: a 30 KB argument (ONNX Runtime crashed on long command lines), @file and @- texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gradlens-long-'));
const LONG = Array(6000).fill('good').join(' '); // 29,999 characters

test('a 30 KB text argument explains (truncated with a warning) instead of crashing ONNX Runtime', async () => {
  const r = await runCli(['explain', 'classify', '-t', LONG, '--method', 'saliency', '--format', 'json']);
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  const e = JSON.parse(r.stdout);
  assert.equal(e.tokens.length, 128);
  assert.match(e.warnings[0], /truncated: 5874 tokens beyond the model's 128 positions/);
  // Exit codes and errors still come through the re-started process.
  const bad = await runCli(['explain', 'classify', '-t', LONG, '--steps', '0']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^gradlens: --steps must be an integer from 1 to 10000/m);
});

test('-t @file and -c @- read the text from a file and stdin; @@ is a literal @', async () => {
  const dir = tmp();
  const file = join(dir, 'review.txt');
  writeFileSync(file, `${LONG}\n`);
  const fromFile = await runCli(['explain', 'classify', '-t', `@${file}`, '--method', 'saliency', '--format', 'json']);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const direct = await runCli(['explain', 'classify', '-t', LONG, '--method', 'saliency', '--format', 'json']);
  assert.deepEqual(JSON.parse(fromFile.stdout).input_ids, JSON.parse(direct.stdout).input_ids);
  const context = 'It is important to us to include, empower and support humans of all kinds.';
  const fromStdin = await runCli(['explain', 'qa', '-q', 'What is important to us?', '-c', '@-', '--steps', '4', '--format', 'json'], { input: context });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(JSON.parse(fromStdin.stdout).prediction.answer, 'to include, empower and support humans of all kinds');
  const literal = await runCli(['explain', 'classify', '-t', '@@home was wonderful', '--method', 'saliency', '--format', 'json']);
  assert.equal(literal.code, 0, literal.stderr);
  assert.equal(JSON.parse(literal.stdout).tokens[1], '@');
  const both = await runCli(['explain', 'qa', '-q', '@-', '-c', '@-'], { input: 'x' });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /both read stdin/);
  const missing = await runCli(['explain', 'classify', '-t', `@${join(dir, 'nope.txt')}`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^gradlens: --text @.*nope\.txt: no such file\n$/);
  const device = await runCli(['explain', 'classify', '-t', '@/dev/zero']);
  assert.equal(device.code, 1);
  assert.match(device.stderr, /is a character device, not a regular file/);
});

test('absurd settings are refused in one line before any work, with the limits stated in --help', async () => {
  const help = await runCli(['explain', 'qa', '--help']);
  for (const limit of [/--steps <n\|auto>\s+integration steps \(1–10000\)/, /--samples <n>\s+noise samples, 1–10000/, /1–100000/]) assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(limit.source.replace(/\\s\+/g, ' ')));
  const cases: [string[], RegExp][] = [
    [['--steps', '1000000000'], /--steps must be an integer from 1 to 10000 or "auto", got 1000000000/],
    [['--steps', '1e15'], /--steps must be an integer from 1 to 10000/],
    [['--samples', '100000', '--method', 'smoothgrad'], /--samples must be an integer from 1 to 10000/],
    [['--internal-batch-size', '100000'], /--internal-batch-size 100000 would need about .* per ONNX Runtime call at \d+ tokens .* use \d+ or fewer/],
    [['--internal-batch-size', '50', '--memory-budget', '8M'], /--internal-batch-size 50 would need about/],
    [['--method', 'gradient-shap', '--samples', '10000', '--memory-budget', '1G'], /noise samples in memory .* use fewer --samples/],
    [['--stdevs', '1e300'], /--stdevs must be a number from 0 to 1000000/],
    [['--seed', '1.5'], /--seed must be an integer/],
    [['--memory-budget', 'lots'], /--memory-budget must be a size/],
    [['--memory-budget', '2000T'], /--memory-budget must be a size .*at most 1024T/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runCli(['explain', 'qa', ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
  // A small budget shrinks the default chunking instead of refusing.
  const small = await runCli(['explain', 'qa', '--steps', '8', '--memory-budget', '4M', '--format', 'json']);
  assert.equal(small.code, 0, small.stderr);
});
