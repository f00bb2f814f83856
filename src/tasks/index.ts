// The text tasks, in one table: the CLI's explain subcommands, batch, and the web app's task picker use it.
import type { LoadedModel } from '../models/load.js';
import type { ExplainSettings } from '../attr/registry.js';
import type { Explanation, RunOptions, TaskName } from './common.js';
import { explainQa, type QaTarget } from './qa.js';
import { explainClassify } from './classify.js';
import { explainTokens } from './tokens.js';
import { explainZeroShot } from './zero-shot.js';

export { type TaskName, type Explanation, type RunOptions } from './common.js';
export { explainQa, explainClassify, explainTokens, explainZeroShot };

/** One input of any task (a batch line, a form, URL parameters). */
export interface TaskInput { question?: string; context?: string; text?: string; pair?: string; token?: number; labels?: string[]; template?: string; qaTarget?: QaTarget; docStride?: number }

export interface TaskSpec {
  name: TaskName;
  description: string;
  /** The input fields it reads. */
  fields: readonly (keyof TaskInput)[];
}

export const TASK_TABLE: readonly TaskSpec[] = [
  { name: 'qa', description: 'extractive question answering: the answer span, explained by its start and end logits', fields: ['question', 'context'] },
  { name: 'classify', description: 'sequence classification (single text, text pair, multi-label)', fields: ['text', 'pair'] },
  { name: 'tokens', description: 'token classification (NER): a token\'s predicted entity, or every entity span', fields: ['text', 'token'] },
  { name: 'zero-shot', description: 'zero-shot classification through an NLI model (entailment logit per candidate label)', fields: ['text', 'labels', 'template'] },
];

export const TASKS: readonly TaskName[] = TASK_TABLE.map((t) => t.name);

/** The walkthrough's example, answered by `gradlens explain qa` with no arguments (and the web app's default). */
export const SEED_EXAMPLE = {
  question: 'What is important to us?',
  context: 'It is important to us to include, empower and support humans of all kinds.',
};

/** Runs one task on one input. */
export function runTask(task: TaskName, model: LoadedModel, input: TaskInput, target: string | undefined, settings: ExplainSettings, run: RunOptions = {}): Promise<Explanation> {
  switch (task) {
    case 'qa': return explainQa(model, { question: input.question ?? '', context: input.context ?? '', target, ...(input.qaTarget ? { qaTarget: input.qaTarget } : {}), ...(input.docStride !== undefined ? { docStride: input.docStride } : {}) }, settings, run);
    case 'classify': return explainClassify(model, { text: input.text ?? '', pair: input.pair, target }, settings, run);
    case 'tokens': return explainTokens(model, { text: input.text ?? '', token: input.token, target }, settings, run);
    case 'zero-shot': return explainZeroShot(model, { text: input.text ?? '', labels: input.labels ?? [], template: input.template, target }, settings, run);
  }
}
