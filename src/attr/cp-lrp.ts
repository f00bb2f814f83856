import type { ModelProto } from '../onnx/proto.js';
import type { ModelRunner } from './runner.js';
import type { SpaceOptions } from './base.js';
import { LRPAttribution } from './lrp.js';

/**
 * CP-LRP (Ali et al., "XAI for Transformers: Better Explanations through Conservative Propagation", ICML 2022), as
 * lxt's efficient form: AttnLRP's rules, except that no relevance flows through the attention scores (Q and K are
 * constants there) and P·V is not halved.
 */
export class CpLRP extends LRPAttribution {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions = {}) {
    super(model, options, 'cp-lrp');
  }
}
