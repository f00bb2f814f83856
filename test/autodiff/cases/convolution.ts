import { type Case } from '../rule-dsl.js';

export const CONVOLUTION_CASES: Case[] = [
];
