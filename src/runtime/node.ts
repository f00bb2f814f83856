// The Node backend: onnxruntime-node (native CPU; CUDA with its CUDA binaries, see README).
import * as ort from 'onnxruntime-node';
import type { Backend, OrtApi } from './session.js';

export const nodeBackend: Backend = {
  name: 'node',
  ort: ort as unknown as OrtApi,
  /** GRADLENS_PROVIDERS=cuda,cpu selects execution providers without code changes; CPU otherwise. */
  defaultProviders(): string[] {
    const env = process.env['GRADLENS_PROVIDERS'];
    return env ? env.split(',').map((p) => p.trim()).filter(Boolean) : ['cpu'];
  },
  // No pre-packed copies of the weight matrices: on the BERT-base bench model at 484 tokens, peak RSS 3.27 → 2.73 GiB,
  // and explain qa at 148 tokens took 32.9 s either way (bench/RESULTS.md, memory).
  sessionOptions: { extra: { session: { disable_prepacking: '1' } } },
};
