import type { Rule, RuleContext } from '../rule.js';

/** A rule of a one-input op: its gradient from the output's cotangent g. */
export const unary = (f: (c: RuleContext, g: string) => string): Rule => ({ diff: [0], vjp: (c) => [f(c, c.g(0)!)] });
export const mul = (c: RuleContext, a: string, b: string): string => c.b.op('Mul', [a, b]);
