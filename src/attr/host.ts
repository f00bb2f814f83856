import { type HostTensor, type DType, type TypedData } from '../runtime/session.js';
import { fail } from '../errors.js';

/** Row-major helpers on host tensors whose first dim is the batch. */

export const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);
export const rowSize = (t: HostTensor): number => numel(t.dims.slice(1));
export const batchOf = (t: HostTensor): number => t.dims[0] ?? 1;

function alloc(type: DType, n: number): TypedData {
  switch (type) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

/** A new tensor made of the given rows of `t` (row indices may repeat). */
export function gatherRows(t: HostTensor, rows: readonly number[]): HostTensor {
  const size = rowSize(t);
  const data = alloc(t.type, rows.length * size);
  rows.forEach((r, i) => (data as Float32Array).set((t.data as Float32Array).subarray(r * size, (r + 1) * size), i * size));
  return { type: t.type, data, dims: [rows.length, ...t.dims.slice(1)] };
}

/** Stacks tensors along the batch dim. */
export function concatRows(parts: readonly HostTensor[]): HostTensor {
  const first = parts[0]!;
  const size = rowSize(first);
  for (const p of parts) {
    if (rowSize(p) !== size || p.type !== first.type) fail(`cannot stack tensors of shapes [${first.dims}] and [${p.dims}]`);
  }
  const total = parts.reduce((a, p) => a + batchOf(p), 0);
  const data = alloc(first.type, total * size);
  let offset = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { type: first.type, data, dims: [total, ...first.dims.slice(1)] };
}

export const toFloat64 = (t: HostTensor): Float64Array => (t.data instanceof Float64Array ? t.data : Float64Array.from(t.data as Float32Array));

/** Row `r` of a float tensor as a Float64Array view or copy. */
export function floatRow(t: HostTensor, r: number): Float64Array {
  const size = rowSize(t);
  const view = (t.data as Float32Array).subarray(r * size, (r + 1) * size);
  return view instanceof Float64Array ? view : Float64Array.from(view);
}

export const float32 = (data: ArrayLike<number>, dims: number[]): HostTensor => ({ type: 'float32', data: Float32Array.from(data), dims });
export const float64 = (data: Float64Array, dims: number[]): HostTensor => ({ type: 'float64', data, dims });

export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
