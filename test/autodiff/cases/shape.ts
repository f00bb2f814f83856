import { type Case } from '../rule-dsl.js';

export const SHAPE_CASES: Case[] = [
];
