import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { type HostTensor } from '../../src/runtime/session.js';
import { LayerIntegratedGradients } from '../../src/attr/layer-integrated-gradients.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { INTEGRATION_METHODS } from '../../src/attr/quadrature.js';
import { convergenceDelta } from '../../src/attr/base.js';
import { fixture, flat } from '../helpers.js';
import { ligFixture, ligInputs } from './lig-fixture.js';

// LayerIG on the embeddings output of the QA fixture against a float64 PyTorch reference computed with Captum's
// formulas. ORT runs in float32: per-token attributions must agree within 1e-3 of max |attribution|.
const TOL = 1e-3;

const fx = ligFixture;

function perToken(t: HostTensor): number[] {
  const [, seq, hidden] = t.dims as [number, number, number];
  return Array.from({ length: seq }, (_, s) => {
    let sum = 0;
    for (let h = 0; h < hidden; h++) sum += Number(t.data[s * hidden + h]);
    return sum;
  });
}

for (const [opset, info] of Object.entries(fx.models)) {
  test(`LayerIG (${opset}), five quadratures, start and end targets match the PyTorch reference`, async () => {
    const runner = new ModelRunner(readModelFile(fixture('bert', info.model)));
    const lig = new LayerIntegratedGradients(runner, info.embeddings_output);
    const { inputs, baselines } = ligInputs();
    for (const method of INTEGRATION_METHODS) {
      const ref = fx.methods[method]!;
      const results = await lig.attribute(inputs, {
        baselines, method, nSteps: 50, returnConvergenceDelta: true,
        targets: fx.targets.map((t) => ({ output: t.of, target: t.index.slice(1) })),
      });
      results.forEach((r, k) => {
        const want = ref.targets[k]!;
        const attr = r.attributions[info.embeddings_output]!;
        const got = perToken(attr);
        const scale = Math.max(...want.per_token.map(Math.abs));
        got.forEach((v, i) => assert.ok(Math.abs(v - want.per_token[i]!) <= TOL * scale, `${method} ${want.of} token ${i}: ${v} vs ${want.per_token[i]}`));
        const fullScale = Math.max(...flat(want.attr).map(Math.abs));
        const fullErr = Math.max(...flat(want.attr).map((w, i) => Math.abs(w - Number(attr.data[i]))));
        assert.ok(fullErr <= TOL * fullScale, `${method} ${want.of}: full attribution error ${fullErr}`);
        assert.ok(Math.abs(r.fX![0]! - want.f_x) < 1e-4 && Math.abs(r.fBaseline![0]! - want.f_baseline) < 1e-4, 'F(x), F(baseline)');
        // The returned delta is Σattr − (F(x) − F(b)), recomputed independently here.
        const sum = flat(got).reduce((a, v) => a + v, 0);
        assert.ok(Math.abs(r.delta![0]! - (sum - (r.fX![0]! - r.fBaseline![0]!))) < 1e-9, 'delta definition');
        assert.ok(Math.abs(r.delta![0]! - want.delta) <= 1e-3 * Math.max(1, Math.abs(want.f_x - want.f_baseline)), `${method} delta ${r.delta![0]} vs ${want.delta}`);
        assert.deepEqual(Array.from(convergenceDelta(r.attributions, r.fX!, r.fBaseline!)), Array.from(r.delta!));
      });
    }
    await runner.release();
  });
}
