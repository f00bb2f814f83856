import { onnx, type ModelProto } from '../onnx/proto.js';
import { fail } from '../errors.js';
import { Graph } from './graph.js';
import { inferShapes } from './shapes.js';
import { makeValueInfo } from './builder.js';
import { opsetVersion } from '../onnx/model.js';

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

/**
 * A copy of the model with one more output per named output: its maximum over axis 1 (`<name>.max`, [batch]), what
 * Captum's BERT tutorial differentiates (`pred.max(1).values`). Returns the model and the new outputs' names.
 */
export function withMaxOverAxis1(model: ModelProto, names: readonly string[]): { model: ModelProto; outputs: Record<string, string> } {
  const opset = opsetVersion(model) ?? 13;
  const graph = new Graph(model);
  const proto = graph.proto;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  const outputs: Record<string, string> = {};
  const values = names.map((n) => {
    if (!graph.hasValue(n)) fail(`tensor ${n} is not in the graph`);
    const out = `${n}.max`;
    if (graph.hasValue(out)) fail(`the model already has a tensor named ${out}`);
    outputs[n] = out;
    if (opset >= 18) {
      const axes = `${n}.max_axes`;
      inits.push(onnx.TensorProto.create({ name: axes, dataType: onnx.TensorProto.DataType.INT64, dims: [1], int64Data: [1] }));
      nodes.push(onnx.NodeProto.create({ opType: 'ReduceMax', input: [n, axes], output: [out], name: `${out}_node`, attribute: [onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 })] }));
    } else {
      nodes.push(onnx.NodeProto.create({
        opType: 'ReduceMax', input: [n], output: [out], name: `${out}_node`,
        attribute: [
          onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }),
          onnx.AttributeProto.create({ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }),
        ],
      }));
    }
    return makeValueInfo(out, onnx.TensorProto.DataType.FLOAT, null);
  });
  return {
    model: onnx.ModelProto.create({
      ...model,
      graph: onnx.GraphProto.create({ ...proto, node: [...proto.node, ...nodes], initializer: [...proto.initializer, ...inits], output: [...proto.output, ...values] }),
    }),
    outputs,
  };
}

/**
 * A copy of a language model with its log-probabilities as outputs: `<logits>.logprobs` = LogSoftmax over the
 * vocabulary, `<logits>.probs` = Softmax, and `<logits>.contrast` = logprobs − logprobs[contrast id] per position,
 * with the contrast ids an extra input `<logits>.contrast_ids` [batch, sequence] (Yin & Neubig's contrastive target).
 */
export function withTokenScores(model: ModelProto, logits: string): { model: ModelProto; logprobs: string; probs: string; contrast: string; contrastIds: string } {
  const graph = new Graph(model);
  if (!graph.hasValue(logits)) fail(`tensor ${logits} is not in the graph`);
  const proto = graph.proto;
  const names = { logprobs: `${logits}.logprobs`, probs: `${logits}.probs`, contrast: `${logits}.contrast`, contrastIds: `${logits}.contrast_ids` };
  for (const n of Object.values(names)) if (graph.hasValue(n)) fail(`the model already has a tensor named ${n}`);
  const axis = (v: number) => onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: v });
  const unsqueezed = `${names.contrastIds}.unsqueezed`, picked = `${names.contrast}.picked`, axes = `${names.contrastIds}.axes`;
  const opset = opsetVersion(model) ?? 13;
  const nodes = [
    onnx.NodeProto.create({ opType: 'LogSoftmax', input: [logits], output: [names.logprobs], name: `${names.logprobs}_node`, attribute: [axis(-1)] }),
    onnx.NodeProto.create({ opType: 'Softmax', input: [logits], output: [names.probs], name: `${names.probs}_node`, attribute: [axis(-1)] }),
    opset >= 13
      ? onnx.NodeProto.create({ opType: 'Unsqueeze', input: [names.contrastIds, axes], output: [unsqueezed], name: `${unsqueezed}_node` })
      : onnx.NodeProto.create({ opType: 'Unsqueeze', input: [names.contrastIds], output: [unsqueezed], name: `${unsqueezed}_node`, attribute: [onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [2] })] }),
    onnx.NodeProto.create({ opType: 'GatherElements', input: [names.logprobs, unsqueezed], output: [picked], name: `${picked}_node`, attribute: [axis(2)] }),
    onnx.NodeProto.create({ opType: 'Sub', input: [names.logprobs, picked], output: [names.contrast], name: `${names.contrast}_node` }),
  ];
  const inits = opset >= 13 ? [onnx.TensorProto.create({ name: axes, dataType: onnx.TensorProto.DataType.INT64, dims: [1], int64Data: [2] })] : [];
  return {
    model: onnx.ModelProto.create({
      ...model,
      graph: onnx.GraphProto.create({
        ...proto,
        node: [...proto.node, ...nodes], initializer: [...proto.initializer, ...inits],
        input: [...proto.input, makeValueInfo(names.contrastIds, onnx.TensorProto.DataType.INT64, ['batch', 'sequence'])],
        output: [...proto.output, ...[names.logprobs, names.probs, names.contrast].map((n) => makeValueInfo(n, onnx.TensorProto.DataType.FLOAT, null))],
      }),
    }),
    ...names,
  };
}

/** A copy of the model with only the given outputs and the nodes they need (dead branches removed). */
export function onlyOutputs(model: ModelProto, outputs: readonly string[]): ModelProto {
  const graph = new Graph(model);
  const needed = new Set(outputs);
  const keep: onnx.INodeProto[] = [];
  for (const node of [...graph.nodes].reverse()) {
    if (!(node.output ?? []).some((o) => needed.has(o))) continue;
    keep.push(node);
    for (const i of node.input ?? []) if (i) needed.add(i);
  }
  keep.reverse();
  const proto = graph.proto;
  return onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...proto, node: keep, output: proto.output.filter((o) => outputs.includes(o.name!)),
      input: proto.input.filter((i) => needed.has(i.name!)), initializer: proto.initializer.filter((t) => needed.has(t.name!)),
      valueInfo: (proto.valueInfo ?? []).filter((v) => needed.has(v.name!)),
    }),
  });
}
