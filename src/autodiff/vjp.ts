import { onnx, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { isFloatType, makeTensor } from '../onnx/tensor.js';
import { fail } from '../errors.js';
import { Graph } from '../graph/graph.js';
import { inferShapes, nodeAxes, type ShapeMap, elemTypeName } from '../graph/shapes.js';
import { Builder, makeValueInfo } from '../graph/builder.js';
import { unbroadcast } from './unbroadcast.js';
import { NON_DIFFERENTIABLE } from './rules.js';
import { ruleTable, type RuleSetName } from './lrp.js';
import { findFusions } from './patterns.js';
import type { InputGrad, RuleContext } from './rule.js';

export interface VjpSpec {
  /** Outputs (any float tensors of the graph) whose cotangents are given. */
  of: string[];
  /** Float tensors to differentiate with respect to; each becomes a graph input. */
  wrt: string[];
  /**
   * Independent backward passes sharing one forward pass (default 1): copy k has inputs `<of>_cotangent_<k>` and
   * outputs `<wrt>_grad_<k>` (no suffix when there is one copy). Several attribution targets cost one forward.
   */
  copies?: number;
  /** Differentiate decomposed LayerNorm and GELU groups as one op each (default true); see patterns.ts. */
  fuse?: boolean;
  /** The rule set (lrp.ts): the gradient (default), or AttnLRP / CP-LRP relevance in Gradient×Input form. */
  rules?: RuleSetName;
}

export const cotangentName = (of: string, copy?: number): string => `${of}_cotangent${copy === undefined ? '' : `_${copy}`}`;
export const gradName = (wrt: string, copy?: number): string => `${wrt}_grad${copy === undefined ? '' : `_${copy}`}`;

const nodeLabel = (n: NodeProto): string => n.name || `${n.opType} → ${(n.output ?? []).join(', ')}`;

/**
 * Builds the vector-Jacobian-product model: inputs are the original inputs still needed, each `wrt` tensor (cut out
 * of the graph) and `<of>_cotangent` per output; outputs are the original outputs plus `<wrt>_grad` per wrt tensor.
 * Only the paths from `wrt` to `of` are differentiated; weights never get gradients.
 */
export function vjpModel(model: ModelProto, spec: VjpSpec): ModelProto {
  const graph = new Graph(model);
  const shapes = inferShapes(graph);
  validate(graph, shapes, spec);
  const wrt = new Set(spec.wrt);

  // Forward sweep: which values depend differentiably on a wrt tensor.
  const active = new Set<string>(wrt);
  const activeNodes: NodeProto[] = [];
  for (const node of graph.nodes) {
    if ((node.output ?? []).some((o) => wrt.has(o))) continue; // cut: wrt values are inputs now
    const activeInputs = (node.input ?? []).filter((i) => active.has(i));
    if (activeInputs.length === 0 || NON_DIFFERENTIABLE.has(node.opType!)) continue;
    activeNodes.push(node);
    // Outputs of unknown type count as active, so that an op shape inference does not know still needs a rule.
    for (const o of node.output ?? []) {
      const type = shapes.get(o)?.type;
      if (o && (type === undefined || isFloatType(type))) active.add(o);
    }
  }
  // Backward sweep: keep the active nodes that lead to an `of`.
  const relevant = new Set<string>(spec.of.filter((o) => active.has(o)));
  let backwardNodes: NodeProto[] = [];
  for (let k = activeNodes.length - 1; k >= 0; k--) {
    const node = activeNodes[k]!;
    if (!(node.output ?? []).some((o) => relevant.has(o))) continue;
    backwardNodes.push(node);
    for (const i of node.input ?? []) if (active.has(i)) relevant.add(i);
  }
  if (spec.fuse ?? true) backwardNodes = fuse(graph, shapes, backwardNodes, active, new Set([...graph.outputNames(), ...spec.of, ...spec.wrt]));
  for (const of of spec.of) {
    if (!relevant.has(of)) fail(`--of ${of} is not reachable from --wrt ${spec.wrt.join(', ')} (no differentiable path)`);
  }
  const rules = ruleTable(spec.rules);
  for (const node of backwardNodes) {
    if (!rules[node.opType!]) {
      fail(`no gradient rule for op ${node.opType}${node.domain ? ` (domain ${node.domain})` : ''} at opset ${graph.opset}, node ${nodeLabel(node)}`);
    }
  }

  const used = new Set<string>();
  for (const n of graph.nodes) for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) used.add(v);
  for (const v of [...graph.inputNames(), ...graph.outputNames(), ...graph.initializers.keys()]) used.add(v);
  const b = new Builder(used, graph.opset);
  const copies = spec.copies ?? 1;
  if (!Number.isInteger(copies) || copies < 1) fail(`copies must be a positive integer, got ${copies}`);
  const cotangentInputs: string[] = [];
  const gradOutputs: string[] = [];
  for (let k = 0; k < copies; k++) {
    const suffix = copies === 1 ? undefined : k;
    const cots = spec.of.map((of) => b.claim(cotangentName(of, suffix)));
    const grads = spec.wrt.map((w) => b.claim(gradName(w, suffix)));
    backwardSweep(b, graph, shapes, spec, backwardNodes, relevant, active, cots, grads);
    cotangentInputs.push(...cots);
    gradOutputs.push(...grads);
  }
  return assemble(model, graph, shapes, spec, b, cotangentInputs, gradOutputs);
}

/** One reverse sweep from the given cotangent inputs to the given gradient outputs: accumulate, apply rules. */
function backwardSweep(b: Builder, graph: Graph, shapes: ShapeMap, spec: VjpSpec, backwardNodes: NodeProto[], relevant: Set<string>,
  active: Set<string>, cotangentInputs: string[], gradOutputs: string[]): void {
  const contributions = new Map<string, string[]>();
  const push = (name: string, grad: string) => {
    const list = contributions.get(name);
    if (list) list.push(grad);
    else contributions.set(name, [grad]);
  };
  spec.of.forEach((of, k) => push(of, cotangentInputs[k]!));
  const total = (name: string): string | null => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return null;
    const sum = list.length === 1 ? list[0]! : list.length === 2 ? b.op('Add', list) : b.op('Sum', list);
    contributions.set(name, [sum]);
    return sum;
  };

  for (const node of backwardNodes) {
    const outs = node.output ?? [];
    const cots = outs.map((o) => (o && relevant.has(o) ? total(o) : null));
    if (cots.every((c) => c === null)) continue;
    const rule = ruleTable(spec.rules)[node.opType!]!;
    const ctx = makeContext(node, b, graph, shapes, cots, active);
    const grads = rule.vjp(ctx);
    (node.input ?? []).forEach((input, i) => {
      if (!input || !relevant.has(input)) return;
      const differentiable = rule.diff === 'all' || rule.diff.includes(i);
      if (!differentiable) fail(`op ${node.opType} (opset ${graph.opset}, node ${nodeLabel(node)}) has no gradient with respect to its input ${i} (${input})`);
      const grad = grads[i];
      if (!grad) return;
      push(input, toInputShape(b, grad, input, shapes));
    });
  }

  spec.wrt.forEach((w, k) => {
    const g = total(w);
    if (g) b.node('Identity', [g], {}, 1, [gradOutputs[k]!]);
    else b.node('ConstantOfShape', [b.op('Shape', [w])], { value: makeTensor('', shapes.get(w)!.type!, [1], [0]) }, 1, [gradOutputs[k]!]);
  });
}

/** Replaces each fusable group in the (reverse-topological) backward list by its virtual node, at the place of the
 * group's last forward node. */
function fuse(graph: Graph, shapes: ShapeMap, backwardNodes: NodeProto[], active: Set<string>, keep: Set<string>): NodeProto[] {
  const fusions = findFusions(graph, shapes, backwardNodes, active, keep);
  if (fusions.length === 0) return backwardNodes;
  const groupOf = new Map<NodeProto, NodeProto>();
  for (const f of fusions) for (const m of f.members) groupOf.set(m, f.node);
  const emitted = new Set<NodeProto>();
  const out: NodeProto[] = [];
  for (const node of backwardNodes) {
    const virtual = groupOf.get(node);
    if (!virtual) out.push(node);
    else if (!emitted.has(virtual)) {
      emitted.add(virtual);
      out.push(virtual);
    }
  }
  return out;
}

function validate(graph: Graph, shapes: ShapeMap, spec: VjpSpec): void {
  if (spec.of.length === 0) fail('give at least one --of output');
  if (spec.wrt.length === 0) fail('give at least one --wrt tensor');
  for (const [flag, names] of [['--of', spec.of], ['--wrt', spec.wrt]] as const) {
    for (const name of names) if (!graph.hasValue(name)) fail(`${flag} ${name} is not a tensor of the graph (gradlens inspect --tensors lists them)`);
  }
  for (const name of spec.wrt) {
    const type = shapes.get(name)?.type;
    if (!isFloatType(type)) fail(`--wrt ${name} is not a float tensor (it is ${elemTypeName(type)})`);
    if (graph.initializers.has(name)) fail(`--wrt ${name} is a weight (initializer); gradlens computes input-path gradients only`);
  }
  for (const name of spec.of) {
    const type = shapes.get(name)?.type;
    if (type !== undefined && !isFloatType(type)) fail(`--of ${name} is not a float tensor (it is ${elemTypeName(type)})`);
  }
}

function toInputShape(b: Builder, grad: InputGrad & object | string, input: string, shapes: ShapeMap): string {
  if (typeof grad === 'string') return grad;
  return unbroadcast(b, grad.name, grad.shape, input, shapes.get(input)?.shape ?? null);
}

function makeContext(node: NodeProto, b: Builder, graph: Graph, shapes: ShapeMap, cots: (string | null)[], active: Set<string>): RuleContext {
  const inputs = node.input ?? [];
  let consumerMap: Map<string, NodeProto[]> | undefined;
  const consumers = () => (consumerMap ??= graph.consumers());
  const outputs = node.output ?? [];
  const ctx: RuleContext = {
    node,
    b,
    opset: graph.opset,
    x: (i) => inputs[i] ?? '',
    y: (i) => outputs[i] ?? '',
    g: (i) => cots[i] ?? null,
    gOrZeros: (i) => cots[i] ?? b.zerosLike(outputs[i]!, ctx.dtype(outputs[i]!)),
    needs: (i) => !!inputs[i] && active.has(inputs[i]!),
    isActive: (name) => active.has(name),
    producer: (name) => graph.producer.get(name),
    consumers: (name) => consumers().get(name) ?? [],
    shape: (name) => shapes.get(name)?.shape ?? null,
    rank: (name) => {
      const s = shapes.get(name)?.shape;
      if (!s) ctx.fail(`the rank of ${name} is unknown`);
      return s.length;
    },
    dtype: (name) => {
      const t = shapes.get(name)?.type;
      if (t === undefined) ctx.fail(`the element type of ${name} is unknown`);
      return t;
    },
    value: (name) => {
      const v = shapes.get(name)?.value;
      return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
    },
    scalar: (value, like) => b.scalar(ctx.dtype(like ?? inputs[0]!), value),
    broadcast: (name) => ({ name, shape: shapes.get(outputs[0]!)?.shape ?? null }),
    axes: () => nodeAxes(node, graph.opset, (n) => (n ? shapes.get(n) : undefined)),
    fail: (reason) => fail(`op ${node.opType} (opset ${graph.opset}, node ${nodeLabel(node)}): ${reason}`),
  };
  return ctx;
}

/** Forward nodes needed for the original outputs and the backward pass, then the backward nodes; inputs and outputs. */
function assemble(model: ModelProto, graph: Graph, shapes: ShapeMap, spec: VjpSpec, b: Builder, cotangents: string[], grads: string[]): ModelProto {
  const wrt = new Set(spec.wrt);
  const needed = new Set<string>([...graph.outputNames()]);
  for (const n of b.nodes) for (const i of n.input ?? []) if (i) needed.add(i);
  // Walk producers backwards, treating wrt tensors as inputs.
  const keep = new Set<NodeProto>();
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const node = graph.nodes[k]!;
    const outs = (node.output ?? []).filter((o) => o && !wrt.has(o));
    if (!outs.some((o) => needed.has(o))) continue;
    keep.add(node);
    for (const i of node.input ?? []) if (i) needed.add(i);
  }
  const forward = graph.nodes.filter((n) => keep.has(n)).map((n) => {
    if (!(n.output ?? []).some((o) => wrt.has(o))) return n;
    // A kept producer of a wrt tensor (for its other outputs): drop the wrt output, which is a graph input now.
    return onnx.NodeProto.create({ ...n, output: (n.output ?? []).map((o) => (wrt.has(o) ? b.fresh('unused') : o)) });
  });

  const proto = graph.proto;
  const origInputs = proto.input.filter((v) => needed.has(v.name!) && !wrt.has(v.name!) && !graph.initializers.has(v.name!));
  const wrtInputs = spec.wrt.map((w) => proto.input.find((v) => v.name === w) ?? makeValueInfo(w, shapes.get(w)!.type!, shapes.get(w)?.shape ?? null));
  const cotInputs = cotangents.map((name, k) => {
    const of = spec.of[k % spec.of.length]!;
    return makeValueInfo(name, shapes.get(of)?.type ?? 1, shapes.get(of)?.shape ?? null);
  });
  const gradOuts = grads.map((name, k) => {
    const w = spec.wrt[k % spec.wrt.length]!;
    return makeValueInfo(name, shapes.get(w)!.type!, shapes.get(w)?.shape ?? null);
  });
  const initializers = proto.initializer.filter((t) => needed.has(t.name!));

  const newGraph = onnx.GraphProto.create({
    ...proto,
    node: [...forward, ...b.nodes],
    initializer: [...initializers, ...b.initializers],
    input: [...origInputs, ...wrtInputs, ...cotInputs],
    output: [...proto.output, ...gradOuts],
    valueInfo: proto.valueInfo.filter((v) => !wrt.has(v.name!)),
  });
  return onnx.ModelProto.create({ ...model, graph: newGraph });
}
