import { type Case } from '../rule-dsl.js';

export const ACTIVATION_CASES: Case[] = [
];
