import { loadModel, explainQa, renderText, DEFAULT_SETTINGS, DEMO_MODELS } from 'gradlens';

const model = await loadModel(DEMO_MODELS.qa);   // a model folder, or a Hub id such as 'Xenova/distilbert-base-cased-distilled-squad'
const result = await explainQa(model, {
  question: 'What is important to us?',
  context: 'It is important to us to include, empower and support humans of all kinds.',
}, { ...DEFAULT_SETTINGS, steps: 'auto' });     // Layer IG on the embeddings output, steps until |delta| ≤ 1% of |F(x) − F(baseline)|
console.log(renderText(result, false));         // the answer, per-token attributions and each target's convergence delta
