import { onnx, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

const AT = onnx.AttributeProto.AttributeType;
export type AttrValue = number | string | number[] | string[] | TensorProto;

export function findAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, fallback?: number): number | undefined {
  const a = findAttr(node, name);
  return a ? Number(a.i) : fallback;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = findAttr(node, name);
  return a ? Number(a.f) : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const a = findAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return findAttr(node, name)?.t ?? undefined;
}

/** Builds an AttributeProto, inferring its type from the JS value (integers in `ints`, use makeFloatsAttr for floats). */
export function makeAttr(name: string, value: AttrValue, float = false): onnx.AttributeProto {
  if (typeof value === 'number') {
    return float || !Number.isInteger(value)
      ? onnx.AttributeProto.create({ name, type: AT.FLOAT, f: value })
      : onnx.AttributeProto.create({ name, type: AT.INT, i: value });
  }
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: AT.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return onnx.AttributeProto.create({ name, type: AT.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) });
    }
    return float
      ? onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: value as number[] })
      : onnx.AttributeProto.create({ name, type: AT.INTS, ints: value as number[] });
  }
  return onnx.AttributeProto.create({ name, type: AT.TENSOR, t: value });
}
