import type { Rule } from '../rule.js';
import { unary } from './common.js';

/* Ops that pass or select values: Identity, inference-mode Dropout, Where. */

export const CONTROL: Record<string, Rule> = {
  Identity: unary((_, g) => g),
  Dropout: unary((_, g) => g), // inference mode: identity
  Where: {
    diff: [1, 2],
    vjp: (c) => {
      const zero = c.scalar(0, c.y(0));
      return [
        null,
        c.needs(1) ? c.broadcast(c.b.op('Where', [c.x(0), c.g(0)!, zero])) : null,
        c.needs(2) ? c.broadcast(c.b.op('Where', [c.x(0), zero, c.g(0)!])) : null,
      ];
    },
  },

};
