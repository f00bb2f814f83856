// npm run bench [autodiff|attr]: the speed figures quoted in bench/RESULTS.md, each a ratio against a baseline
// run in this process (or, for PyTorch, in a child process on the same machine).
import { benchAutodiff } from './autodiff.js';
import { benchAttr } from './attr.js';

const only = process.argv[2];
if (!only || only === 'autodiff') await benchAutodiff();
if (!only || only === 'attr') await benchAttr();
