// Builds small ONNX models (one node, or a few) for gradient-rule tests.
import { onnx, type ModelProto } from '../../src/onnx/proto.js';
import { makeAttr, type AttrValue } from '../../src/onnx/attributes.js';
import { DT, makeTensor } from '../../src/onnx/tensor.js';
import { makeValueInfo } from '../../src/graph/builder.js';
import type { Shape } from '../../src/graph/dims.js';

/** Attributes that hold floats even when the given value is an integer (alpha = 1, for example). */
const FLOAT_ATTRS = new Set(['alpha', 'beta', 'epsilon', 'ratio', 'gamma', 'bias', 'lambd']);

export interface ModelInput {
  name: string;
  elemType: number;
  /** Declared shape; strings become dim_param, null dims have neither value nor param, null shape: no shape. */
  shape: Shape | null;
}

export interface ModelConst {
  name: string;
  elemType: number;
  dims: number[];
  values: number[];
}

export interface ModelNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  name?: string;
  domain?: string;
}

export interface ModelOutput {
  name: string;
  elemType: number;
}

export interface ModelSpec {
  opset: number;
  nodes: ModelNode[];
  inputs: ModelInput[];
  consts?: ModelConst[];
  /** Graph outputs, declared with their element type only. */
  outputs: ModelOutput[];
  name?: string;
}

/** A ModelProto (IR 8, or 9 for opsets past 18) with the given nodes; constants become initializers. */
export function buildModel(spec: ModelSpec): ModelProto {
  const node = spec.nodes.map((n, k) =>
    onnx.NodeProto.create({
      opType: n.op,
      domain: n.domain ?? '',
      name: n.name ?? `${n.op.toLowerCase()}_${k}`,
      input: [...n.inputs],
      output: [...n.outputs],
      attribute: Object.entries(n.attrs ?? {}).map(([name, v]) => makeAttr(name, v, FLOAT_ATTRS.has(name))),
    }));
  const graph = onnx.GraphProto.create({
    name: spec.name ?? 'test',
    node,
    input: spec.inputs.map((i) => makeValueInfo(i.name, i.elemType, i.shape)),
    initializer: (spec.consts ?? []).map((c) => (c.elemType === DT.INT64 ? int64Tensor(c) : makeTensor(c.name, c.elemType, c.dims, c.values))),
    output: spec.outputs.map((o) => makeValueInfo(o.name, o.elemType, null)),
  });
  return onnx.ModelProto.create({
    irVersion: spec.opset > 18 ? 9 : 8,
    producerName: 'gradlens-test',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: spec.opset })],
    graph,
  });
}

/** A model of one node: inputs (graph inputs or constants; '' for an omitted optional input) → outputs. */
export function opModel(
  op: string,
  opset: number,
  attrs: Record<string, AttrValue>,
  inputs: (ModelInput | ModelConst | null)[],
  outputs: ModelOutput[],
): ModelProto {
  const isConst = (i: ModelInput | ModelConst): i is ModelConst => 'values' in i;
  return buildModel({
    opset,
    nodes: [{ op, inputs: inputs.map((i) => i?.name ?? ''), outputs: outputs.map((o) => o.name), attrs, name: `${op}_node` }],
    inputs: inputs.filter((i): i is ModelInput => !!i && !isConst(i)),
    consts: inputs.filter((i): i is ModelConst => !!i && isConst(i)),
    outputs,
  });
}

export const INT64_MAX = 2 ** 63; // as a JS number: written as 2^63 − 1
export const INT64_MIN = -(2 ** 63);

/** An int64 tensor whose values saturate at the int64 range (INT64_MAX as a number is 2^63, one past it). */
function int64Tensor(c: ModelConst): onnx.TensorProto {
  const lo = -(2n ** 63n), hi = 2n ** 63n - 1n;
  const values = BigInt64Array.from(c.values, (v) => {
    const b = BigInt(Math.trunc(v));
    return b < lo ? lo : b > hi ? hi : b;
  });
  return onnx.TensorProto.create({ name: c.name, dataType: DT.INT64, dims: [...c.dims], rawData: new Uint8Array(values.buffer) });
}

export { DT };
