import { c, x, xg, xs, floats, nonzero, type Case, type Gen, type Rand } from '../rule-dsl.js';
import { rng } from '../../helpers.js';

/** Fixed pseudo-random weights of the given shape (a constant input). */
const w = (seed: number, ...shape: number[]) => {
  const r = rng(seed);
  return floats(Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => Math.round(r.normal() * 1000) / 1000), shape);
};

/**
 * Normal values on a grid of 0.02, no two alike: max-pool windows have no near-ties that the finite-difference steps
 * (about 1e-3 per element) could flip. A fresh generator per case (it remembers what it gave).
 */
const distinct = (): Gen => {
  const seen = new Set<number>();
  return (r: Rand) => {
    for (;;) {
      const v = Math.round(r.normal() * 50);
      if (!seen.has(v)) {
        seen.add(v);
        return v / 50;
      }
    }
  };
};
const xd = (...shape: number[]) => xg(distinct(), ...shape);
/** Distinct values with symbolic batch and channel dims only (opset 9: static spatial dims). */
const xdStatic = (...shape: number[]) => ({ ...xd(...shape), sym: [0, 1] });

export const CONVOLUTION_CASES: Case[] = [
  // ---- Conv ----
  c('Conv', 9, [xs([0, 1], 1, 2, 7), w(1, 3, 2, 3)], { strides: [2], pads: [1, 0] }, { note: '1-D, asymmetric pads' }),
  c('Conv', 9, [xs([0, 1], 1, 1, 7, 7), w(2, 2, 1, 2, 2), w(3, 2)], { strides: [2, 2], dilations: [2, 2] }, { note: 'bias, dilations, strides' }),
  c('Conv', 10, [x(1, 2, 5, 5), w(4, 2, 2, 3, 3), w(5, 2)], { pads: [1, 1, 1, 1] }, { note: 'bias' }),
  c('Conv', 11, [x(1, 4, 4, 4), w(6, 4, 2, 3, 3)], { group: 2, strides: [2, 2], pads: [1, 0, 0, 1] }, { note: 'group 2, asymmetric pads' }),
  c('Conv', 13, [x(1, 3, 5, 4), w(7, 3, 1, 3, 3)], { group: 3, dilations: [2, 1], pads: [2, 1, 2, 1] }, { note: 'depthwise, dilations' }),
  c('Conv', 13, [x(1, 1, 3, 4, 4), w(8, 2, 1, 2, 3, 3)], { strides: [1, 2, 1], pads: [1, 0, 1, 0, 1, 1] }, { note: '3-D' }),
  c('Conv', 17, [x(1, 2, 6, 5), w(9, 2, 2, 3, 3)], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  c('Conv', 19, [x(1, 1, 7, 6), w(10, 2, 1, 2, 3)], { auto_pad: 'SAME_LOWER', strides: [2, 3] }),
  c('Conv', 11, [x(1, 2, 5, 6), w(11, 2, 2, 2, 2)], { auto_pad: 'VALID', strides: [2, 3], dilations: [1, 2] }),
  c('Conv', 13, [x(2, 1, 8), w(12, 2, 1, 3)], { kernel_shape: [3], strides: [3] }, { note: 'last inputs in no window' }),
  c('Conv', 17, [x(1, 2, 9), w(13, 2, 2, 3), w(14, 2)], { strides: [2], dilations: [2], pads: [2, 1] }, { note: '1-D, bias, dilations' }),
  c('Conv', 13, [x(2, 3, 3, 3), w(15, 4, 3, 1, 1)], {}, { note: '1x1' }),
  c('Conv', 10, [x(1, 2, 4, 3, 3), w(16, 2, 1, 2, 2, 2)], { group: 2, strides: [2, 1, 2], pads: [0, 1, 1, 1, 0, 0] }, { note: '3-D depthwise' }),

  // ---- ConvTranspose ----
  c('ConvTranspose', 9, [xs([0, 1], 1, 2, 4), w(21, 2, 3, 3)], { strides: [2], pads: [1, 0] }, { note: '1-D' }),
  c('ConvTranspose', 11, [x(1, 2, 3, 3), w(22, 2, 1, 3, 3)], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, { note: 'output_padding' }),
  c('ConvTranspose', 13, [x(1, 1, 3, 3), w(23, 1, 2, 3, 3)], { strides: [2, 2], output_shape: [6, 6] }, { note: 'output_shape' }),
  c('ConvTranspose', 17, [x(1, 1, 3, 4), w(24, 1, 1, 3, 3)], { strides: [2, 2], output_shape: [6, 8], auto_pad: 'SAME_UPPER' }, { note: 'output_shape, SAME_UPPER' }),
  c('ConvTranspose', 19, [x(1, 2, 3, 3), w(25, 2, 1, 2, 2)], { strides: [2, 2], auto_pad: 'SAME_LOWER', group: 2 }, { note: 'group 2' }),
  c('ConvTranspose', 13, [x(1, 2, 3, 3), w(26, 2, 2, 3, 3)], { strides: [2, 2], auto_pad: 'SAME_UPPER' }),
  c('ConvTranspose', 10, [x(1, 4, 3, 3), w(27, 4, 1, 2, 2), w(28, 2)], { group: 2, dilations: [2, 2], pads: [1, 0, 0, 1] }, { note: 'group 2, dilations, bias' }),
  c('ConvTranspose', 13, [x(1, 1, 2, 3, 3), w(29, 1, 2, 2, 2, 2)], { strides: [1, 2, 1], pads: [0, 1, 0, 0, 0, 1] }, { note: '3-D' }),
  c('ConvTranspose', 11, [x(1, 2, 4), w(30, 2, 1, 2)], { auto_pad: 'VALID', strides: [2], dilations: [3], output_padding: [1] }, { note: 'dilations, output_padding' }),
  c('ConvTranspose', 17, [x(1, 3, 3, 3), w(31, 3, 1, 3, 3)], { group: 3, strides: [2, 1], output_shape: [6, 4] }, { note: 'depthwise, output_shape' }),
  c('ConvTranspose', 9, [xs([0, 1], 1, 1, 3, 3), w(32, 1, 1, 3, 3)], { strides: [2, 2], output_shape: [7, 5], auto_pad: 'SAME_LOWER' }, { note: 'output_shape, SAME_LOWER' }),
  c('ConvTranspose', 13, [x(2, 1, 3), w(33, 1, 2, 3)], { strides: [2], output_padding: [1], output_shape: [7] }, { note: 'output_shape with output_padding' }),
  c('ConvTranspose', 11, [x(1, 1, 3, 3), w(34, 1, 1, 1, 1)], { strides: [2, 2], auto_pad: 'SAME_UPPER' }, { note: 'kernel below the stride' }),

  // ---- MaxPool ----
  c('MaxPool', 9, [xdStatic(1, 2, 4, 4)], { kernel_shape: [2, 2], strides: [2, 2] }),
  c('MaxPool', 9, [xdStatic(1, 1, 5, 5)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { note: 'ResNet stem' }),
  c('MaxPool', 10, [xd(1, 1, 6, 6)], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, { note: 'ceil_mode' }),
  c('MaxPool', 11, [xd(1, 2, 5, 5)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { note: 'ResNet stem' }),
  c('MaxPool', 12, [xd(1, 1, 5, 6)], { kernel_shape: [2, 2], dilations: [2, 2], pads: [1, 0, 0, 1] }, { note: 'dilations' }),
  c('MaxPool', 13, [xd(2, 2, 7)], { kernel_shape: [3], strides: [2] }, { outputs: ['float', 'int64'], of: [0], note: 'Indices output' }),
  c('MaxPool', 11, [xd(1, 2, 4, 5)], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 1, 0, 0], storage_order: 1 }, { outputs: ['float', 'int64'], of: [0], note: 'Indices output, storage_order 1' }),
  c('MaxPool', 17, [xd(1, 1, 6, 7)], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }),
  c('MaxPool', 19, [xd(1, 1, 5, 5)], { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_LOWER' }),
  c('MaxPool', 13, [xd(1, 1, 4, 4, 3)], { kernel_shape: [2, 2, 2], strides: [2, 2, 2], pads: [1, 0, 0, 0, 1, 1], ceil_mode: 1 }, { note: '3-D, ceil_mode' }),
  c('MaxPool', 11, [xd(1, 1, 5, 5)], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, { note: 'ceil_mode, last window dropped' }),
  c('MaxPool', 13, [xd(1, 2, 5, 6)], { kernel_shape: [2, 3], strides: [1, 2], auto_pad: 'VALID' }),
  c('MaxPool', 19, [xd(1, 1, 7, 6)], { kernel_shape: [2, 2], strides: [3, 2], dilations: [2, 1], ceil_mode: 1 }, { note: 'dilations, ceil_mode' }),

  // ---- AveragePool ----
  c('AveragePool', 9, [xs([0, 1], 1, 2, 4, 4)], { kernel_shape: [2, 2], strides: [2, 2] }),
  c('AveragePool', 10, [x(1, 1, 5, 5)], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 }, { note: 'ceil_mode, last window dropped' }),
  c('AveragePool', 11, [x(1, 2, 5, 5)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }),
  c('AveragePool', 13, [x(1, 2, 5, 5)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 }),
  c('AveragePool', 19, [x(1, 1, 6, 5)], { kernel_shape: [2, 2], dilations: [2, 1], pads: [1, 1, 0, 1], count_include_pad: 1 }, { note: 'dilations' }),
  c('AveragePool', 19, [x(1, 1, 7, 6)], { kernel_shape: [3, 2], strides: [2, 2], dilations: [2, 2], ceil_mode: 1 }, { note: 'dilations, ceil_mode' }),
  c('AveragePool', 17, [x(1, 1, 5, 6)], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }),
  c('AveragePool', 19, [x(1, 2, 5, 5)], { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'SAME_LOWER', count_include_pad: 1 }),
  c('AveragePool', 13, [x(2, 2, 6)], { kernel_shape: [3], strides: [2], pads: [1, 1], ceil_mode: 1, count_include_pad: 1 }, { note: '1-D, ceil_mode' }),
  c('AveragePool', 11, [x(1, 1, 3, 4, 4)], { kernel_shape: [2, 2, 2], strides: [1, 2, 2], pads: [0, 1, 0, 1, 0, 1] }, { note: '3-D' }),

  // ---- LpPool, global pools ----
  c('LpPool', 9, [xs([0, 1], 1, 2, 4, 4)], { kernel_shape: [2, 2], strides: [2, 2] }, { note: 'p default 2' }),
  c('LpPool', 11, [xg(nonzero, 1, 2, 5, 5)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], p: 1 }),
  c('LpPool', 13, [x(1, 1, 5, 6)], { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER', p: 2 }),
  c('LpPool', 18, [x(1, 1, 7, 6)], { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 1], ceil_mode: 1, p: 3 }, { note: 'dilations, ceil_mode' }),
  c('LpPool', 18, [x(1, 2, 5, 5)], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }, { note: 'ceil_mode, last window dropped' }),
  c('LpPool', 19, [x(2, 1, 7)], { kernel_shape: [3], strides: [2], pads: [0, 1], ceil_mode: 1, p: 2 }, { note: '1-D, ceil_mode' }),
  c('GlobalAveragePool', 9, [x(2, 3, 4)]),
  c('GlobalAveragePool', 13, [x(1, 2, 3, 3)]),
  c('GlobalAveragePool', 17, [x(1, 2, 2, 3, 2)]),
  c('GlobalMaxPool', 9, [xd(2, 2, 3, 3)]),
  c('GlobalMaxPool', 13, [xd(1, 3, 4, 4)]),
  c('GlobalMaxPool', 11, [xd(2, 2, 5)]),
  c('GlobalLpPool', 9, [x(1, 2, 3, 3)]),
  c('GlobalLpPool', 13, [xg(nonzero, 2, 2, 5)], { p: 1 }),
  c('GlobalLpPool', 17, [x(1, 2, 2, 2, 3)], { p: 3 }),
];
