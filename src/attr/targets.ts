import { fail } from '../errors.js';
import { numel } from './host.js';

/** An index into one example's output: a number for 1-D outputs per example, an array for more dims (Captum's tuple). */
export type TargetIndex = number | readonly number[];

/** Captum's `target`: one index for every example, or one per example. */
export type Target = TargetIndex | { perExample: readonly TargetIndex[] };

/** Which output and which element of it an attribution explains. */
export interface TargetSpec {
  /** Output name; defaults to the model's first output. */
  output?: string;
  /** Index into the output (after the batch dim); omit for outputs with one value per example. */
  target?: Target;
  /** A label for reports (e.g. "start", "end", a class name). */
  label?: string;
}

/** A target resolved against the batch: the flat offset within each example's output row. */
export interface ResolvedTarget {
  output: string;
  label: string;
  /** Per example, the flat index into that example's output row. */
  offsets: number[];
  /** Per example, the index as given (for reports). */
  indices: TargetIndex[];
}

export function resolveTarget(spec: TargetSpec, outputDims: Record<string, readonly number[]>, defaultOutput: string, examples: number): ResolvedTarget {
  const output = spec.output ?? defaultOutput;
  const dims = outputDims[output];
  if (!dims) fail(`output ${output} is not an output of the model (outputs: ${Object.keys(outputDims).join(', ')})`);
  const rowDims = dims.slice(1);
  const t = spec.target;
  let indices: TargetIndex[];
  if (t === undefined) {
    if (numel(rowDims) !== 1) fail(`output ${output} has ${numel(rowDims)} values per example: give a target index`);
    indices = Array(examples).fill(rowDims.length === 0 ? [] : rowDims.map(() => 0));
  } else if (typeof t === 'object' && 'perExample' in t) {
    if (t.perExample.length !== examples) fail(`target gives ${t.perExample.length} indices for ${examples} examples`);
    indices = [...t.perExample];
  } else indices = Array(examples).fill(t);
  const offsets = indices.map((idx) => flatOffset(idx, rowDims, output));
  return { output, label: spec.label ?? (spec.output ? `${output}[${indices[0]}]` : String(indices[0])), offsets, indices };
}

function flatOffset(index: TargetIndex, rowDims: readonly number[], output: string): number {
  const idx = typeof index === 'number' ? [index] : [...index];
  if (idx.length !== rowDims.length) fail(`target ${JSON.stringify(index)} has ${idx.length} indices but output ${output} has ${rowDims.length} dims per example [${rowDims}]`);
  let offset = 0;
  idx.forEach((i, k) => {
    const d = rowDims[k]!;
    if (!Number.isInteger(i) || i < -d || i >= d) fail(`target index ${i} is out of range for output ${output} (size ${d} on that dim)`);
    offset = offset * d + (i < 0 ? i + d : i);
  });
  return offset;
}
