import { onnx, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { type AttrValue, makeAttr } from '../onnx/attributes.js';
import { DT, makeTensor } from '../onnx/tensor.js';
import type { Shape } from './dims.js';

export type Attrs = Record<string, AttrValue | undefined>;

/** Names of attributes that hold floats even when their value happens to be an integer. */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'ratio', 'bias', 'lambd', 'value_float', 'value_floats']);

/**
 * Emits new nodes and constants with fresh unique names, and hides the opset differences of the ops it emits
 * (axes as attribute or input, for example).
 */
export class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used: Set<string>;
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(usedNames: Iterable<string>, readonly opset: number, private readonly prefix = 'gradlens') {
    this.used = new Set(usedNames);
  }

  fresh(hint: string): string {
    const base = `${this.prefix}/${hint}`;
    let name: string;
    do name = `${base}_${this.counter++}`; while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  /** Claims a caller-chosen name (graph inputs/outputs); fails loudly if the model already uses it. */
  claim(name: string): string {
    if (this.used.has(name)) throw new Error(`name ${name} is already used in the graph`);
    this.used.add(name);
    return name;
  }

  /** Emits one node and returns its outputs' names. */
  node(opType: string, inputs: readonly string[], attrs: Attrs = {}, outputCount = 1, outputs?: string[]): string[] {
    const outs = outputs ?? Array.from({ length: outputCount }, () => this.fresh(opType));
    const attribute = Object.entries(attrs)
      .filter((e): e is [string, AttrValue] => e[1] !== undefined)
      .map(([k, v]) => makeAttr(k, v, FLOAT_ATTRS.has(k)));
    this.nodes.push(onnx.NodeProto.create({ opType, input: [...inputs], output: outs, name: this.fresh(`${opType}_node`), attribute }));
    return outs;
  }

  /** Emits one single-output node. */
  op(opType: string, inputs: readonly string[], attrs: Attrs = {}): string {
    return this.node(opType, inputs, attrs)[0]!;
  }

  /** A constant (as an initializer), shared between uses with the same contents. */
  constant(dataType: number, dims: readonly number[], values: readonly number[]): string {
    const key = `${dataType}|${dims.join(',')}|${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.initializers.push(makeTensor(name, dataType, dims, values));
    this.constCache.set(key, name);
    return name;
  }

  scalar(dataType: number, value: number): string {
    return this.constant(dataType, [], [value]);
  }

  ints(values: readonly number[]): string {
    return this.constant(DT.INT64, [values.length], values);
  }

  // ---- ops whose signature changed across opsets ----

  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin', x: string, axes: readonly number[] | string, keepdims: boolean): string {
    const sinceInput = op === 'ReduceSum' ? 13 : 18;
    if (typeof axes === 'string') {
      if (this.opset < sinceInput) throw new Error(`${op} with run-time axes needs opset ${sinceInput}`);
      return this.op(op, [x, axes], { keepdims: keepdims ? 1 : 0 });
    }
    if (this.opset >= sinceInput) return this.op(op, [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
    return this.op(op, [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: readonly number[] | string): string {
    if (typeof axes === 'string') return this.op('Unsqueeze', [x, axes]);
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.ints(axes)]) : this.op('Unsqueeze', [x], { axes: [...axes] });
  }

  squeeze(x: string, axes: readonly number[]): string {
    return this.opset >= 13 ? this.op('Squeeze', [x, this.ints(axes)]) : this.op('Squeeze', [x], { axes: [...axes] });
  }

  /** x[starts:ends:steps] along axes, with constant or run-time (1-D int64 tensor) bounds. */
  slice(x: string, starts: readonly number[] | string, ends: readonly number[] | string, axes: readonly number[], steps?: readonly number[]): string {
    const t = (v: readonly number[] | string) => (typeof v === 'string' ? v : this.ints(v));
    const inputs = [x, t(starts), t(ends), this.ints(axes)];
    if (steps) inputs.push(this.ints(steps));
    return this.op('Slice', inputs);
  }

  /** The run-time size of one axis as a 1-D int64 tensor of length 1. */
  dim(x: string, axis: number): string {
    return this.op('Gather', [this.op('Shape', [x]), this.ints([axis])], { axis: 0 });
  }

  /** Zeros with the run-time shape of `like`, of the given element type. */
  zerosLike(like: string, dataType: number): string {
    return this.op('ConstantOfShape', [this.op('Shape', [like])], { value: makeTensor('', dataType, [1], [0]) });
  }
}

/** A ValueInfoProto for a graph input or output, with symbolic dims as dim_param. */
export function makeValueInfo(name: string, elemType: number, shape: Shape | null): onnx.ValueInfoProto {
  const dim = shape?.map((d) =>
    typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
      : typeof d === 'string' && /^[A-Za-z_][\w.]*$/.test(d) ? onnx.TensorShapeProto.Dimension.create({ dimParam: d })
        : onnx.TensorShapeProto.Dimension.create({}));
  const tensorType = onnx.TypeProto.Tensor.create({ elemType, ...(dim ? { shape: onnx.TensorShapeProto.create({ dim }) } : {}) });
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType }) });
}
