import type { NodeProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import type { Graph } from '../graph/graph.js';

/**
 * Finds the embeddings-layer output from the graph's structure, whatever the exporter named it: the activation that
 * the first weight-multiplying node (MatMul/Gemm with a weight operand) reads, among the values computed from the
 * token ids. That is the embeddings LayerNorm output in BERT-family models (and ALBERT/ELECTRA's before their
 * embedding projection).
 */
export function findEmbeddingsOutput(graph: Graph, idsInput = 'input_ids'): string {
  if (!graph.inputNames().includes(idsInput)) fail(`the graph has no ${idsInput} input; pass the embeddings tensor with --layer`);
  const fromIds = new Set([idsInput]);
  const isWeight = (name: string): boolean => {
    if (graph.initializers.has(name)) return true;
    const p = graph.producer.get(name);
    // Weights reached through Transpose/Identity/Cast of initializers, or Constant nodes.
    return !!p && (p.opType === 'Constant' || (['Transpose', 'Identity', 'Cast'].includes(p.opType!) && isWeight(p.input![0]!)));
  };
  for (const node of graph.nodes) {
    const inputs = (node.input ?? []).filter(Boolean);
    if (!inputs.some((i) => fromIds.has(i))) continue;
    if ((node.opType === 'MatMul' || node.opType === 'Gemm') && inputs.slice(0, 2).some(isWeight)) {
      const act = inputs.slice(0, 2).find((i) => fromIds.has(i) && !isWeight(i));
      if (act && producedByEmbeddingOps(graph, act)) return act;
    }
    for (const o of node.output ?? []) if (o) fromIds.add(o);
  }
  fail('cannot find the embeddings output in the graph; pass it with --layer (gradlens inspect --tensors lists them)');
}

/** Sanity check: the activation comes out of a normalisation or a sum, not a shape computation. */
function producedByEmbeddingOps(graph: Graph, name: string): boolean {
  const p: NodeProto | undefined = graph.producer.get(name);
  return !!p && ['LayerNormalization', 'Add', 'Mul', 'SkipLayerNormalization', 'Gather', 'Div'].includes(p.opType!);
}

/** The word-embedding lookup: a Gather of a [vocab, hidden] weight by the token ids (HF's inputs_embeds). */
export function findWordEmbeddings(graph: Graph, idsInput = 'input_ids'): string | undefined {
  for (const node of graph.nodes) {
    if (node.opType !== 'Gather' || node.input?.[1] !== idsInput) continue;
    const w = graph.initializers.get(node.input[0]!);
    if (w && (w.dims ?? []).length === 2) return node.output![0]!;
  }
  return undefined;
}
