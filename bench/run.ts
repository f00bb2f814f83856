// npm run bench [autodiff|attr|e2e|web|profile|accuracy|perturbation|lrp|queue|generate|image]: the speed figures quoted in bench/RESULTS.md, each a ratio against a baseline
// run in the same process (or, for PyTorch, a child process on the same machine).
import { benchAutodiff } from './autodiff.js';
import { benchAttr, attrOne } from './attr.js';
import { benchWeb } from './web.js';
import { benchProfile } from './profile.js';
import { benchAccuracy } from './accuracy.js';
import { benchPerturbation } from './perturbation.js';
import { benchLrp } from './lrp.js';
import { benchQueue } from './queue.js';
import { benchGenerate } from './generate.js';
import { benchImage } from './image.js';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'attr-one') await attrOne(Number(a), b === 'all' ? undefined : Number(b), c === 'fwd');
else {
  if (!mode || mode === 'autodiff') await benchAutodiff();
  if (!mode || mode === 'attr' || mode === 'e2e') await benchAttr(128, mode);
  if (!mode || mode === 'web') await benchWeb();
  if (mode === 'profile') await benchProfile(a ? Number(a) : 512);
  if (!mode || mode === 'accuracy') await benchAccuracy(mode ? a : undefined);
  if (!mode || mode === 'perturbation') await benchPerturbation();
  if (!mode || mode === 'lrp') await benchLrp();
  if (!mode || mode === 'queue') await benchQueue();
  if (!mode || mode === 'generate') await benchGenerate();
  if (!mode || mode === 'image') await benchImage();
}
