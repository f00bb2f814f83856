import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { fixture, readJson, flat, dimsOf, type Nested } from '../helpers.js';

/** The QA LayerIG reference (scripts/fixtures/make_bert_fixtures.py): inputs, baseline ids and per-method results. */
export interface LigTarget { of: string; index: number[]; attr: Nested; per_token: number[]; f_x: number; f_baseline: number; delta: number }
export interface LigFixture {
  targets: { of: string; index: number[] }[];
  methods: Record<string, { alphas: number[]; step_sizes: number[]; targets: LigTarget[] }>;
  baseline_ids: Nested;
  inputs: Record<string, Nested>;
  models: Record<string, { model: string; embeddings_output: string }>;
}

export const ligFixture = readJson<LigFixture>(fixture('bert', 'qa-lig.json'));

/** int64 feeds from nested lists. */
export const int64Feeds = (inputs: Record<string, Nested>): Record<string, HostTensor> =>
  Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tensor('int64', flat(v), dimsOf(v))]));

/** The fixture's model inputs and its `[CLS] [PAD]… [SEP] [PAD]… [SEP]` baseline, as feeds. */
export const ligInputs = () => ({
  inputs: int64Feeds(ligFixture.inputs),
  baselines: { input_ids: tensor('int64', flat(ligFixture.baseline_ids), dimsOf(ligFixture.baseline_ids)) },
});
