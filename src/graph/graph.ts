import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { opsetVersion } from '../onnx/model.js';
import { fail } from '../errors.js';

/**
 * A mutable view of an ONNX model's main graph: nodes in topological order, who produces and who consumes each
 * value, initializers by name. Nodes and initializers are the model's own protobuf objects, so whatever the
 * engine does not touch is written back unchanged.
 */
export class Graph {
  readonly model: ModelProto;
  readonly proto: onnx.GraphProto;
  readonly opset: number;
  nodes: NodeProto[];
  readonly initializers = new Map<string, TensorProto>();
  readonly producer = new Map<string, NodeProto>();

  constructor(model: ModelProto) {
    this.model = model;
    this.proto = model.graph as onnx.GraphProto;
    const opset = opsetVersion(model);
    if (opset === undefined) fail('the model does not import the default ONNX opset');
    this.opset = opset;
    for (const t of this.proto.initializer) this.initializers.set(t.name!, t as TensorProto);
    this.nodes = topologicalOrder(this.proto.node as NodeProto[], new Set([...this.inputNames(), ...this.initializers.keys()]));
    for (const n of this.nodes) for (const o of n.output ?? []) if (o) this.producer.set(o, n);
  }

  /** Graph inputs that are not initializers. */
  inputNames(): string[] {
    const inits = new Set(this.proto.initializer.map((t) => t.name));
    return this.proto.input.map((v) => v.name!).filter((n) => !inits.has(n));
  }

  outputNames(): string[] {
    return this.proto.output.map((v) => v.name!);
  }

  /** Every value name that exists in the graph: inputs, initializers and node outputs. */
  hasValue(name: string): boolean {
    return this.producer.has(name) || this.initializers.has(name) || this.inputNames().includes(name);
  }

  consumers(): Map<string, NodeProto[]> {
    const map = new Map<string, NodeProto[]>();
    for (const n of this.nodes) {
      for (const i of n.input ?? []) {
        if (!i) continue;
        let list = map.get(i);
        if (!list) map.set(i, (list = []));
        list.push(n);
      }
    }
    return map;
  }
}

/** Kahn's algorithm; node order among independent nodes is kept as in the file. Subgraph-owning ops count as opaque. */
export function topologicalOrder(nodes: NodeProto[], available: Set<string>): NodeProto[] {
  const ready = new Set(available);
  ready.add('');
  const pending = new Map<string, NodeProto[]>();
  const missing = new Map<NodeProto, number>();
  const order: NodeProto[] = [];
  const queue: NodeProto[] = [];
  for (const n of nodes) {
    const need = new Set((n.input ?? []).filter((i) => i && !ready.has(i)));
    missing.set(n, need.size);
    if (need.size === 0) queue.push(n);
    for (const i of need) {
      let list = pending.get(i);
      if (!list) pending.set(i, (list = []));
      list.push(n);
    }
  }
  // Process in file order where possible: a simple queue keeps exporters' ordering.
  for (let k = 0; k < queue.length; k++) {
    const n = queue[k]!;
    order.push(n);
    for (const o of n.output ?? []) {
      if (!o || ready.has(o)) continue;
      ready.add(o);
      for (const c of pending.get(o) ?? []) {
        const left = missing.get(c)! - 1;
        missing.set(c, left);
        if (left === 0) queue.push(c);
      }
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((n) => !order.includes(n))!;
    const need = (stuck.input ?? []).filter((i) => i && !ready.has(i));
    fail(`graph is not a DAG or has undefined inputs: node ${stuck.name || stuck.opType} needs ${need.join(', ')}`);
  }
  return order;
}
