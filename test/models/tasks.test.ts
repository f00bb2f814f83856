import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadModel } from '../../src/io/folder.js';
import { explainClassify, explainQa, explainTokens, explainZeroShot, type Explanation } from '../../src/tasks/index.js';
import { DEFAULT_SETTINGS, type ExplainSettings } from '../../src/attr/registry.js';
import { fixture, readJson } from '../helpers.js';

// End to end per architecture and task on tiny PyTorch-exported models: tokenizer ids, architecture and embeddings
// detection, and LayerIG per-token attributions (Gauss–Legendre, 50 steps, [PAD] baseline) against float64 PyTorch
// references. ORT runs in float32: attributions agree within 1e-3 of the largest |per_token|.
const TOL = 1e-3;
const settings: ExplainSettings = { ...DEFAULT_SETTINGS, steps: 50, integration: 'gausslegendre', baseline: 'pad' };

interface RefTarget { target: { output: string; index: number | number[] }; per_token: number[]; f_x: number; f_baseline: number }
interface RefExample extends RefTarget {
  text?: string; pair?: string; question?: string; context?: string; labels?: string[]; hypothesis_template?: string; best?: string;
  ids: number[]; tokens: string[]; type_ids?: number[]; targets?: RefTarget[];
}
interface Reference { task: string; model_type: string; embeddings_output: string; input_names: string[]; examples: RefExample[] }

function close(actual: number[], ref: RefTarget, what: string): void {
  assert.equal(actual.length, ref.per_token.length, `${what}: token count`);
  const scale = Math.max(...ref.per_token.map(Math.abs));
  const err = Math.max(...actual.map((v, i) => Math.abs(v - ref.per_token[i]!)));
  assert.ok(err <= TOL * scale, `${what}: max error ${err.toExponential(2)} > ${TOL} × ${scale.toExponential(2)}`);
}

for (const name of readdirSync(fixture('models')).filter((f) => !f.includes('.'))) {
  test(`${name}: loading, tokenizer ids and attributions match PyTorch`, async () => {
    const ref = readJson<Reference>(fixture('models', name, 'reference.json'));
    const model = await loadModel(fixture('models', name));
    assert.ok(model.knownArchitecture, `model_type ${ref.model_type} is in the registry`);
    assert.equal(model.embeddingsOutput, ref.embeddings_output, 'embeddings output found from the graph');
    assert.deepEqual([...model.inputNames].sort(), [...ref.input_names].sort());
    for (const ex of ref.examples) {
      let result: Explanation;
      let refTargets: RefTarget[] = [ex];
      switch (ref.task) {
        case 'qa': {
          refTargets = ex.targets!;
          const [s, e] = refTargets.map((t) => t.target.index as number);
          result = await explainQa(model, { question: ex.question!, context: ex.context!, target: `${s}:${e}` }, settings);
          break;
        }
        case 'classify':
          result = await explainClassify(model, { text: ex.text!, pair: ex.pair, target: ex.target.index as number }, settings);
          break;
        case 'tokens': {
          const [pos, label] = ex.target.index as number[];
          result = await explainTokens(model, { text: ex.text!, token: pos, target: String(label) }, settings);
          break;
        }
        case 'zero-shot':
          result = await explainZeroShot(model, { text: ex.text!, labels: ex.labels!, template: ex.hypothesis_template, target: ex.best }, settings);
          break;
        default:
          throw new Error(`unknown task ${ref.task}`);
      }
      assert.deepEqual(result.input_ids, ex.ids, `${name}: token ids equal the Python tokenizer's`);
      assert.deepEqual(result.tokens, ex.tokens);
      refTargets.forEach((t, k) => {
        const a = result.attributions[k]!;
        close(a.per_token, t, `${name} ${a.target}`);
        assert.ok(Math.abs(a.f_x! - t.f_x) < 1e-4 && Math.abs(a.f_baseline! - t.f_baseline) < 1e-4, `${name}: F(x), F(baseline)`);
      });
    }
    await model.runner.release();
  });
}

test('bad model folders: one clear error each', async () => {
  await assert.rejects(loadModel(fixture('models', 'no-such-model')), /model folder not found/);
  await assert.rejects(loadModel(fixture('bert')), /no onnx\/model.onnx/);
});
