import { type Dim, type Shape, broadcastShapes } from './dims.js';

/** One Einsum term: its subscripts in order, '...' standing for the ellipsis dims. */
export type EinsumTerm = string[];

export interface EinsumEquation {
  inputs: EinsumTerm[];
  output: EinsumTerm;
  /** Whether the output was given (`->`); else it is the implicit one. */
  explicit: boolean;
}

/**
 * Parses an Einsum equation. The implicit output (no `->`) is the ellipsis, if any input has one, then the letters
 * that occur exactly once, in alphabetical (ASCII) order, as numpy and the ONNX reference do.
 */
export function parseEinsum(equation: string): EinsumEquation {
  const text = equation.replace(/\s+/g, '');
  const arrow = text.indexOf('->');
  const lhs = arrow >= 0 ? text.slice(0, arrow) : text;
  const term = (t: string): EinsumTerm => {
    const out: EinsumTerm = [];
    for (let i = 0; i < t.length; i++) {
      if (t.startsWith('...', i)) {
        if (out.includes('...')) throw new Error(`Einsum term ${t} has two ellipses`);
        out.push('...');
        i += 2;
      } else if (/[A-Za-z]/.test(t[i]!)) out.push(t[i]!);
      else throw new Error(`Einsum term ${t}: unexpected character ${t[i]}`);
    }
    return out;
  };
  const inputs = lhs.split(',').map(term);
  if (arrow >= 0) return { inputs, output: term(text.slice(arrow + 2)), explicit: true };
  const count = new Map<string, number>();
  for (const s of inputs.flat()) if (s !== '...') count.set(s, (count.get(s) ?? 0) + 1);
  const once = [...count].filter(([, n]) => n === 1).map(([s]) => s).sort();
  return { inputs, output: [...(inputs.some((t) => t.includes('...')) ? ['...'] : []), ...once], explicit: false };
}

/** The dims of each subscript of a term over a shape: letters to dims, and the ellipsis dims (null if unknown). */
export function termDims(term: EinsumTerm, shape: Shape | null): { letters: Map<string, Dim>; ellipsis: Shape | null } {
  const letters = new Map<string, Dim>();
  if (!shape) return { letters, ellipsis: null };
  const e = term.indexOf('...');
  const count = shape.length - (term.length - (e >= 0 ? 1 : 0));
  let axis = 0;
  let ellipsis: Shape | null = e >= 0 ? [] : null;
  for (const s of term) {
    if (s === '...') {
      ellipsis = shape.slice(axis, axis + count);
      axis += count;
    } else {
      const d = shape[axis++]!;
      const prior = letters.get(s);
      if (prior === undefined || prior === 1 || prior === null) letters.set(s, d);
    }
  }
  return { letters, ellipsis };
}

/** The output shape of an Einsum from its inputs' shapes (null dims where unknown; null if a rank is unknown). */
export function einsumShape(eq: EinsumEquation, shapes: (Shape | null)[]): Shape | null {
  if (shapes.some((s) => !s)) return null;
  const letters = new Map<string, Dim>();
  let ellipsis: Shape = [];
  eq.inputs.forEach((t, k) => {
    const dims = termDims(t, shapes[k]!);
    for (const [s, d] of dims.letters) {
      const prior = letters.get(s);
      if (prior === undefined || prior === 1 || prior === null) letters.set(s, d);
    }
    if (dims.ellipsis) ellipsis = broadcastShapes(ellipsis, dims.ellipsis);
  });
  return eq.output.flatMap((s): Dim[] => (s === '...' ? ellipsis : [letters.get(s) ?? null]));
}
