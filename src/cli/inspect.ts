import type { ModelProto } from '../onnx/proto.js';
import { Graph } from '../graph/graph.js';
import { inferShapes } from '../graph/shapes.js';
import { elemTypeName } from '../graph/shapes.js';
import type { Shape } from '../graph/dims.js';
import { RULES, NON_DIFFERENTIABLE } from '../autodiff/rules.js';

export interface ModelSummary {
  opset: number;
  irVersion: number;
  producer: string;
  inputs: { name: string; type: string; shape: Shape | null }[];
  outputs: { name: string; type: string; shape: Shape | null }[];
  ops: Record<string, number>;
  /** Op types present in the graph with no gradient rule (and not known to be non-differentiable). */
  missingRules: string[];
  initializers: number;
  parameters: number;
}

export function summarize(model: ModelProto): ModelSummary {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const describe = (name: string) => ({ name, type: elemTypeName(shapes.get(name)?.type).toLowerCase(), shape: shapes.get(name)?.shape ?? null });
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType!;
    ops[key] = (ops[key] ?? 0) + 1;
  }
  const missingRules = Object.keys(ops).filter((op) => !RULES[op] && !NON_DIFFERENTIABLE.has(op)).sort();
  let parameters = 0;
  for (const t of graph.initializers.values()) parameters += (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
  return {
    opset: graph.opset,
    irVersion: Number(model.irVersion ?? 0),
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    inputs: graph.inputNames().map(describe),
    outputs: graph.outputNames().map(describe),
    ops,
    missingRules,
    initializers: graph.initializers.size,
    parameters,
  };
}

const fmtShape = (s: Shape | null) => (s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : 'unknown');

export function formatSummary(s: ModelSummary): string {
  const lines = [
    `opset ${s.opset}, IR version ${s.irVersion}${s.producer ? `, produced by ${s.producer}` : ''}`,
    `${s.initializers} initializers, ${s.parameters.toLocaleString('en-US')} parameters`,
    'inputs:',
    ...s.inputs.map((v) => `  ${v.name}: ${v.type} ${fmtShape(v.shape)}`),
    'outputs:',
    ...s.outputs.map((v) => `  ${v.name}: ${v.type} ${fmtShape(v.shape)}`),
    'ops:',
    ...Object.entries(s.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op, n]) => `  ${op.padEnd(24)} ${n}`),
    s.missingRules.length ? `ops without gradient rules: ${s.missingRules.join(', ')}` : 'every op has a gradient rule (or is non-differentiable)',
  ];
  return lines.join('\n');
}
