// Tiny float-input ONNX models for attribution tests, with a float64 JavaScript reference of the same function.
//
// A model is a sum of branches: F(x) = Σ_b scale_b · (act(Σ_inputs x_in · A_b,inᵀ) · W_b + c_b), reshaped to
// [E, ...outputShape]. act is tanh (default) or the identity (a linear model). Inputs are [E, size] float32.
import { buildModel, DT, type ModelConst, type ModelNode } from '../autodiff/op-model.js';
import type { ModelProto } from '../../src/onnx/proto.js';
import { tensor, type HostTensor } from '../../src/runtime/session.js';
import { quadrature, type IntegrationMethod } from '../../src/attr/quadrature.js';
import { rng } from '../helpers.js';

export interface Branch {
  /** Per input name, an [h, size] matrix; an input missing here does not feed this branch. */
  A: Record<string, number[][]>;
  /** [h, k] read-out and [k] bias. */
  W: number[][];
  c: number[];
  scale?: number;
  act?: 'tanh' | 'none';
}

export interface MlpSpec {
  inputs: { name: string; size: number }[];
  branches: Branch[];
  /** Output dims per example (product = k); default [k]. */
  outputShape?: number[];
  output?: string;
}

const f32 = Math.fround;

/** A random matrix of float32-representable values, uniform in [−scale, scale]. */
export function randMatrix(seed: number, rows: number, cols: number, scale = 1): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => f32((2 * r.uniform() - 1) * scale)));
}

export function randVector(seed: number, n: number, scale = 1): number[] {
  return randMatrix(seed, 1, n, scale)[0]!;
}

const transpose = (m: number[][]): number[][] => m[0]!.map((_, j) => m.map((row) => row[j]!));

export function mlpModel(spec: MlpSpec): ModelProto {
  const nodes: ModelNode[] = [];
  const consts: ModelConst[] = [];
  const konst = (name: string, dims: number[], values: number[]) => consts.push({ name, elemType: DT.FLOAT, dims, values });
  const branchOuts: string[] = [];
  spec.branches.forEach((br, b) => {
    const parts: string[] = [];
    for (const { name, size } of spec.inputs) {
      const A = br.A[name];
      if (!A) continue;
      konst(`At${b}_${name}`, [size, A.length], transpose(A).flat());
      nodes.push({ op: 'MatMul', inputs: [name, `At${b}_${name}`], outputs: [`z${b}_${name}`] });
      parts.push(`z${b}_${name}`);
    }
    let pre = parts[0]!;
    for (let i = 1; i < parts.length; i++) {
      nodes.push({ op: 'Add', inputs: [pre, parts[i]!], outputs: [`zsum${b}_${i}`] });
      pre = `zsum${b}_${i}`;
    }
    let h = pre;
    if ((br.act ?? 'tanh') === 'tanh') {
      nodes.push({ op: 'Tanh', inputs: [pre], outputs: [`h${b}`] });
      h = `h${b}`;
    }
    konst(`W${b}`, [br.W.length, br.c.length], br.W.flat());
    konst(`c${b}`, [br.c.length], br.c);
    nodes.push({ op: 'MatMul', inputs: [h, `W${b}`], outputs: [`hw${b}`] });
    nodes.push({ op: 'Add', inputs: [`hw${b}`, `c${b}`], outputs: [`f${b}`] });
    let out = `f${b}`;
    if (br.scale !== undefined) {
      konst(`s${b}`, [], [br.scale]);
      nodes.push({ op: 'Mul', inputs: [out, `s${b}`], outputs: [`fs${b}`] });
      out = `fs${b}`;
    }
    branchOuts.push(out);
  });
  let y = branchOuts[0]!;
  for (let i = 1; i < branchOuts.length; i++) {
    nodes.push({ op: 'Add', inputs: [y, branchOuts[i]!], outputs: [`ysum${i}`] });
    y = `ysum${i}`;
  }
  const output = spec.output ?? 'y';
  if (spec.outputShape) {
    consts.push({ name: 'out_shape', elemType: DT.INT64, dims: [spec.outputShape.length + 1], values: [-1, ...spec.outputShape] });
    nodes.push({ op: 'Reshape', inputs: [y, 'out_shape'], outputs: [output] });
  } else nodes.push({ op: 'Identity', inputs: [y], outputs: [output] });
  return buildModel({
    opset: 17,
    nodes,
    consts,
    inputs: spec.inputs.map((i) => ({ name: i.name, elemType: DT.FLOAT, shape: ['E', i.size] })),
    outputs: [{ name: output, elemType: DT.FLOAT }],
  });
}

/** One example's inputs: per input name, a row of `size` numbers. */
export type Row = Record<string, ArrayLike<number>>;

function preActivation(br: Branch, x: Row): number[] {
  const h = br.W.length;
  const z = new Array<number>(h).fill(0);
  for (const [name, A] of Object.entries(br.A)) {
    const xs = x[name]!;
    for (let i = 0; i < h; i++) for (let j = 0; j < A[i]!.length; j++) z[i]! += A[i]![j]! * Number(xs[j]);
  }
  return z;
}

/** F(x) for one example in float64, flattened over the output dims. */
export function mlpForward(spec: MlpSpec, x: Row): number[] {
  const k = spec.branches[0]!.c.length;
  const y = new Array<number>(k).fill(0);
  for (const br of spec.branches) {
    const z = preActivation(br, x);
    const h = (br.act ?? 'tanh') === 'tanh' ? z.map(Math.tanh) : z;
    const s = br.scale ?? 1;
    for (let o = 0; o < k; o++) {
      let v = br.c[o]!;
      for (let i = 0; i < h.length; i++) v += h[i]! * br.W[i]![o]!;
      y[o]! += s * v;
    }
  }
  return y;
}

/** ∂F_out/∂x for one example in float64 (out: flat index into the output). */
export function mlpGrad(spec: MlpSpec, x: Row, out: number): Record<string, number[]> {
  const g: Record<string, number[]> = Object.fromEntries(spec.inputs.map((i) => [i.name, new Array<number>(i.size).fill(0)]));
  for (const br of spec.branches) {
    const z = preActivation(br, x);
    const s = br.scale ?? 1;
    const dz = z.map((zi, i) => s * br.W[i]![out]! * ((br.act ?? 'tanh') === 'tanh' ? 1 - Math.tanh(zi) ** 2 : 1));
    for (const [name, A] of Object.entries(br.A)) {
      for (let i = 0; i < A.length; i++) for (let j = 0; j < A[i]!.length; j++) g[name]![j]! += dz[i]! * A[i]![j]!;
    }
  }
  return g;
}

/** Reference Integrated Gradients for one example in float64 with the library's quadrature rule. */
export function refIG(spec: MlpSpec, x: Row, b: Row, out: number, nSteps = 50, method: IntegrationMethod = 'gausslegendre', multiply = true): Record<string, number[]> {
  const { alphas, stepSizes } = quadrature(method, nSteps);
  const acc: Record<string, number[]> = Object.fromEntries(spec.inputs.map((i) => [i.name, new Array<number>(i.size).fill(0)]));
  alphas.forEach((a, k) => {
    const p: Row = Object.fromEntries(spec.inputs.map(({ name, size }) =>
      [name, Array.from({ length: size }, (_, j) => Number(b[name]![j]) + a * (Number(x[name]![j]) - Number(b[name]![j])))]));
    const g = mlpGrad(spec, p, out);
    for (const n of Object.keys(acc)) g[n]!.forEach((v, j) => (acc[n]![j]! += stepSizes[k]! * v));
  });
  if (!multiply) return acc;
  return Object.fromEntries(Object.entries(acc).map(([n, v]) => [n, v.map((g, j) => g * (Number(x[n]![j]) - Number(b[n]![j])))]));
}

/** A [rows, cols] float32 tensor of random values in [−scale, scale]. */
export function randTensor(seed: number, rows: number, cols: number, scale = 1): HostTensor {
  return tensor('float32', randMatrix(seed, rows, cols, scale).flat(), [rows, cols]);
}

/** Row e of a batch of [E, size] inputs, as a Row. */
export function rowOf(feeds: Record<string, HostTensor>, e: number): Row {
  return Object.fromEntries(Object.entries(feeds).map(([n, t]) => {
    const size = t.data.length / t.dims[0]!;
    return [n, Array.from(t.data as Float32Array).slice(e * size, (e + 1) * size)];
  }));
}

/** The standard test model: F(x) = tanh(x·Aᵀ)·W + c with x [E, n], hidden h, output [E, k]. */
export function tanhSpec(n: number, h: number, k: number, seed = 1, extra: Partial<Branch> = {}): MlpSpec {
  return {
    inputs: [{ name: 'x', size: n }],
    branches: [{ A: { x: randMatrix(seed, h, n, 0.8) }, W: randMatrix(seed + 1, h, k), c: randVector(seed + 2, k), ...extra }],
  };
}

/** max |a − b| / max |b| (floor 1e-12). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 1e-12;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
    s = Math.max(s, Math.abs(Number(b[i])));
  }
  return d / s;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i])));
  return m;
}
