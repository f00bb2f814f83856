import { onnx, type ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import { Graph } from './graph.js';
import { inferShapes } from './shapes.js';
import { makeValueInfo } from './builder.js';

/** A copy of the model that also outputs the given intermediate tensors (so a run can fetch them). */
export function withExtraOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  const graph = new Graph(model);
  const existing = new Set(graph.outputNames());
  const missing = names.filter((n) => !existing.has(n));
  if (missing.length === 0) return model;
  const shapes = inferShapes(graph);
  const extra = missing.map((n) => {
    if (!graph.hasValue(n)) fail(`tensor ${n} is not in the graph`);
    return makeValueInfo(n, shapes.get(n)?.type ?? onnx.TensorProto.DataType.FLOAT, shapes.get(n)?.shape ?? null);
  });
  const proto = graph.proto;
  return onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...proto, output: [...proto.output, ...extra] }) });
}
