import type { ModelProto } from '../onnx/proto.js';
import type { ModelRunner } from './runner.js';
import type { SpaceOptions } from './base.js';
import { LRPAttribution } from './lrp.js';

/**
 * AttnLRP (Achtibat et al., ICML 2024) as lxt's efficient BERT map computes it: identity rule on elementwise
 * nonlinearities, LayerNorm with a constant standard deviation, Q·Kᵀ and P·V halved for each operand; the ordinary
 * gradient elsewhere. One forward and one backward pass per target.
 */
export class AttnLRP extends LRPAttribution {
  constructor(model: ModelProto | ModelRunner, options: SpaceOptions = {}) {
    super(model, options, 'attnlrp');
  }
}
