import type { NodeProto } from '../onnx/proto.js';
import type { Builder } from '../graph/builder.js';
import type { Shape } from '../graph/dims.js';

/** A gradient in a shape that may be broadcast relative to its input: the walker sums it back to the input's shape. */
export interface BroadcastGrad {
  name: string;
  shape: Shape | null;
}

export type InputGrad = string | BroadcastGrad | null;

/** What a gradient rule sees of one node. Inputs and outputs are forward values, cotangents are gradient values. */
export interface RuleContext {
  readonly node: NodeProto;
  readonly b: Builder;
  readonly opset: number;
  /** Name of input i (the empty string for an omitted optional input). */
  x(i: number): string;
  /** Name of output i. */
  y(i: number): string;
  /** Cotangent of output i, or null when nothing downstream needs it. */
  g(i: number): string | null;
  /** Cotangent of output i, zeros where nothing downstream needs it. */
  gOrZeros(i: number): string;
  /** Whether input i needs a gradient (lies on a path from a wrt tensor). */
  needs(i: number): boolean;
  /** Whether a value depends differentiably on a wrt tensor. */
  isActive(name: string): boolean;
  /** The forward node computing a value (undefined for inputs and weights), and the nodes reading one. */
  producer(name: string): NodeProto | undefined;
  consumers(name: string): NodeProto[];
  shape(name: string): Shape | null;
  rank(name: string): number;
  dtype(name: string): number;
  /** Small integer contents of a value (constants, shape arithmetic), when known statically. */
  value(name: string): number[] | undefined;
  /** A scalar constant of the element type of `like` (default: input 0). */
  scalar(value: number, like?: string): string;
  /** Marks a gradient as having the shape of output 0, i.e. possibly broadcast relative to the input. */
  broadcast(name: string): BroadcastGrad;
  /** Reduce/squeeze axes from attribute or input (opset-aware), undefined when absent or not constant. */
  axes(): number[] | undefined;
  fail(reason: string): never;
}

/**
 * One gradient rule: which inputs are differentiable, and how to build their vector-Jacobian products from the
 * output cotangents. Returned gradients line up with the node's inputs; null for inputs that get none.
 */
export interface Rule {
  diff: readonly number[] | 'all';
  vjp(ctx: RuleContext): InputGrad[];
}
