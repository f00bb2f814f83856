import type { NodeProto, TensorProto } from '../onnx/proto.js';
import { onnx } from '../onnx/proto.js';
import { attrInt, attrInts, attrString, attrTensor } from '../onnx/attributes.js';
import { DT, tensorDims, tensorValues } from '../onnx/tensor.js';
import { type Dim, type Shape, broadcastShapes, declaredDims, dimOp, inferMissingDim, normalizeAxis } from './dims.js';
import type { Graph } from './graph.js';
import { einsumShape, parseEinsum } from './einsum.js';

/** What is known statically about a value: element type, shape, and for small integer tensors, their contents. */
export interface ValueInfo {
  type?: number;
  shape: Shape | null;
  /** Contents of a small 0-D/1-D integer tensor (shape computations), possibly symbolic. */
  value?: Dim[];
}

export type ShapeMap = Map<string, ValueInfo>;

const MAX_TRACKED_VALUES = 64;

/** Infers element types, symbolic shapes and small integer contents for every value of the graph. */
export function inferShapes(graph: Graph): ShapeMap {
  const info: ShapeMap = new Map();
  const declared = [...graph.proto.input, ...graph.proto.valueInfo, ...graph.proto.output];
  for (const v of declared) {
    const t = v.type?.tensorType;
    if (!v.name || !t) continue;
    const shape = t.shape ? declaredDims(t.shape.dim ?? []) : null;
    info.set(v.name, { type: t.elemType ?? undefined, shape });
  }
  for (const [name, t] of graph.initializers) info.set(name, fromTensor(t));
  for (const node of graph.nodes) {
    let outs: ValueInfo[];
    try {
      outs = inferNode(node, (n) => (n ? info.get(n) : undefined), graph.opset);
    } catch {
      outs = [];
    }
    (node.output ?? []).forEach((o, k) => {
      if (!o) return;
      const inferred = outs[k];
      const prior = info.get(o);
      // Keep the declared value_info where inference knows less.
      if (inferred && (!prior || knowsMore(inferred, prior))) info.set(o, { ...inferred, type: inferred.type ?? prior?.type });
      else if (!prior) info.set(o, { shape: null });
    });
  }
  return info;
}

function knowsMore(a: ValueInfo, b: ValueInfo): boolean {
  if (!b.shape) return true;
  if (!a.shape) return false;
  const known = (s: Shape) => s.filter((d) => d !== null).length;
  return known(a.shape) >= known(b.shape) || a.value !== undefined;
}

function fromTensor(t: TensorProto): ValueInfo {
  const dims = tensorDims(t);
  const type = t.dataType ?? DT.FLOAT;
  const out: ValueInfo = { type, shape: dims };
  const count = dims.reduce((a, b) => a * b, 1);
  if ((type === DT.INT64 || type === DT.INT32) && dims.length <= 1 && count <= MAX_TRACKED_VALUES) out.value = tensorValues(t);
  return out;
}

type Lookup = (name: string | undefined) => ValueInfo | undefined;

const UNARY_SAME = new Set([
  'Identity', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Gelu', 'Softmax',
  'LogSoftmax', 'Clip', 'Not', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Sign', 'Softplus', 'LeakyRelu', 'Elu',
  'HardSigmoid', 'Selu', 'Celu', 'CumSum', 'Trilu', 'FastGelu', 'QuickGelu', 'HardSwish', 'Mish',
]);
const BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Min', 'Max', 'Sum', 'Mean', 'Mod', 'Equal', 'Less', 'Greater',
  'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'BitShift', 'PRelu']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const REDUCE = new Set(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2',
  'ReduceLogSumExp', 'ReduceSumSquare', 'ReduceLogSum', 'ArgMax', 'ArgMin']);

/** Inputs (not attributes) carry the axes of these ops from the given opset on. */
export const AXES_AS_INPUT_SINCE: Record<string, number> = {
  ReduceSum: 13, Squeeze: 13, Unsqueeze: 13, ReduceMean: 18, ReduceMax: 18, ReduceMin: 18, ReduceProd: 18, ReduceL1: 18,
  ReduceL2: 18, ReduceLogSumExp: 18, ReduceSumSquare: 18, ReduceLogSum: 18,
};

/** The axes of a reduce/squeeze node, from its attribute or (newer opsets) its second input; undefined = all / not constant. */
export function nodeAxes(node: NodeProto, opset: number, get: Lookup): number[] | undefined {
  if (opset >= (AXES_AS_INPUT_SINCE[node.opType!] ?? Infinity)) {
    const v = get(node.input?.[1])?.value;
    return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
  }
  return attrInts(node, 'axes');
}

function inferNode(node: NodeProto, get: Lookup, opset: number): ValueInfo[] {
  const op = node.opType!;
  const inputs = node.input ?? [];
  const x = get(inputs[0]);
  const xs = x?.shape ?? null;
  const type = x?.type;
  const same = (): ValueInfo[] => [{ type: BOOL_OUT.has(op) ? DT.BOOL : type, shape: xs, value: op === 'Identity' ? x?.value : undefined }];

  if (op === 'Constant') {
    const t = attrTensor(node, 'value');
    if (t) return [fromTensor(t)];
    const ints = attrInts(node, 'value_ints');
    if (ints) return [{ type: DT.INT64, shape: [ints.length], value: ints }];
    const i = attrInt(node, 'value_int');
    if (i !== undefined) return [{ type: DT.INT64, shape: [], value: [i] }];
    return [{ shape: null }];
  }
  if (op === 'Cast') {
    const to = attrInt(node, 'to', DT.FLOAT);
    return [{ type: to, shape: xs, value: to === DT.INT64 || to === DT.INT32 ? x?.value : undefined }];
  }
  if (op === 'Dropout') return [{ type, shape: xs }, { type: DT.BOOL, shape: xs }];
  if (op === 'LayerNormalization') {
    const axis = xs ? normalizeAxis(attrInt(node, 'axis', -1), xs.length) : 0;
    const stat = xs ? xs.map((d, i) => (i < axis ? d : 1)) : null;
    return [{ type, shape: xs }, { type: DT.FLOAT, shape: stat }, { type: DT.FLOAT, shape: stat }];
  }
  // Normalisations and activations that keep the shape of input 0 (BatchNormalization's statistics outputs: shape [C]).
  if (op === 'BatchNormalization') {
    const stat = { type: get(inputs[3])?.type, shape: get(inputs[3])?.shape ?? null };
    return [{ type, shape: xs }, stat, stat, stat, stat];
  }
  // (PRelu broadcasts its slope unidirectionally: the output has x's shape.)
  if (['InstanceNormalization', 'GroupNormalization', 'LpNormalization', 'Softsign', 'ThresholdedRelu', 'PRelu'].includes(op)) return same();
  if (UNARY_SAME.has(op) || op === 'IsNaN' || op === 'IsInf') return same();
  if (BROADCAST.has(op) || op === 'Where') {
    const shapes = inputs.map((i) => get(i)?.shape ?? null);
    const shape = shapes.every((s) => s) ? (shapes as Shape[]).reduce(broadcastShapes) : null;
    const outType = op === 'Where' ? get(inputs[1])?.type : BOOL_OUT.has(op) ? DT.BOOL : type;
    return [{ type: outType, shape, value: arithmeticValue(op, inputs.map((i) => get(i))) }];
  }
  if (op === 'MatMul') return [{ type, shape: matmulShape(xs, get(inputs[1])?.shape ?? null) }];
  if (op === 'Gemm') {
    const b = get(inputs[1])?.shape;
    if (!xs || !b) return [{ type, shape: null }];
    const m = attrInt(node, 'transA', 0) ? xs[1]! : xs[0]!;
    const n = attrInt(node, 'transB', 0) ? b[0]! : b[1]!;
    return [{ type, shape: [m, n] }];
  }
  if (REDUCE.has(op)) {
    const outType = op.startsWith('Arg') ? DT.INT64 : type;
    if (!xs) return [{ type: outType, shape: null }];
    const keep = attrInt(node, 'keepdims', 1) === 1;
    let axes: number[] | undefined;
    if (op.startsWith('Arg')) axes = [attrInt(node, 'axis', 0)];
    else axes = nodeAxes(node, opset, get);
    const hasAxesInput = opset >= (AXES_AS_INPUT_SINCE[op] ?? Infinity) && !!inputs[1];
    if (axes === undefined && hasAxesInput) return [{ type: outType, shape: keep ? xs.map(() => null) : null }];
    if (axes === undefined || axes.length === 0) {
      if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return [{ type: outType, shape: xs }];
      axes = xs.map((_, i) => i);
    }
    const set = new Set(axes.map((a) => normalizeAxis(a, xs.length)));
    const shape = keep ? xs.map((d, i) => (set.has(i) ? 1 : d)) : xs.filter((_, i) => !set.has(i));
    return [{ type: outType, shape }];
  }
  if (op === 'Transpose') {
    if (!xs) return [{ type, shape: null }];
    const perm = attrInts(node, 'perm') ?? xs.map((_, i) => xs.length - 1 - i);
    return [{ type, shape: perm.map((p) => xs[p]!) }];
  }
  if (op === 'Shape') {
    if (!xs) return [{ type: DT.INT64, shape: [null] }];
    const start = normalizeAxis(attrInt(node, 'start', 0), xs.length);
    const endAttr = attrInt(node, 'end');
    const end = endAttr === undefined ? xs.length : normalizeAxis(endAttr, xs.length);
    const value = xs.slice(Math.max(0, start), Math.min(xs.length, end));
    return [{ type: DT.INT64, shape: [value.length], value }];
  }
  if (op === 'Size') return [{ type: DT.INT64, shape: [], value: xs ? [xs.reduce<Dim>((a, b) => dimOp('*', a, b), 1)] : undefined }];
  if (op === 'Reshape') {
    const target = get(inputs[1]);
    const allowzero = attrInt(node, 'allowzero', 0) === 1;
    if (!target?.value) {
      const len = target?.shape?.[0];
      return [{ type, shape: typeof len === 'number' ? Array<Dim>(len).fill(null) : null }];
    }
    const dims = target.value.map((d, i) => (d === 0 && !allowzero ? xs?.[i] ?? null : d));
    const minus = dims.indexOf(-1);
    if (minus >= 0) dims[minus] = xs ? inferMissingDim(xs, dims.filter((_, i) => i !== minus)) : null;
    return [{ type, shape: dims, value: x?.value && dims.length <= 1 ? x.value : undefined }];
  }
  if (op === 'Flatten') {
    if (!xs) return [{ type, shape: null }];
    const axis = normalizeAxis(attrInt(node, 'axis', 1), xs.length);
    const prod = (ds: Dim[]) => ds.reduce<Dim>((a, b) => dimOp('*', a, b), 1);
    return [{ type, shape: [prod(xs.slice(0, axis)), prod(xs.slice(axis))] }];
  }
  if (op === 'Squeeze') {
    if (!xs) return [{ type, shape: null }];
    const axes = nodeAxes(node, opset, get);
    // Without axes, every size-1 dim goes: the rank is unknown unless every dim is.
    const axesInput = opset >= 13 && !!inputs[1];
    if (!axes && (axesInput || !xs.every((d) => typeof d === 'number'))) return [{ type, shape: null }];
    const set = new Set((axes ?? xs.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normalizeAxis(a, xs.length)));
    return [{ type, shape: xs.filter((_, i) => !set.has(i)), value: x?.value }];
  }
  if (op === 'Unsqueeze') {
    const axes = nodeAxes(node, opset, get);
    if (!xs || !axes) return [{ type, shape: null }];
    const rank = xs.length + axes.length;
    const set = new Set(axes.map((a) => normalizeAxis(a, rank)));
    const shape: Shape = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : xs[k++]!);
    return [{ type, shape, value: x?.value }];
  }
  if (op === 'Concat') {
    const parts = inputs.map((i) => get(i));
    const shapes = parts.map((p) => p?.shape ?? null);
    const first = shapes.find((s) => s);
    if (!first) return [{ type, shape: null }];
    const axis = normalizeAxis(attrInt(node, 'axis', 0), first.length);
    const shape = first.map((d, i) => (i === axis ? shapes.reduce<Dim>((acc, s) => dimOp('+', acc, s ? s[i]! : null), 0) : d));
    const values = parts.every((p) => p?.value) ? parts.flatMap((p) => p!.value!) : undefined;
    return [{ type, shape, value: values && values.length <= MAX_TRACKED_VALUES ? values : undefined }];
  }
  if (op === 'Split') return splitShapes(node, get, opset).map((shape) => ({ type, shape }));
  if (op === 'Slice') return [sliceInfo(node, get, opset)];
  if (op === 'Gather') {
    const idx = get(inputs[1]);
    if (!xs || !idx?.shape) return [{ type, shape: null }];
    const axis = normalizeAxis(attrInt(node, 'axis', 0), xs.length);
    const shape = [...xs.slice(0, axis), ...idx.shape, ...xs.slice(axis + 1)];
    let value: Dim[] | undefined;
    if (x?.value && idx.value && xs.length === 1) {
      value = idx.value.map((i) => (typeof i === 'number' ? x.value![i < 0 ? i + x.value!.length : i] ?? null : null));
    }
    return [{ type, shape, value }];
  }
  if (op === 'GatherElements') return [{ type, shape: get(inputs[1])?.shape ?? null }];
  if (op === 'Expand') {
    const target = get(inputs[1])?.value;
    if (xs && target) return [{ type, shape: broadcastShapes(xs, target.map((d) => (d === -1 ? null : d))) }];
    // Contents unknown but length known: the rank is known, and x's known dims other than 1 survive the
    // broadcast (a symbolic dim might be 1 at run time, so it is not kept).
    const len = get(inputs[1])?.shape?.[0];
    if (!xs || typeof len !== 'number') return [{ type, shape: null }];
    const rank = Math.max(len, xs.length);
    return [{ type, shape: Array.from({ length: rank }, (_, i) => {
      const xd = xs[xs.length - rank + i];
      return typeof xd === 'number' && xd !== 1 ? xd : null;
    }) }];
  }
  if (op === 'Tile') {
    const reps = get(inputs[1])?.value;
    return [{ type, shape: xs && reps ? xs.map((d, i) => dimOp('*', d, reps[i] ?? null)) : null }];
  }
  if (op === 'Pad') {
    const pads = opset >= 11 ? get(inputs[1])?.value : attrInts(node, 'pads');
    if (!xs) return [{ type, shape: null }];
    if (!pads) return [{ type, shape: xs.map(() => null) }];
    const r = xs.length;
    return [{ type, shape: xs.map((d, i) => dimOp('+', dimOp('+', d, pads[i] ?? null), pads[i + r] ?? null)) }];
  }
  if (op === 'ConstantOfShape') {
    const v = get(inputs[0])?.value;
    const t = attrTensor(node, 'value');
    const outType = t?.dataType ?? DT.FLOAT;
    const len = xs?.[0];
    const shape = v ?? (typeof len === 'number' ? Array<Dim>(len).fill(null) : null);
    const fill = t ? tensorValues(t)[0] : 0;
    const value = v && v.length <= 1 && typeof v[0] === 'number' && v[0] <= MAX_TRACKED_VALUES && (outType === DT.INT64 || outType === DT.INT32)
      ? Array<Dim>(v.length ? (v[0] as number) : 1).fill(fill ?? 0) : undefined;
    return [{ type: outType, shape, value }];
  }
  if (op === 'Range') {
    const [s, l, d] = inputs.map((i) => get(i)?.value?.[0]);
    const n = typeof s === 'number' && typeof l === 'number' && typeof d === 'number' ? Math.max(0, Math.ceil((l - s) / d)) : null;
    return [{ type, shape: [n] }];
  }
  if (op === 'NonZero') return [{ type: DT.INT64, shape: xs ? [xs.length, null] : null }];
  if (op === 'Einsum') {
    const equation = attrString(node, 'equation');
    const shape = equation ? einsumShape(parseEinsum(equation), inputs.map((i) => get(i)?.shape ?? null)) : null;
    return [{ type: get(inputs[0])?.type, shape }];
  }
  if (op === 'Resize' || op === 'Upsample') return [{ type, shape: resizeShape(node, get, opset) }];
  if (op === 'DepthToSpace' || op === 'SpaceToDepth') {
    const bs = attrInt(node, 'blocksize', 1);
    if (!xs || xs.length !== 4) return [{ type, shape: null }];
    const [n, ch, h, w] = xs as [Dim, Dim, Dim, Dim];
    const up = op === 'DepthToSpace';
    const area = (d: Dim) => (up ? dimOp('*', d, bs) : typeof d === 'number' ? dimOp('/', d, bs) : null);
    return [{ type, shape: [n, up ? (typeof ch === 'number' ? dimOp('/', ch, bs * bs) : null) : dimOp('*', ch, bs * bs), area(h), area(w)] }];
  }
  if (op === 'Conv' || op === 'ConvTranspose' || WINDOW_POOLS.has(op) || GLOBAL_POOLS.has(op)) return windowShapes(node, get);
  return [];
}

function matmulShape(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b) return null;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  const out: Shape = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function arithmeticValue(op: string, parts: (ValueInfo | undefined)[]): Dim[] | undefined {
  const sym = { Add: '+', Sub: '-', Mul: '*', Div: '/' } as const;
  if (!(op in sym) || !parts[0]?.value || !parts[1]?.value) return undefined;
  const [a, b] = [parts[0].value, parts[1].value];
  const n = Math.max(a.length, b.length);
  if ((a.length !== n && a.length !== 1) || (b.length !== n && b.length !== 1)) return undefined;
  return Array.from({ length: n }, (_, i) => dimOp(sym[op as keyof typeof sym], a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!));
}

function splitShapes(node: NodeProto, get: Lookup, opset: number): (Shape | null)[] {
  const outs = (node.output ?? []).length;
  const xs = get(node.input?.[0])?.shape;
  if (!xs) return Array(outs).fill(null);
  const axis = normalizeAxis(attrInt(node, 'axis', 0), xs.length);
  const given = opset >= 13 ? get(node.input?.[1])?.value : attrInts(node, 'split');
  let sizes: Dim[];
  if (given) sizes = given;
  else if (typeof xs[axis] === 'number') {
    const total = xs[axis] as number;
    const n = opset >= 18 ? attrInt(node, 'num_outputs', outs) : outs;
    const chunk = Math.ceil(total / n);
    sizes = Array.from({ length: outs }, (_, i) => Math.max(0, Math.min(chunk, total - i * chunk)));
  } else sizes = Array(outs).fill(null);
  return sizes.map((s) => xs.map((d, i) => (i === axis ? s : d)));
}

function sliceInfo(node: NodeProto, get: Lookup, opset: number): ValueInfo {
  const x = get(node.input?.[0]);
  const xs = x?.shape;
  if (!xs) return { type: x?.type, shape: null };
  const ints = (k: number, attr: string): Dim[] | undefined => (opset >= 10 ? get(node.input?.[k])?.value : attrInts(node, attr));
  const starts = ints(1, 'starts');
  const ends = ints(2, 'ends');
  const axesIn = node.input?.[3] || opset < 10 ? ints(3, 'axes') : undefined;
  const steps = node.input?.[4] ? get(node.input[4])?.value : undefined;
  if (!starts || !ends || (node.input?.[3] && !axesIn) || (node.input?.[4] && !steps)) return { type: x?.type, shape: xs.map(() => null) };
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => normalizeAxis(a as number, xs.length));
  const shape = [...xs];
  let value = x?.value ? [...x.value] : undefined;
  axes.forEach((axis, k) => {
    const dim = xs[axis]!;
    const s = starts[k]!, e = ends[k]!, st = (steps?.[k] ?? 1) as number;
    if (typeof dim !== 'number' || typeof s !== 'number' || typeof e !== 'number' || typeof st !== 'number') {
      // Whole-axis slices of an unknown dim keep it.
      shape[axis] = s === 0 && st === 1 && typeof e === 'number' && e >= 2 ** 31 - 1 ? dim : null;
      if (value && axis === 0 && typeof s === 'number' && typeof e === 'number' && st === 1) value = value.slice(s, e);
      else value = undefined;
      return;
    }
    const range = sliceRange(dim, s, e, st);
    shape[axis] = range.length;
    if (value && axis === 0) value = range.map((i) => value![i]!);
  });
  return { type: x?.type, shape, value };
}

/**
 * Resize/Upsample output shape: the sizes input where it is constant (placed on `axes` from opset 18), else the
 * rank, with the axes outside `axes` unchanged (float scales are not tracked).
 */
function resizeShape(node: NodeProto, get: Lookup, opset: number): Shape | null {
  const xs = get(node.input?.[0])?.shape;
  if (!xs) return null;
  const axes = node.opType === 'Resize' && opset >= 18 ? attrInts(node, 'axes')?.map((a) => normalizeAxis(a, xs.length)) : undefined;
  const stretch = (attrString(node, 'keep_aspect_ratio_policy') ?? 'stretch') === 'stretch';
  const sizes = node.opType === 'Resize' && opset >= 11 && node.input?.[3] ? get(node.input[3])?.value : undefined;
  const shape = xs.map((d, i) => (axes && !axes.includes(i) ? d : null));
  if (sizes && stretch) (axes ?? xs.map((_, i) => i)).forEach((a, k) => { shape[a] = sizes[k] ?? null; });
  return shape;
}

/** The indices a Slice selects along one axis of length `dim` (ONNX clamping rules). */
export function sliceRange(dim: number, start: number, end: number, step: number): number[] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

export const elemTypeName = (t: number | undefined): string => (t === undefined ? 'unknown' : onnx.TensorProto.DataType[t] ?? String(t));

// ---- sliding-window ops: Conv, ConvTranspose, pools ----

const WINDOW_POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);

/** The attributes of a sliding-window op (Conv, ConvTranspose, MaxPool, AveragePool, LpPool), defaults filled in. */
export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Explicit pads [begin…, end…] (used with auto_pad NOTSET). */
  pads: number[];
  autoPad: 'NOTSET' | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
  /** Pools: ceil_mode. */
  ceil: boolean;
}

export function windowAttrs(node: NodeProto, kernel: number[]): WindowAttrs {
  const r = kernel.length;
  const list = (name: string, fallback: number[]) => {
    const v = attrInts(node, name);
    return v && v.length ? v : fallback;
  };
  const autoPad = attrString(node, 'auto_pad') || 'NOTSET';
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) throw new Error(`unknown auto_pad ${autoPad}`);
  return {
    kernel,
    strides: list('strides', Array(r).fill(1)),
    dilations: list('dilations', Array(r).fill(1)),
    pads: list('pads', Array(2 * r).fill(0)),
    autoPad: autoPad as WindowAttrs['autoPad'],
    ceil: attrInt(node, 'ceil_mode', 0) === 1,
  };
}

/** The pads `need` of auto_pad SAME split as ONNX Runtime does: SAME_UPPER puts the odd one at the end. */
const sameSplit = (need: number, lower: boolean): [number, number] => {
  const pb = lower ? Math.trunc((need + 1) / 2) : Math.trunc(need / 2);
  return [pb, need - pb];
};

/**
 * One spatial axis (i) of a Conv or pool over an input of size D: the pads ONNX Runtime applies and the output size.
 * auto_pad SAME pads for the undilated kernel (ONNX Runtime's pools; its Conv allows SAME with dilation 1 only);
 * ceil_mode rounds the window count up, dropping a last window that would start past the input and the begin padding.
 */
export function windowAxis(a: WindowAttrs, i: number, D: number, pool: boolean): { pb: number; pe: number; out: number } {
  const r = a.kernel.length;
  const k = a.kernel[i]!, s = a.strides[i]!, d = a.dilations[i]!;
  let pb: number, pe: number;
  if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    [pb, pe] = sameSplit((Math.trunc((D + s - 1) / s) - 1) * s + k - D, a.autoPad === 'SAME_LOWER');
  } else if (a.autoPad === 'VALID') [pb, pe] = [0, 0];
  else [pb, pe] = [a.pads[i]!, a.pads[i + r]!];
  const span = D + pb + pe - (d * (k - 1) + 1);
  let out = Math.floor(span / s) + 1;
  if (pool && a.ceil) {
    out = Math.ceil(span / s) + 1;
    if ((out - 1) * s >= D + pb) out--;
  }
  return { pb, pe, out };
}

/**
 * One spatial axis (i) of a ConvTranspose over an input of size D: its pads and output size. With output_shape (or
 * auto_pad SAME, whose target is D·stride) the total padding is derived from the target, the odd one at the begin
 * unless SAME_UPPER, as ONNX Runtime does.
 */
export function convTransposeAxis(node: NodeProto, a: WindowAttrs, i: number, D: number): { pb: number; pe: number; out: number } {
  const r = a.kernel.length;
  const k = a.kernel[i]!, s = a.strides[i]!, d = a.dilations[i]!;
  const op = attrInts(node, 'output_padding')?.[i] ?? 0;
  const full = s * (D - 1) + op + d * (k - 1) + 1;
  const outShape = attrInts(node, 'output_shape');
  const target = outShape && outShape.length ? outShape[outShape.length - r + i]! : a.autoPad.startsWith('SAME') ? D * s : undefined;
  let pb: number, pe: number;
  if (target !== undefined) {
    const total = Math.max(0, full - target);
    pb = a.autoPad === 'SAME_UPPER' ? Math.trunc(total / 2) : total - Math.trunc(total / 2);
    pe = total - pb;
  } else if (a.autoPad === 'VALID') [pb, pe] = [0, 0];
  else [pb, pe] = [a.pads[i]!, a.pads[i + r]!];
  return { pb, pe, out: full - pb - pe };
}

function windowShapes(node: NodeProto, get: Lookup): ValueInfo[] {
  const op = node.opType!;
  const x = get(node.input?.[0]);
  const xs = x?.shape ?? null;
  const type = x?.type;
  const out = (shape: Shape | null): ValueInfo[] => (op === 'MaxPool' ? [{ type, shape }, { type: DT.INT64, shape }] : [{ type, shape }]);
  if (!xs || xs.length < 3) return out(null);
  const r = xs.length - 2;
  if (GLOBAL_POOLS.has(op)) return out([xs[0]!, xs[1]!, ...Array<Dim>(r).fill(1)]);
  const w = get(node.input?.[1])?.shape ?? null;
  let channels: Dim = xs[1]!;
  if (op === 'Conv') channels = w?.[0] ?? null;
  if (op === 'ConvTranspose') channels = dimOp('*', w?.[1] ?? null, attrInt(node, 'group', 1));
  const ks = attrInts(node, 'kernel_shape');
  const wk = w?.slice(2);
  const kernel = ks && ks.length === r ? ks : wk && wk.length === r && wk.every((d) => typeof d === 'number') ? (wk as number[]) : null;
  const spatial = xs.slice(2).map((D, i): Dim => {
    if (!kernel || typeof D !== 'number') return null;
    const a = windowAttrs(node, kernel);
    return op === 'ConvTranspose' ? convTransposeAxis(node, a, i, D).out : windowAxis(a, i, D, op !== 'Conv').out;
  });
  return out([xs[0]!, channels, ...spatial]);
}
