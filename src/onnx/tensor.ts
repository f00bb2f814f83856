import { onnx, type TensorProto } from './proto.js';
import { fail } from '../errors.js';

export const DT = onnx.TensorProto.DataType;
export type DataTypeId = number;

export const FLOAT_TYPES: ReadonlySet<number> = new Set([DT.FLOAT, DT.DOUBLE, DT.FLOAT16, DT.BFLOAT16]);
export const isFloatType = (t: number | undefined): boolean => t !== undefined && FLOAT_TYPES.has(t);

export function dataTypeName(t: number): string {
  return onnx.TensorProto.DataType[t] ?? `type ${t}`;
}

/** Bytes per element of the fixed-size tensor types (undefined for strings and unknown types). */
const ELEMENT_BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 4, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.UINT16]: 2, [DT.INT16]: 2, [DT.INT32]: 4, [DT.INT64]: 8, [DT.BOOL]: 1,
  [DT.FLOAT16]: 2, [DT.DOUBLE]: 8, [DT.UINT32]: 4, [DT.UINT64]: 8, [DT.COMPLEX64]: 8, [DT.COMPLEX128]: 16, [DT.BFLOAT16]: 2,
};
export const elementBytes = (t: number): number | undefined => ELEMENT_BYTES[t];

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** Reads the values of a TensorProto as plain numbers (ints, floats, bools); for small constants. */
export function tensorValues(t: TensorProto): number[] {
  const type = t.dataType ?? DT.FLOAT;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const buf = new Uint8Array(raw).slice().buffer; // aligned copy
    switch (type) {
      case DT.FLOAT: return Array.from(new Float32Array(buf));
      case DT.DOUBLE: return Array.from(new Float64Array(buf));
      case DT.INT64: return Array.from(new BigInt64Array(buf), Number);
      case DT.INT32: return Array.from(new Int32Array(buf));
      case DT.INT8: return Array.from(new Int8Array(buf));
      case DT.UINT8: case DT.BOOL: return Array.from(new Uint8Array(buf));
      default: fail(`cannot read constant of type ${dataTypeName(type)} (tensor ${t.name})`);
    }
  }
  switch (type) {
    case DT.FLOAT: case DT.COMPLEX64: return (t.floatData ?? []).map(Number);
    case DT.DOUBLE: return (t.doubleData ?? []).map(Number);
    case DT.INT64: return (t.int64Data ?? []).map(Number);
    default: return (t.int32Data ?? []).map(Number);
  }
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(Number);
}

/** A TensorProto from plain values, stored as raw little-endian bytes. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: ArrayLike<number>): onnx.TensorProto {
  let bytes: Uint8Array;
  switch (dataType) {
    case DT.FLOAT: bytes = new Uint8Array(Float32Array.from(values).buffer); break;
    case DT.DOUBLE: bytes = new Uint8Array(Float64Array.from(values).buffer); break;
    case DT.INT64: bytes = new Uint8Array(BigInt64Array.from(Array.from(values), (v) => BigInt(Math.trunc(v))).buffer); break;
    case DT.INT32: bytes = new Uint8Array(Int32Array.from(values).buffer); break;
    case DT.BOOL: case DT.UINT8: bytes = Uint8Array.from(values); break;
    default: fail(`cannot make constant of type ${dataTypeName(dataType)}`);
  }
  return onnx.TensorProto.create({ name, dataType, dims: [...dims], rawData: bytes });
}
