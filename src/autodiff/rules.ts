import type { Rule } from './rule.js';
import { CONTROL } from './rules/control.js';
import { ELEMENTWISE } from './rules/elementwise.js';
import { LINALG } from './rules/linalg.js';
import { NORMALIZATION } from './rules/normalization.js';
import { REDUCTION } from './rules/reduction.js';
import { SHAPE } from './rules/shape.js';
import { CONVOLUTION } from './rules/convolution.js';
import { RESAMPLING } from './rules/resampling.js';
export { layerNormParts } from './rules/normalization.js';

/*
 * Vector-Jacobian products, one entry per ONNX op type, written in standard ONNX ops only.
 * Notation: x_i inputs, y outputs, g the cotangent of y; each entry returns x̄_i = (∂y/∂x_i)ᵀ g.
 * Broadcasting is undone by the walker for gradients marked with ctx.broadcast().
 * The entries live in one file per family (rules/); this is the one table the walker reads.
 */

export const RULE_FAMILIES: Record<string, Record<string, Rule>> = {
  elementwise: ELEMENTWISE,
  shape: SHAPE,
  reduction: REDUCTION,
  'linear algebra': LINALG,
  normalization: NORMALIZATION,
  'convolution and pooling': CONVOLUTION,
  resampling: RESAMPLING,
  control: CONTROL,
};

function assemble(families: Record<string, Record<string, Rule>>): Record<string, Rule> {
  const table: Record<string, Rule> = {};
  const family: Record<string, string> = {};
  for (const [name, rules] of Object.entries(families)) {
    for (const [op, rule] of Object.entries(rules)) {
      if (family[op]) throw new Error(`gradient rule for ${op} defined twice (${family[op]} and ${name})`);
      family[op] = name;
      table[op] = rule;
    }
  }
  return table;
}

export const RULES: Record<string, Rule> = assemble(RULE_FAMILIES);

/** Ops whose outputs carry no gradient: integer/boolean results, shapes, piecewise-constant functions. */
export const NON_DIFFERENTIABLE = new Set([
  'Shape', 'Size', 'ConstantOfShape', 'Constant', 'Range', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual',
  'Not', 'And', 'Or', 'Xor', 'NonZero', 'ArgMax', 'ArgMin', 'IsNaN', 'IsInf', 'Sign', 'Floor', 'Ceil', 'Round',
  'OneHot', 'EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Mod', 'BitShift',
]);
