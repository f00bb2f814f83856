import { c, x, xg, xt, floats, scalar, away, nonzero, type Case, type ConstIn, type Gen } from '../rule-dsl.js';

/** Normal values times `spread`, at least 0.1 away from the given kinks (to reach the flat parts of hard activations). */
const wide = (spread: number, ...kinks: number[]): Gen => {
  const near = away(...kinks.map((k) => k / spread));
  return (r) => spread * near(r);
};
/** A float32 constant (for cases whose differentiable inputs are float32). */
const f32 = (values: number[], shape = [values.length]): ConstIn => ({ kind: 'const', shape, values, type: 'float32' });

// BatchNormalization parameters for 3 channels: scale, B, mean, var.
const bn3 = [floats([1.5, -0.5, 2]), floats([0.1, -0.2, 0.3]), floats([0.2, -0.1, 0.4]), floats([0.8, 1.5, 0.3])];
const bn2 = [floats([0.7, -1.2]), floats([0.5, 0]), floats([-0.3, 0.25]), floats([2, 0.6])];

export const ACTIVATION_CASES: Case[] = [
  // ---- activations ----
  c('HardSigmoid', 9, [xg(wide(3, -2.5, 2.5), 2, 3)], {}, { note: 'defaults α 0.2, β 0.5' }),
  c('HardSigmoid', 9, [xg(wide(2, -0.8, 1.2), 3, 4)], { alpha: 0.5, beta: 0.4 }),
  c('HardSigmoid', 22, [xg(wide(3, -2.5, 2.5), 2, 2, 3)]),
  c('HardSigmoid', 22, [xg(wide(2, -3, 1), 8)], { alpha: 0.25, beta: 0.75 }),
  c('HardSwish', 14, [xg(wide(3, -3, 3), 2, 4)]),
  c('HardSwish', 22, [xg(wide(3, -3, 3), 3, 3)]),
  c('LeakyRelu', 9, [xg(nonzero, 2, 3)], {}, { note: 'default α 0.01' }),
  c('LeakyRelu', 9, [xg(nonzero, 2, 2, 2)], { alpha: 0.2 }),
  c('LeakyRelu', 16, [xg(nonzero, 3, 2)], { alpha: 0.3 }),
  c('PRelu', 9, [xg(nonzero, 2, 3, 2, 2), scalar(0.25)], {}, { note: 'scalar slope' }),
  c('PRelu', 9, [xg(nonzero, 2, 3, 2, 2), floats([0.1, -0.2, 0.5], [3, 1, 1])], {}, { note: 'per-channel slope' }),
  c('PRelu', 9, [xg(nonzero, 2, 3, 2), xg(nonzero, 3, 1)], {}, { note: 'per-channel slope, differentiable' }),
  c('PRelu', 16, [xg(nonzero, 2, 3, 2, 2), xg(nonzero, 3, 1, 1)], {}, { note: 'per-channel slope, differentiable' }),
  c('PRelu', 16, [xg(nonzero, 2, 3), xg(nonzero, 2, 3)], {}, { note: 'full-shape slope' }),
  c('PRelu', 16, [xg(nonzero, 2, 3), floats([0.3, -0.1, 0.2, 0.4, 0.05, 0.6], [2, 3])], {}, { note: 'full-shape constant slope' }),
  c('PRelu', 16, [xg(nonzero, 4, 3), xg(nonzero, 3)], {}, { note: 'trailing slope' }),
  c('PRelu', 16, [xg(nonzero, 2, 3), xg(nonzero)], {}, { note: 'scalar slope, differentiable' }),
  c('Elu', 9, [xg(nonzero, 2, 3)], {}, { note: 'default α 1' }),
  c('Elu', 9, [xg(nonzero, 3, 2)], { alpha: 0.5 }),
  c('Elu', 22, [xg(nonzero, 2, 4)], { alpha: 2 }),
  c('Selu', 9, [xg(nonzero, 2, 3)], {}, { note: 'defaults α 1.67326, γ 1.0507' }),
  c('Selu', 9, [xg(nonzero, 3, 2)], { alpha: 2, gamma: 1.5 }),
  c('Selu', 22, [xg(nonzero, 2, 4)]),
  c('Celu', 12, [xg(nonzero, 2, 3)], {}, { note: 'default α 1' }),
  c('Celu', 12, [xg(nonzero, 3, 2)], { alpha: 0.7 }),
  c('Softplus', 9, [x(2, 2)]),
  c('Softplus', 22, [xg(wide(3), 2, 3)]),
  c('Softsign', 9, [x(2, 3)]),
  c('Softsign', 22, [xg(wide(3), 4)]),
  c('Mish', 18, [xg(wide(2), 2, 3)]),
  c('Mish', 22, [x(3, 2)]),
  c('ThresholdedRelu', 10, [xg(wide(2, 1), 2, 3)], {}, { note: 'default α 1' }),
  c('ThresholdedRelu', 10, [xg(away(0.3), 3, 2)], { alpha: 0.3 }),
  c('ThresholdedRelu', 22, [xg(away(-0.5), 2, 4)], { alpha: -0.5 }),

  // ---- BatchNormalization (inference), InstanceNormalization, GroupNormalization, LpNormalization ----
  c('BatchNormalization', 9, [x(4, 3), ...bn3], {}, { note: 'rank 2 [N, C]' }),
  c('BatchNormalization', 9, [x(2, 3, 2, 2), ...bn3], { epsilon: 1e-3 }),
  c('BatchNormalization', 14, [x(2, 3, 4), ...bn3]),
  c('BatchNormalization', 14, [x(3, 2, 2, 2), ...bn2], { training_mode: 0 }),
  c('BatchNormalization', 15, [x(2, 3, 2, 2), ...bn3]),
  c('BatchNormalization', 15, [x(1, 2, 2, 2, 3), ...bn2], { epsilon: 0.01 }, { note: 'rank 5' }),
  c('BatchNormalization', 15, [x(5, 2), ...bn2], {}, { note: 'rank 2 [N, C]' }),
  c('InstanceNormalization', 9, [x(2, 3, 4), floats([1.5, -0.5, 2]), floats([0.1, -0.2, 0.3])]),
  c('InstanceNormalization', 9, [x(2, 2, 3, 3), floats([0.7, -1.2]), floats([0.5, 0])], { epsilon: 1e-3 }),
  c('InstanceNormalization', 22, [x(1, 3, 2, 3), floats([1.5, -0.5, 2]), floats([0.1, -0.2, 0.3])]),
  c('InstanceNormalization', 22, [x(1, 2, 2, 2, 3), floats([0.7, -1.2]), floats([0.5, 0])], {}, { note: 'rank 5' }),
  c('GroupNormalization', 18, [x(2, 4, 3), floats([1.5, -0.5]), floats([0.1, 0.2])], { num_groups: 2 }, { note: 'scale per group' }),
  c('GroupNormalization', 18, [x(2, 4, 2, 2), floats([1.5, -0.5, 2, 0.5]), floats([0.1, -0.2, 0.3, 0])], { num_groups: 4, epsilon: 1e-3 }, { note: 'groups = channels' }),
  c('GroupNormalization', 18, [x(1, 4, 3, 2), floats([0.8]), floats([0.1])], { num_groups: 1 }, { note: 'one group' }),
  c('GroupNormalization', 21, [x(2, 4, 3), floats([1.5, -0.5, 2, 0.5]), floats([0.1, -0.2, 0.3, 0])], { num_groups: 2, stash_type: 11 }, { note: 'scale per channel, double stash' }),
  c('GroupNormalization', 21, [x(1, 4, 2, 2), floats([0.7, -1.2, 1, 2]), floats([0.5, 0, 1, -1])], { num_groups: 4, stash_type: 11 }, { note: 'groups = channels' }),
  c('GroupNormalization', 21, [xt('float32', 2, 4, 3), f32([1.5, -0.5, 2, 0.5]), f32([0.1, -0.2, 0.3, 0])], { num_groups: 2 }, { note: 'default float stash', outputs: ['float32'] }),
  c('GroupNormalization', 21, [xt('float32', 1, 6, 2, 2), f32([1, 2, -1, 0.5, 0.3, 1.1]), f32([0, 0, 0, 1, 1, 1])], { num_groups: 3, epsilon: 1e-3 }, { outputs: ['float32'] }),
  c('LpNormalization', 9, [x(2, 3)], {}, { note: 'p 2, last axis' }),
  c('LpNormalization', 9, [xg(nonzero, 3, 4)], { p: 1, axis: 0 }),
  c('LpNormalization', 22, [x(2, 3, 4)], { p: 2, axis: 1 }),
  c('LpNormalization', 22, [xg(nonzero, 2, 5)], { p: 1, axis: -1 }),
];
