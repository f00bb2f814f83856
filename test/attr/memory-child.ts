// Child process of memory.test.ts: LayerIG on the demo QA model at a given length and rows per call; prints the peak RSS.
import { loadModel, DEMO_MODELS } from '../../src/io/folder.js';
import { LayerIntegratedGradients } from '../../src/attr/layer-integrated-gradients.js';
import { tensor } from '../../src/runtime/session.js';

// The test runner also loads this file (it lies under test/): without arguments it does nothing.
if (process.argv.length < 4) process.exit(0);
const [seq, rows] = process.argv.slice(2).map(Number) as [number, number];
const model = await loadModel(DEMO_MODELS.qa);
const ids = Array.from({ length: seq }, (_, i) => (i === 0 ? 101 : i === seq - 1 ? 102 : 1000 + ((i * 7919) % 20000)));
const feeds = {
  input_ids: tensor('int64', ids, [1, seq]),
  attention_mask: tensor('int64', ids.map(() => 1), [1, seq]),
  token_type_ids: tensor('int64', ids.map(() => 0), [1, seq]),
};
const baseline = tensor('int64', ids.map((t, i) => (i === 0 || i === seq - 1 ? t : 0)), [1, seq]);
await new LayerIntegratedGradients(model.runner, model.embeddingsOutput).attribute(feeds, {
  baselines: { input_ids: baseline }, nSteps: rows, internalBatchSize: rows,
  targets: [{ output: 'start_logits', target: 1 }, { output: 'end_logits', target: 2 }],
});
console.log(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024, bytesPerRow: 0 }));
