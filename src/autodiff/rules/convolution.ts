import type { Rule } from '../rule.js';

/* Convolution and pooling. */

export const CONVOLUTION: Record<string, Rule> = {};
