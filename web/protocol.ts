// Messages between the page (app.ts) and the worker that runs gradlens (worker.ts).
import type { Explanation, SettingValues, TaskInput, TaskName } from '../src/web.js';

export type ModelRef =
  | { kind: 'url'; url: string; name: string }
  | { kind: 'hub'; repo: string; name: string }
  | { kind: 'files'; files: [string, File][]; name: string; key: string };

export interface RunRequest {
  type: 'run';
  id: number;
  model: ModelRef;
  task: TaskName;
  input: TaskInput;
  target?: string;
  settings: SettingValues;
  webgpu: boolean;
  /** WASM threads (default: all cores when cross-origin isolated). */
  threads?: number;
}

export type WorkerMessage =
  | { type: 'progress'; id: number; phase: 'backend' | 'loading' | 'predicting' | 'attributing'; done?: number; total?: number }
  | { type: 'done'; id: number; result: Explanation; html: string; svg: string; backend: { threads: number; device: string }; ms: { load: number; run: number } }
  | { type: 'error'; id: number; message: string };
