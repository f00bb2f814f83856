import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, DEMO_MODELS } from '../../src/io/folder.js';
import { bytesPerRow, expectedBytesPerRow, planMemory, WORKING_SET } from '../../src/attr/memory.js';
import { GradlensError } from '../../src/errors.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'memory-child.js');
const peak = (seq: number, rows: number): number => (JSON.parse(execFileSync(process.execPath, [CHILD, String(seq), String(rows)], { encoding: 'utf8' })) as { maxRss: number }).maxRss;

test('the expected bytes of a row are within 3× of the peak RSS a row adds, on the demo QA model at 32 and 128 tokens', async () => {
  const model = await loadModel(DEMO_MODELS.qa);
  for (const [seq, rows] of [[32, 600], [128, 300]] as const) {
    // Peak RSS growth from 1 to `rows` rows per ONNX Runtime call, per added row (each in a fresh process).
    const measured = (peak(seq, rows) - peak(seq, 1)) / (rows - 1);
    const expected = expectedBytesPerRow(model.onnx, seq);
    const ratio = expected / measured;
    assert.ok(ratio > 1 / 3 && ratio < 3, `${seq} tokens: expected ${(expected / 2 ** 20).toFixed(2)} MiB per row, measured ${(measured / 2 ** 20).toFixed(2)} MiB (ratio ${ratio.toFixed(2)})`);
    assert.ok(bytesPerRow(model.onnx, seq) >= measured, 'the upper bound is one');
  }
  assert.equal(WORKING_SET, 1 / 3);
});

test('rows per call fit the budget: as many as it holds, at most the default; a request beyond it or one row too many is refused', async () => {
  const model = await loadModel(DEMO_MODELS.qa);
  const row = expectedBytesPerRow(model.onnx, 128);
  for (const budgetRows of [1, 3, 7, 20]) {
    const rows = planMemory(model.onnx, { sequenceLength: 128, fallback: 12, budget: budgetRows * row + 1 });
    assert.equal(rows, Math.min(12, budgetRows), `a budget of ${budgetRows} rows`);
    assert.ok(rows * row <= budgetRows * row + 1);
  }
  assert.equal(planMemory(model.onnx, { sequenceLength: 128, fallback: 12, requested: 5, budget: 5 * row + 1 }), 5);
  assert.throws(() => planMemory(model.onnx, { sequenceLength: 128, fallback: 12, requested: 6, budget: 5 * row + 1 }),
    (e: unknown) => e instanceof GradlensError && /--internal-batch-size 6 would need about .* use 5 or fewer/.test(e.message));
  assert.throws(() => planMemory(model.onnx, { sequenceLength: 128, fallback: 12, budget: row / 2 }),
    (e: unknown) => e instanceof GradlensError && /one row at 128 tokens needs about .* and the memory budget is/.test(e.message));
  // Noise samples kept on the host count against the budget too.
  assert.equal(planMemory(model.onnx, { sequenceLength: 128, fallback: 12, hostBytes: 2 * row, budget: 5 * row + 1 }), 3);
});
