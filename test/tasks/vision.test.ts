import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readModelFile } from '../../src/io/model-file.js';
import { ModelRunner } from '../../src/attr/runner.js';
import { Saliency } from '../../src/attr/saliency.js';
import { IntegratedGradients } from '../../src/attr/integrated-gradients.js';
import { LayerGradCam } from '../../src/attr/grad-cam.js';
import { findSpatialLayer } from '../../src/models/dense.js';
import { Graph } from '../../src/graph/graph.js';
import { fixture, readJson, relError } from '../helpers.js';

/*
 * PyTorch-exported image and tabular models (scripts/fixtures/make_vision_fixtures.py: a ResNet-style CNN with a
 * depthwise conv, BatchNorm, max/average pooling, bilinear and nearest upsampling; a tiny ViT; an MLP), opsets 11 and
 * 17, against PyTorch float64 autograd on the same weights. Tolerance: 1e-4 relative to the largest reference entry
 * (ONNX Runtime runs float32).
 */
interface Arr { shape: number[]; data: number[] }
interface Target { target: number; f_x: number; gradient: Arr; ig: { attributions: Arr; f_x: number; f_baseline: number; delta: number }; gradcam?: Arr }
interface Model { model: string; onnx: string[]; input_name: string; output_name: string; gradcam_layer?: Record<string, string>; examples: { input: Arr; logits: number[]; predicted: number; targets: Target[]; activations?: Arr }[] }
const REF = readJson<{ models: Model[] }>(fixture('vision', 'reference.json'));
const TOL = 1e-4;
const WORST: Record<string, number> = {};
const seen = (what: string, err: number) => (WORST[what] = Math.max(WORST[what] ?? 0, err));
after(() => console.log(`vision.test: worst relative errors vs PyTorch float64: ${Object.entries(WORST).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`));

for (const m of REF.models) {
  for (const file of m.onnx) {
    test(`${file}: logits, input gradients, IG (zero baseline, 50 Gauss–Legendre steps) and its completeness${m.gradcam_layer ? ', Grad-CAM' : ''} equal PyTorch's`, async () => {
      const model = readModelFile(fixture('vision', file));
      const layer = m.gradcam_layer?.[file];
      const runner = new ModelRunner(model, { threads: 1 }, layer ? [layer] : []);
      if (layer) assert.equal(findSpatialLayer(new Graph(model)), layer, 'the last spatial layer is found from the graph');
      try {
        for (const [k, ex] of m.examples.entries()) {
          const feeds = { [m.input_name]: { type: 'float32' as const, data: Float32Array.from(ex.input.data), dims: ex.input.shape } };
          const logits = (await runner.forward(feeds))[m.output_name]!;
          assert.ok(relError(Array.from(logits.data as Float32Array), ex.logits) < TOL, `example ${k}: logits`);
          for (const t of ex.targets) {
            const spec = { targets: [{ output: m.output_name, target: t.target }] };
            const [g] = await new Saliency(runner, { inputs: [m.input_name] }).attribute(feeds, { ...spec, abs: false });
            const gErr = seen('gradient', relError(g!.attributions[m.input_name]!.data as Float64Array, t.gradient.data));
            assert.ok(gErr < TOL, `example ${k}, target ${t.target}: gradient relative error ${gErr.toExponential(2)}`);
            const [ig] = await new IntegratedGradients(runner, { inputs: [m.input_name] }).attribute(feeds, { ...spec, baselines: 0, nSteps: 50, method: 'gausslegendre', returnConvergenceDelta: true });
            const a = ig!.attributions[m.input_name]!.data as Float64Array;
            const igErr = seen('IG', relError(a, t.ig.attributions.data));
            assert.ok(igErr < TOL, `example ${k}, target ${t.target}: IG relative error ${igErr.toExponential(2)}`);
            assert.ok(Math.abs(ig!.fX![0]! - t.ig.f_x) < 1e-4 * Math.max(1, Math.abs(t.ig.f_x)), 'F(x)');
            assert.ok(Math.abs(ig!.fBaseline![0]! - t.ig.f_baseline) < 1e-4 * Math.max(1, Math.abs(t.ig.f_baseline)), 'F(baseline)');
            // Completeness: Σ attributions − (F(x) − F(b)) is the same quadrature error as PyTorch's.
            const sum = a.reduce((s, v) => s + v, 0);
            assert.ok(Math.abs(ig!.delta![0]! - t.ig.delta) < 1e-4 * Math.max(1, Math.abs(sum)), `example ${k}: delta ${ig!.delta![0]} vs PyTorch ${t.ig.delta}`);
            if (layer && t.gradcam) {
              const [cam] = await new LayerGradCam(runner, layer).attribute(feeds, spec);
              const c = cam!.attributions[layer]!;
              assert.deepEqual(c.dims, t.gradcam.shape);
              const cErr = seen('Grad-CAM', relError(c.data as Float64Array, t.gradcam.data));
              assert.ok(cErr < TOL, `example ${k}, target ${t.target}: Grad-CAM relative error ${cErr.toExponential(2)}`);
            }
          }
        }
      } finally {
        await runner.release();
      }
    });
  }
}
