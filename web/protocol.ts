// Messages between the page (app.ts) and the worker that runs gradlens (worker.ts).
import type { Explanation, ImageExplanation, SettingValues, Sign, TabularExplanation, TaskInput, TaskName } from '../src/web.js';

export type ModelRef =
  | { kind: 'url'; url: string; name: string }
  | { kind: 'hub'; repo: string; name: string }
  | { kind: 'files'; files: [string, File][]; name: string; key: string };

/** The image of an image run: a picked or dropped file, or a sample of the demo image model (a served folder). */
export type ImageRef =
  | { kind: 'file'; file: File }
  | { kind: 'sample'; dir: string; name: string };

interface RunCommon {
  type: 'run';
  id: number;
  model: ModelRef;
  target?: string;
  settings: SettingValues;
  webgpu: boolean;
  /** WASM threads (default: all cores when cross-origin isolated). */
  threads?: number;
}

export interface TextRunRequest extends RunCommon {
  task: TaskName;
  input: TaskInput;
}

export interface ImageRunRequest extends RunCommon {
  task: 'image';
  image: ImageRef;
  /** black | blur | noise | zero (default black; gradient-shap: black and noise). */
  baseline?: string;
  /** Occlusion patch side and stride: pixels or "auto" (default auto). */
  window?: string;
  stride?: string;
  /** Which attributions the views show (Captum's visualize_image_attr sign). */
  sign: Sign;
}

/** The row of a tabular run: JSON as typed (an object of feature → number, or a list in feature order), or row N of a picked CSV file. */
export type RowRef =
  | { kind: 'json'; text: string }
  | { kind: 'csv'; file: File; row: string };

export interface TabularRunRequest extends RunCommon {
  task: 'tabular';
  row: RowRef;
  /** zero | mean (the CSV's column means) (default zero). */
  baseline?: string;
}

export type RunRequest = TextRunRequest | ImageRunRequest | TabularRunRequest;

export type WorkerMessage =
  | { type: 'progress'; id: number; phase: 'backend' | 'loading' | 'predicting' | 'attributing' | 'explaining'; done?: number; total?: number }
  | { type: 'done'; id: number; task: TaskName; result: Explanation; html: string; svg: string; backend: { threads: number; device: string }; ms: { load: number; run: number } }
  | { type: 'done'; id: number; task: 'image'; result: ImageExplanation; html: string; png: Uint8Array; panels: { width: number; height: number }; backend: { threads: number; device: string }; ms: { load: number; run: number } }
  | { type: 'done'; id: number; task: 'tabular'; result: TabularExplanation; html: string; svg: string; backend: { threads: number; device: string }; ms: { load: number; run: number } }
  | { type: 'error'; id: number; message: string };
