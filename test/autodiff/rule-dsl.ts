// The case language of the gradient-rule tests (rules.test.ts): one-node models, their inputs and attributes.
import type { AttrValue } from '../../src/onnx/attributes.js';
import { rng } from '../helpers.js';

export type FloatType = 'float32' | 'float64';
export type Rand = ReturnType<typeof rng>;
export type Gen = (r: Rand) => number;

export const normal: Gen = (r) => r.normal();
/** Positive values in [0.5, 2): logs, square roots, bases of non-constant exponents. */
export const pos: Gen = (r) => 0.5 + 1.5 * r.uniform();
/** Normal values at least 0.1 away from the given kinks (Relu, Abs, Clip bounds). */
export const away = (...kinks: number[]): Gen => (r) => {
  for (;;) {
    const v = r.normal();
    if (kinks.every((k) => Math.abs(v - k) > 0.1)) return v;
  }
};
export const nonzero = away(0);

/** 'float' follows the case's float type (float64, or float32 as fallback). */
export type Kind = 'float' | FloatType | 'int64' | 'int32' | 'bool';

export interface DiffIn {
  kind: 'diff';
  shape: number[];
  gen: Gen;
  type: 'float' | FloatType;
  /** Axes that get a dim_param in the symbolic variant (default: all). */
  sym?: number[];
}
export interface ConstIn {
  kind: 'const';
  shape: number[];
  values: number[];
  type: Kind;
}
/** A non-differentiable graph input (fed at run time, so its contents are unknown to the rules). */
export interface FedIn {
  kind: 'fed';
  shape: number[];
  values: number[];
  type: Kind;
}
export type In = DiffIn | ConstIn | FedIn | null;

export const x = (...shape: number[]): DiffIn => ({ kind: 'diff', shape, gen: normal, type: 'float' });
export const xg = (gen: Gen, ...shape: number[]): DiffIn => ({ kind: 'diff', shape, gen, type: 'float' });
export const xt = (type: FloatType, ...shape: number[]): DiffIn => ({ kind: 'diff', shape, gen: normal, type });
/** A differentiable input whose symbolic variant makes only `sym` axes symbolic. */
export const xs = (sym: number[], ...shape: number[]): DiffIn => ({ kind: 'diff', shape, gen: normal, type: 'float', sym });
export const ints = (values: number[], shape = [values.length]): ConstIn => ({ kind: 'const', shape, values, type: 'int64' });
export const int = (v: number, type: 'int64' | 'int32' = 'int64'): ConstIn => ({ kind: 'const', shape: [], values: [v], type });
export const floats = (values: number[], shape = [values.length]): ConstIn => ({ kind: 'const', shape, values, type: 'float' });
export const scalar = (v: number): ConstIn => ({ kind: 'const', shape: [], values: [v], type: 'float' });
export const bools = (values: number[], shape = [values.length]): ConstIn => ({ kind: 'const', shape, values, type: 'bool' });
export const fed = (values: number[], shape = [values.length], type: Kind = 'int64'): FedIn => ({ kind: 'fed', shape, values, type });
export const none = null;

export interface Case {
  op: string;
  opset: number;
  attrs?: Record<string, AttrValue>;
  inputs: In[];
  /** Element types of the outputs; default one float output. */
  outputs?: Kind[];
  /** Outputs that get a cotangent; default all float outputs. */
  of?: number[];
  note?: string;
  /** false: no symbolic variant (the rule needs static shapes). */
  symbolic?: boolean;
}

export const c = (op: string, opset: number, inputs: In[], attrs: Record<string, AttrValue> = {}, extra: Partial<Case> = {}): Case => ({ op, opset, inputs, attrs, ...extra });
