import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import { Graph } from './graph.js';

/** Ops between Q·Kᵀ and the softmax: scaling, the mask add, casts and reshapes. */
const BETWEEN = new Set(['Div', 'Mul', 'Add', 'Sub', 'Where', 'Cast', 'Reshape', 'Identity']);
const WEIGHTS = new Set(['Constant']);

/**
 * The attention probabilities of a transformer graph, layer by layer: each Softmax whose input is reached from a
 * MatMul of two computed activations (Q·Kᵀ, not a product with a weight) through scaling, mask adds and casts.
 * In graph order; a clear refusal when there is none.
 */
export function findAttentionProbs(model: ModelProto): string[] {
  const graph = new Graph(model);
  const computed = (name: string): boolean => {
    if (graph.initializers.has(name)) return false;
    const p = graph.producer.get(name);
    return !(p && WEIGHTS.has(p.opType!)) && !(p && p.opType === 'Transpose' && graph.initializers.has(p.input![0]!)) && graph.hasValue(name);
  };
  const reachesScores = (name: string, depth: number): boolean => {
    const p: NodeProto | undefined = graph.producer.get(name);
    if (!p || depth > 6) return false;
    if (p.opType === 'MatMul') return (p.input ?? []).every((i) => !!i && computed(i));
    if (!BETWEEN.has(p.opType!)) return false;
    return (p.input ?? []).some((i) => !!i && computed(i) && reachesScores(i, depth + 1));
  };
  const found = graph.nodes.filter((n) => n.opType === 'Softmax' && reachesScores(n.input![0]!, 0)).map((n) => n.output![0]!);
  if (found.length === 0) fail('no attention softmax found in the graph (looked for a Softmax fed, through scaling and mask adds, by a MatMul of two activations, Q·Kᵀ)');
  return found;
}
