// npm run bench: the speed figures quoted in the README, each a ratio against a baseline run in this process.
import { benchAutodiff } from './autodiff.js';

const only = process.argv[2];
if (!only || only === 'autodiff') await benchAutodiff();
