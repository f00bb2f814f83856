import { onnx, type NodeProto } from '../onnx/proto.js';
import { attrInt, makeAttr } from '../onnx/attributes.js';
import { attrTensor } from '../onnx/attributes.js';
import { tensorValues } from '../onnx/tensor.js';
import type { Graph } from '../graph/graph.js';
import { nodeAxes, type ShapeMap } from '../graph/shapes.js';

/**
 * Exporters decompose LayerNorm (before opset 17), erf-GELU and SiLU (x · sigmoid(x)) into primitive ops. Differentiating such a group as
 * one op takes far fewer backward ops than the chain rule through each primitive, and leaves the forward
 * intermediates unused by the backward pass, so ONNX Runtime can fuse the forward back into one kernel.
 * A group is fused only when its intermediates feed nothing outside it.
 */
/** Ops that exist only as fused groups (no ONNX op of that name): their rules are tested through the groups. */
export const VIRTUAL_OPS: ReadonlySet<string> = new Set(['Silu']);

export interface Fusion {
  /** A virtual node (not in the graph) standing for the group in the backward pass. */
  node: NodeProto;
  members: Set<NodeProto>;
}

interface Ctx {
  graph: Graph;
  shapes: ShapeMap;
  consumers: Map<string, NodeProto[]>;
  /** Values that must stay observable: graph outputs, `of`, `wrt`. */
  keep: Set<string>;
  active: Set<string>;
}

export function findFusions(graph: Graph, shapes: ShapeMap, candidates: readonly NodeProto[], active: Set<string>, keep: Set<string>): Fusion[] {
  const ctx: Ctx = { graph, shapes, consumers: graph.consumers(), keep, active };
  const inGroup = new Set<NodeProto>();
  const fusions: Fusion[] = [];
  const pool = new Set(candidates);
  for (const node of candidates) {
    const f = node.opType === 'ReduceMean' ? layerNorm(ctx, node) : node.opType === 'Erf' ? gelu(ctx, node) : node.opType === 'Sigmoid' ? silu(ctx, node) : undefined;
    if (!f || [...f.members].some((m) => inGroup.has(m) || !pool.has(m))) continue;
    f.members.forEach((m) => inGroup.add(m));
    fusions.push(f);
  }
  return fusions;
}

const out = (n: NodeProto): string => n.output![0]!;
const only = (ctx: Ctx, value: string): NodeProto | undefined => {
  const c = ctx.consumers.get(value) ?? [];
  return c.length === 1 && !ctx.keep.has(value) ? c[0] : undefined;
};
const other = (n: NodeProto, value: string): string | undefined => {
  const ins = n.input ?? [];
  return ins.length === 2 ? (ins[0] === value ? ins[1] : ins[1] === value ? ins[0] : undefined) : undefined;
};

/** A scalar float constant (initializer or Constant node). */
function constant(ctx: Ctx, name: string | undefined): number | undefined {
  if (!name) return undefined;
  const t = ctx.graph.initializers.get(name) ?? (ctx.graph.producer.get(name)?.opType === 'Constant' ? attrTensor(ctx.graph.producer.get(name)!, 'value') : undefined);
  if (!t) return undefined;
  const v = tensorValues(t);
  return v.length === 1 ? v[0] : undefined;
}

const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-4 * Math.max(1, Math.abs(b));

/** mean over the last axis, as attribute or input, keepdims. */
function lastAxisMean(ctx: Ctx, n: NodeProto): boolean {
  const axes = nodeAxes(n, ctx.graph.opset, (v) => (v ? ctx.shapes.get(v) : undefined));
  const rank = ctx.shapes.get(n.input![0]!)?.shape?.length;
  return attrInt(n, 'keepdims', 1) === 1 && !!axes && axes.length === 1 && rank !== undefined && (axes[0] === -1 || axes[0] === rank - 1);
}

/** y = (x − mean(x)) / √(mean((x − mean(x))²) + ε) · γ + β, as torch exports nn.LayerNorm before opset 17. */
function layerNorm(ctx: Ctx, rm1: NodeProto): Fusion | undefined {
  const x = rm1.input![0]!;
  if (!lastAxisMean(ctx, rm1)) return undefined;
  const sub = only(ctx, out(rm1));
  if (sub?.opType !== 'Sub' || sub.input![0] !== x || sub.input![1] !== out(rm1) || ctx.keep.has(out(sub))) return undefined;
  const uses = ctx.consumers.get(out(sub)) ?? [];
  const pow = uses.find((n) => n.opType === 'Pow');
  const div = uses.find((n) => n.opType === 'Div');
  if (uses.length !== 2 || !pow || !div || pow.input![0] !== out(sub) || !near(constant(ctx, pow.input![1]), 2) || div.input![0] !== out(sub)) return undefined;
  const rm2 = only(ctx, out(pow));
  if (rm2?.opType !== 'ReduceMean' || !lastAxisMean(ctx, rm2)) return undefined;
  const addEps = only(ctx, out(rm2));
  const eps = addEps?.opType === 'Add' ? constant(ctx, other(addEps, out(rm2))) : undefined;
  if (!addEps || eps === undefined) return undefined;
  const sqrt = only(ctx, out(addEps));
  if (sqrt?.opType !== 'Sqrt' || only(ctx, out(sqrt)) !== div || div.input![1] !== out(sqrt)) return undefined;
  const mul = only(ctx, out(div));
  const gamma = mul?.opType === 'Mul' ? other(mul, out(div)) : undefined;
  if (!mul || !gamma || ctx.active.has(gamma)) return undefined;
  const add = only(ctx, out(mul));
  const beta = add?.opType === 'Add' ? other(add, out(mul)) : undefined;
  if (!add || !beta || ctx.active.has(beta)) return undefined;
  const node = onnx.NodeProto.create({
    opType: 'LayerNormalization', name: `${add.name || out(add)} (fused LayerNorm)`, input: [x, gamma, beta], output: [out(add)],
    attribute: [makeAttr('axis', -1), makeAttr('epsilon', eps, true)],
  });
  return { node, members: new Set([rm1, sub, pow, rm2, addEps, sqrt, div, mul, add]) };
}

/** y = x · sigmoid(x) (SiLU / swish, as torch exports nn.SiLU): one nonlinearity, not a product of two activations. */
function silu(ctx: Ctx, sig: NodeProto): Fusion | undefined {
  const x = sig.input![0]!;
  const m = only(ctx, out(sig));
  if (m?.opType !== 'Mul' || other(m, out(sig)) !== x) return undefined;
  const node = onnx.NodeProto.create({ opType: 'Silu', name: `${out(m)} (fused SiLU)`, input: [x], output: [out(m)] });
  return { node, members: new Set([sig, m]) };
}

/** y = x · ½(1 + erf(x/√2)) in either of the orders exporters write it. */
function gelu(ctx: Ctx, erf: NodeProto): Fusion | undefined {
  const t = erf.input![0]!;
  const scale = ctx.graph.producer.get(t);
  if (!scale || only(ctx, t) !== erf) return undefined;
  let x: string | undefined;
  if (scale.opType === 'Div' && near(constant(ctx, scale.input![1]), Math.SQRT2)) x = scale.input![0];
  else if (scale.opType === 'Mul') {
    const [a, b] = scale.input!;
    x = near(constant(ctx, b), Math.SQRT1_2) ? a : near(constant(ctx, a), Math.SQRT1_2) ? b : undefined;
  }
  if (!x) return undefined;
  const add = only(ctx, out(erf));
  if (add?.opType !== 'Add' || !near(constant(ctx, other(add, out(erf))), 1)) return undefined;
  const m = only(ctx, out(add));
  if (m?.opType !== 'Mul') return undefined;
  const o = other(m, out(add));
  const members = [scale, erf, add, m];
  let y: string;
  const half = o ? ctx.graph.producer.get(o) : undefined;
  if (half?.opType === 'Mul' && only(ctx, o!) === m && ((half.input![0] === x && near(constant(ctx, half.input![1]), 0.5)) || (half.input![1] === x && near(constant(ctx, half.input![0]), 0.5)))) {
    members.push(half); // (x · ½) · (1 + erf)
    y = out(m);
  } else if (o === x) {
    const m2 = only(ctx, out(m)); // (x · (1 + erf)) · ½
    if (m2?.opType !== 'Mul' || !near(constant(ctx, other(m2, out(m))), 0.5)) return undefined;
    members.push(m2);
    y = out(m2);
  } else return undefined;
  const node = onnx.NodeProto.create({ opType: 'Gelu', name: `${y} (fused GELU)`, input: [x], output: [y] });
  return { node, members: new Set(members) };
}
