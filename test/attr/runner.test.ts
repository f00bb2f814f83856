import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRunner } from '../../src/attr/runner.js';
import { tensor } from '../../src/runtime/session.js';
import { mlpModel, randMatrix, randVector, type MlpSpec } from './tiny-models.js';

const spec: MlpSpec = { inputs: [{ name: 'x', size: 3 }], branches: [{ A: { x: randMatrix(1, 4, 3) }, W: randMatrix(2, 4, 2), c: randVector(3, 2) }] };

test('a repeated forward pass on the same inputs runs once; inputs refilled in place run again', async () => {
  const runner = new ModelRunner(mlpModel(spec));
  const x = tensor('float32', [0.1, -0.2, 0.3], [1, 3]);
  const first = await runner.forward({ x });
  const again = await runner.forward({ x: tensor('float32', [0.1, -0.2, 0.3], [1, 3]) });
  assert.equal(runner.counters.forwardRows, 1);
  assert.deepEqual([...again['y']!.data], [...first['y']!.data]);
  (x.data as Float32Array)[0] = 0.5;
  const changed = await runner.forward({ x });
  assert.equal(runner.counters.forwardRows, 2);
  assert.notDeepEqual([...changed['y']!.data], [...first['y']!.data]);
  await runner.release();
});
