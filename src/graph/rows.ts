import { onnx, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { attrInt } from '../onnx/attributes.js';
import { DT } from '../onnx/tensor.js';
import { fail } from '../errors.js';
import { Graph } from './graph.js';
import { inferShapes, nodeAxes, type ShapeMap } from './shapes.js';
import { Builder, makeValueInfo } from './builder.js';
import { normalizeAxis, type Dim } from './dims.js';

/** The graph input that selects rows: one-hot float32 [batch, rows, sequence]. */
export const ROW_SELECTOR = 'gradlens_row_selector';

export interface RowSelection {
  model: ModelProto;
  /** Original output name → the output holding its selected rows ([batch, rows, …] instead of [batch, sequence, …]). */
  outputs: Record<string, string>;
  /** How many nodes now run on the selected rows only. */
  movedNodes: number;
}

// Ops that act on each (batch, sequence) row on its own when they broadcast or reduce only over the axes after 1.
const ELEMENTWISE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Identity', 'Cast', 'Neg', 'Abs', 'Sqrt',
  'Reciprocal', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Gelu', 'Clip', 'Softplus', 'LeakyRelu', 'Elu', 'Selu',
  'Celu', 'HardSigmoid', 'HardSwish', 'Mish', 'Sin', 'Cos', 'PRelu',
]);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp']);

type InputPlan = 'select' | 'keep';

/**
 * Rewrites the model so that the given outputs ([batch, sequence, …]) are computed for a few selected sequence rows
 * only: `outputs[name]` is one-hot(selector) · name, i.e. [batch, rows, …]. The selection moves from the outputs
 * towards the inputs through every node that treats rows independently (token-wise projections, layer norms,
 * activations, residual sums…), as long as nothing else needs that node's full result; where it stops, the input is
 * multiplied by the one-hot selector (exact: products with 0 and 1). For a transformer explained at a few
 * positions, the last layer's feed-forward block then runs on those positions only, in the forward pass and in
 * every backward pass built from it.
 */
export function selectRows(model: ModelProto, roots: readonly string[]): RowSelection {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  if (roots.length === 0) fail('selectRows needs at least one output');
  const rootShape = (name: string) => {
    const s = shapes.get(name)?.shape;
    if (!s || s.length < 2 || s.length > 3) fail(`cannot select rows of ${name}: it needs shape [batch, sequence] or [batch, sequence, n]`);
    return s;
  };
  const [batch, seq] = rootShape(roots[0]!) as [Dim, Dim];
  for (const r of roots) {
    const s = rootShape(r);
    if (s[0] !== batch || s[1] !== seq) fail(`cannot select rows of ${r}: its leading dims differ from those of ${roots[0]}`);
  }

  const consumers = graph.consumers();
  const graphOutputs = new Set(graph.outputNames());
  const rootSet = new Set(roots);
  const plans = new Map<NodeProto, InputPlan[]>();
  // Reverse topological order: a node moves when all users of its outputs moved (or are the selected outputs).
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    const outs = (node.output ?? []).filter(Boolean);
    const selectedOnly = outs.length > 0 && outs.every((o) => {
      if (rootSet.has(o)) return true;
      if (graphOutputs.has(o)) return false;
      const users = consumers.get(o) ?? [];
      // Every use must be one that takes the selected rows (not, say, the weight slot of a product).
      return users.length > 0 && users.every((u) => plans.has(u) && (u.input ?? []).every((i, j) => i !== o || plans.get(u)![j] === 'select'));
    });
    if (!selectedOnly) continue;
    const plan = rowwisePlan(node, graph, shapes);
    if (plan) plans.set(node, plan);
  }

  const used = new Set<string>();
  for (const n of graph.nodes) for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) used.add(v);
  for (const v of [...graph.inputNames(), ...graph.outputNames(), ...graph.initializers.keys()]) used.add(v);
  const b = new Builder(used, graph.opset, 'gradlens_rows');
  const selector = b.claim(ROW_SELECTOR);
  const selected = new Map<string, string>();
  const select = (name: string): string => {
    const hit = selected.get(name);
    if (hit) return hit;
    const rank = shapes.get(name)?.shape?.length;
    let out: string;
    if (rank === 3) out = b.op('MatMul', [selector, name]);
    else if (rank === 2) out = b.squeeze(b.op('MatMul', [selector, b.unsqueeze(name, [2])]), [2]);
    else throw new Error(`cannot select rows of ${name} (rank ${rank ?? 'unknown'})`);
    selected.set(name, out);
    return out;
  };
  for (const node of graph.nodes) {
    const plan = plans.get(node);
    if (!plan) continue;
    const inputs = (node.input ?? []).map((i, k) => (!i || plan[k] === 'keep' ? i : select(i)));
    const outputs = (node.output ?? []).map((o) => (o ? b.fresh(`${node.opType}_rows`) : o));
    b.nodes.push(onnx.NodeProto.create({ ...node, name: b.fresh(`${node.name || node.opType}_rows`), input: inputs, output: outputs }));
    (node.output ?? []).forEach((o, k) => o && selected.set(o, outputs[k]!));
  }
  const outputs = Object.fromEntries(roots.map((r) => [r, select(r)]));

  // Outputs: the selected ones replace their originals; then drop what no output needs any more.
  const proto = graph.proto;
  const newOutputs = [
    ...proto.output.filter((v) => !rootSet.has(v.name!)),
    ...roots.map((r) => {
      const s = shapes.get(r)!.shape!;
      return makeValueInfo(outputs[r]!, shapes.get(r)?.type ?? DT.FLOAT, [s[0]!, 'selected_rows', ...s.slice(2)]);
    }),
  ];
  const allNodes = [...graph.nodes, ...b.nodes];
  const needed = new Set(newOutputs.map((v) => v.name!));
  const producerOf = new Map<string, NodeProto>();
  for (const n of allNodes) for (const o of n.output ?? []) if (o) producerOf.set(o, n);
  const live = new Set<NodeProto>();
  const stack = [...needed];
  while (stack.length > 0) {
    const p = producerOf.get(stack.pop()!);
    if (!p || live.has(p)) continue;
    live.add(p);
    for (const i of p.input ?? []) if (i && !needed.has(i)) { needed.add(i); stack.push(i); }
  }
  const graphProto = onnx.GraphProto.create({
    ...proto,
    node: allNodes.filter((n) => live.has(n)),
    initializer: [...proto.initializer.filter((t) => needed.has(t.name!)), ...b.initializers],
    input: [...proto.input, makeValueInfo(selector, DT.FLOAT, [batch, 'selected_rows', seq])],
    output: newOutputs,
    valueInfo: proto.valueInfo.filter((v) => needed.has(v.name!)),
  });
  return { model: onnx.ModelProto.create({ ...model, graph: graphProto }), outputs, movedNodes: plans.size };
}

/**
 * For a node whose output rows (axis 1) each depend only on the same row of its inputs: per input, whether it is
 * selected too ('select') or used as is ('keep': weights, broadcast constants). Null when the node mixes rows.
 */
function rowwisePlan(node: NodeProto, graph: Graph, shapes: ShapeMap): InputPlan[] | null {
  const op = node.opType!;
  if (node.domain && node.domain !== 'ai.onnx') return null;
  const inputs = node.input ?? [];
  const shapeOf = (name: string | undefined) => (name ? shapes.get(name)?.shape ?? null : null);
  const out = shapeOf(node.output?.[0]);
  if (!out || out.length < 2 || out.length > 3) return null;
  const r = out.length;
  // An input of the same rank with a real sequence axis is selected; a lower-rank one or a size-1 axis broadcasts.
  const broadcastPlan = (name: string | undefined): InputPlan | null => {
    if (!name) return 'keep';
    const s = shapeOf(name);
    if (!s) return null;
    if (s.length === r) return s[1] === 1 ? 'keep' : 'select';
    const aligned = 1 - (r - s.length);
    return aligned < 0 || s[aligned] === 1 ? 'keep' : null;
  };
  const lastAxesOnly = (axes: number[] | undefined, rank: number) => axes !== undefined && axes.length > 0 && axes.every((a) => normalizeAxis(a, rank) >= 2);
  const get = (n: string | undefined) => (n ? shapes.get(n) : undefined);
  let plan: (InputPlan | null)[];
  if (ELEMENTWISE.has(op)) {
    plan = inputs.map(broadcastPlan);
  } else if (op === 'MatMul') {
    // [batch, seq, k] · [k, n]: row i of the product is row i of the left operand times the weight.
    const a = shapeOf(inputs[0]), w = shapeOf(inputs[1]);
    plan = r === 3 && a?.length === 3 && w?.length === 2 ? ['select', 'keep'] : [null];
  } else if (op === 'LayerNormalization') {
    const axis = normalizeAxis(attrInt(node, 'axis') ?? -1, r);
    plan = axis >= 2 && (node.output ?? []).length === 1 ? inputs.map((_, k) => (k === 0 ? 'select' : broadcastPlan(inputs[k]))) : [null];
  } else if (op === 'Softmax' || op === 'LogSoftmax') {
    const axis = normalizeAxis(attrInt(node, 'axis') ?? (graph.opset >= 13 ? -1 : 1), r);
    plan = graph.opset >= 13 && axis >= 2 ? ['select'] : [null];
  } else if (REDUCE.has(op)) {
    const rank = shapeOf(inputs[0])?.length ?? 0;
    const keep = (attrInt(node, 'keepdims') ?? 1) === 1;
    plan = rank === r && keep && lastAxesOnly(nodeAxes(node, graph.opset, get), rank) ? inputs.map((_, k) => (k === 0 ? 'select' : 'keep')) : [null];
  } else if (op === 'Split') {
    const rank = shapeOf(inputs[0])?.length ?? 0;
    plan = rank === r && normalizeAxis(attrInt(node, 'axis') ?? 0, rank) >= 2 ? inputs.map((_, k) => (k === 0 ? 'select' : 'keep')) : [null];
  } else if (op === 'Squeeze') {
    const rank = shapeOf(inputs[0])?.length ?? 0;
    plan = rank <= 3 && lastAxesOnly(nodeAxes(node, graph.opset, get), rank) ? inputs.map((_, k) => (k === 0 ? 'select' : 'keep')) : [null];
  } else if (op === 'Unsqueeze') {
    plan = lastAxesOnly(nodeAxes(node, graph.opset, get), r) ? inputs.map((_, k) => (k === 0 ? 'select' : 'keep')) : [null];
  } else {
    return null;
  }
  if (plan.some((p) => p === null)) return null;
  // Selected inputs must be float32 [batch, seq] or [batch, seq, n] so that the one-hot product applies.
  const selectable = (name: string) => [2, 3].includes(shapeOf(name)?.length ?? 0) && shapes.get(name)?.type === DT.FLOAT;
  if (inputs.some((name, k) => plan[k] === 'select' && !selectable(name))) return null;
  return plan as InputPlan[];
}
