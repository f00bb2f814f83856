import { onnx, type ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import { Graph } from './graph.js';
import { inferShapes } from './shapes.js';
import { makeValueInfo } from './builder.js';

/**
 * The model with the given tensors turned into graph inputs: what produced them is dropped where nothing else needs
 * it, and the graph computes its outputs from the injected values.
 */
export function cutModel(model: ModelProto, names: readonly string[]): ModelProto {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const cut = new Set(names);
  for (const n of names) if (!graph.producer.has(n)) fail(`tensor ${n} is not produced by a node of the graph`);
  const needed = new Set(graph.outputNames());
  const keep: typeof graph.nodes = [];
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    if (!(node.output ?? []).some((o) => o && !cut.has(o) && needed.has(o))) continue;
    keep.unshift(node);
    for (const i of node.input ?? []) if (i) needed.add(i);
  }
  const proto = graph.proto;
  const inputs = [
    ...proto.input.filter((v) => needed.has(v.name!) && !graph.initializers.has(v.name!)),
    ...names.map((n) => makeValueInfo(n, shapes.get(n)?.type ?? onnx.TensorProto.DataType.FLOAT, shapes.get(n)?.shape ?? null)),
  ];
  const graphProto = onnx.GraphProto.create({
    ...proto,
    node: keep.map((n) => ((n.output ?? []).some((o) => cut.has(o)) ? onnx.NodeProto.create({ ...n, output: (n.output ?? []).map((o) => (cut.has(o) ? `${o}__cut` : o)) }) : n)),
    initializer: proto.initializer.filter((t) => needed.has(t.name!)),
    input: inputs,
    valueInfo: proto.valueInfo.filter((v) => !cut.has(v.name!)),
  });
  return onnx.ModelProto.create({ ...model, graph: graphProto });
}
