import { onnx, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { attrInt } from '../onnx/attributes.js';
import { DT } from '../onnx/tensor.js';
import { fail } from '../errors.js';
import { Graph, topologicalOrder } from './graph.js';
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
  if (graph.hasValue(ROW_SELECTOR)) fail(`the model already has a tensor named ${ROW_SELECTOR}`);
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
  const moved = moveRows(graph, shapes, graph.consumers(), new Set(roots), new Set(), () => 'selector', (b, name, rank) => {
    if (rank === 3) return b.op('MatMul', [ROW_SELECTOR, name]);
    return b.squeeze(b.op('MatMul', [ROW_SELECTOR, b.unsqueeze(name, [2])]), [2]);
  });
  const outputs = Object.fromEntries(roots.map((r) => [r, moved.select(r)]));
  const rootSet = new Set(roots);
  const proto = graph.proto;
  const newOutputs = [
    ...proto.output.filter((v) => !rootSet.has(v.name!)),
    ...roots.map((r) => {
      const s = shapes.get(r)!.shape!;
      return makeValueInfo(outputs[r]!, shapes.get(r)?.type ?? DT.FLOAT, [s[0]!, 'selected_rows', ...s.slice(2)]);
    }),
  ];
  const selectorInput = makeValueInfo(ROW_SELECTOR, DT.FLOAT, [batch, 'selected_rows', seq]);
  return { model: rebuild(model, graph, moved.b, newOutputs, [selectorInput]), outputs, movedNodes: moved.count };
}

/**
 * Row gathers already in the graph, such as a pooler taking the [CLS] token — Gather(X, k, axis 1) with a
 * constant index — are moved towards the inputs in the same way: the layers after the last attention then run on
 * row k only. `protect` names tensors that must keep all rows (e.g. the tensor a gradient is taken with respect to).
 */
export function pushRowGathers(model: ModelProto, protect: readonly string[] = []): { model: ModelProto; movedNodes: number } {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  const consumers = graph.consumers();
  const constIndex = (name: string | undefined): { value: number; scalar: boolean } | null => {
    const info = name ? shapes.get(name) : undefined;
    const v = info?.value;
    if (!info?.shape || info.shape.length > 1 || !v || v.length !== 1 || typeof v[0] !== 'number') return null;
    return { value: v[0], scalar: info.shape.length === 0 };
  };
  // Data tensors read only by row gathers of one constant row.
  const rows = new Map<string, { index: number; gathers: NodeProto[] }>();
  for (const node of graph.nodes) {
    if (node.opType !== 'Gather' || (node.domain && node.domain !== 'ai.onnx')) continue;
    const data = node.input?.[0] ?? '';
    const idx = constIndex(node.input?.[1]);
    const rank = shapes.get(data)?.shape?.length;
    if (!idx || (rank !== 2 && rank !== 3) || normalizeAxis(attrInt(node, 'axis') ?? 0, rank) !== 1) continue;
    const users = consumers.get(data) ?? [];
    const sameRow = users.every((u) => u.opType === 'Gather' && u.input?.[0] === data && constIndex(u.input?.[1])?.value === idx.value &&
      normalizeAxis(attrInt(u, 'axis') ?? 0, rank) === 1);
    if (sameRow && !rows.has(data)) rows.set(data, { index: idx.value, gathers: users });
  }
  if (rows.size === 0) return { model, movedNodes: 0 };
  const moved = moveRows(graph, shapes, consumers, new Set(rows.keys()), new Set(protect), (root) => String(rows.get(root)!.index),
    (b, name, _rank, index) => b.op('Gather', [name, b.ints([Number(index)])], { axis: 1 }));
  if (moved.count === 0) return { model, movedNodes: 0 };
  // Each gather now reads the one selected row: Gather(X, k) = Squeeze(X_k, 1), Gather(X, [k]) = X_k.
  const replaced = new Map<NodeProto, NodeProto>();
  for (const [data, { gathers }] of rows) {
    const selected = moved.select(data);
    for (const g of gathers) {
      const scalar = constIndex(g.input?.[1])!.scalar;
      const before = moved.b.nodes.length;
      if (scalar) moved.b.node('Squeeze', [selected, ...(graph.opset >= 13 ? [moved.b.ints([1])] : [])], graph.opset >= 13 ? {} : { axes: [1] }, 1, [g.output![0]!]);
      else moved.b.node('Identity', [selected], {}, 1, [g.output![0]!]);
      replaced.set(g, moved.b.nodes.splice(before)[0]!);
    }
  }
  graph.nodes = graph.nodes.filter((n) => !replaced.has(n));
  moved.b.nodes.push(...replaced.values());
  return { model: rebuild(model, graph, moved.b, graph.proto.output, []), movedNodes: moved.count };
}

/**
 * The shared rewrite: decides which nodes move to the selected rows (reverse topological order: a node moves when
 * every use of its outputs is a moved node's selected input, or the output is a root), emits their clones on the
 * selected rows, and selects rows of whatever a clone reads that did not move (`selectOp`, memoized per tensor).
 */
function moveRows(graph: Graph, shapes: ShapeMap, consumers: Map<string, NodeProto[]>, roots: Set<string>, protect: Set<string>,
  groupOf: (root: string) => string, selectOp: (b: Builder, name: string, rank: number, group: string) => string,
): { b: Builder; select: (name: string) => string; count: number } {
  const graphOutputs = new Set(graph.outputNames());
  const plans = new Map<NodeProto, InputPlan[]>();
  // The selection group (the same selected rows) each moved node serves, and each selected tensor belongs to.
  const rootOf = new Map<NodeProto, string>();
  const rootFor = new Map<string, string>([...roots].map((r) => [r, groupOf(r)]));
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    const outs = (node.output ?? []).filter(Boolean);
    let root: string | undefined;
    const selectedOnly = outs.length > 0 && outs.every((o) => {
      if (protect.has(o)) return false;
      if (roots.has(o)) return (root ??= groupOf(o)) === groupOf(o);
      if (graphOutputs.has(o)) return false;
      const users = consumers.get(o) ?? [];
      // Every use must be one that takes the selected rows (not, say, the weight slot of a product), for one root.
      return users.length > 0 && users.every((u) => plans.has(u) && (root ??= rootOf.get(u)) === rootOf.get(u) &&
        (u.input ?? []).every((i, j) => i !== o || plans.get(u)![j] === 'select'));
    });
    if (!selectedOnly || root === undefined) continue;
    const plan = rowwisePlan(node, graph, shapes);
    if (!plan) continue;
    plans.set(node, plan);
    rootOf.set(node, root);
    for (const i of node.input ?? []) if (i && !rootFor.has(i)) rootFor.set(i, root);
  }

  const used = new Set<string>();
  for (const n of graph.nodes) for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) used.add(v);
  for (const v of [...graph.inputNames(), ...graph.outputNames(), ...graph.initializers.keys(), ROW_SELECTOR]) used.add(v);
  const b = new Builder(used, graph.opset, 'gradlens_rows');
  const selected = new Map<string, string>();
  const select = (name: string): string => {
    const hit = selected.get(name);
    if (hit) return hit;
    const out = selectOp(b, name, shapes.get(name)?.shape?.length ?? 0, rootFor.get(name)!);
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
  return { b, select, count: plans.size };
}

/** The graph with the builder's nodes and constants added, given outputs and extra inputs, and dead nodes dropped. */
function rebuild(model: ModelProto, graph: Graph, b: Builder, outputs: onnx.IValueInfoProto[], extraInputs: onnx.ValueInfoProto[]): ModelProto {
  const allNodes = [...graph.nodes, ...b.nodes];
  const needed = new Set(outputs.map((v) => v.name!));
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
  const proto = graph.proto;
  const available = new Set([...proto.input.map((v) => v.name!), ...extraInputs.map((v) => v.name!), ...proto.initializer.map((t) => t.name!), ...b.initializers.map((t) => t.name!)]);
  const graphProto = onnx.GraphProto.create({
    ...proto,
    node: topologicalOrder(allNodes.filter((n) => live.has(n)), available),
    initializer: [...proto.initializer.filter((t) => needed.has(t.name!)), ...b.initializers],
    input: [...proto.input, ...extraInputs],
    output: outputs,
    valueInfo: proto.valueInfo.filter((v) => needed.has(v.name!)),
  });
  return onnx.ModelProto.create({ ...model, graph: graphProto });
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
    // Selected only when its row axis is known to be the output's (an unknown size might broadcast).
    if (s.length === r) return s[1] === 1 ? 'keep' : s[1] !== null && s[1] === out[1] ? 'select' : null;
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
