/**
 * Symbolic dimensions. A dim is a known number, a symbol (a `dim_param` such as "batch_size", or an expression
 * built from symbols such as "(sequence_length*4)"), or null when nothing is known.
 */
export type Dim = number | string | null;

/** A declared shape's dims (TensorShapeProto.dim): dim_value when positive, else dim_param, else null. */
export function declaredDims(dims: readonly { dimValue?: unknown; dimParam?: string | null }[]): Dim[] {
  return dims.map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam ? d.dimParam : null));
}
export type Shape = Dim[];

export const sameDim = (a: Dim, b: Dim): boolean => a !== null && b !== null && a === b;

export function sameShape(a: Shape | null | undefined, b: Shape | null | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => sameDim(d, b[i]!));
}

/** Numpy broadcasting of two shapes; dims that cannot be decided become null. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    // Missing leading dims broadcast as 1; a present but unknown dim stays null.
    const x = i < rank - a.length ? 1 : a[a.length - rank + i]!;
    const y = i < rank - b.length ? 1 : b[b.length - rank + i]!;
    if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (x === y) out.push(x);
    else if (typeof x === 'number' && x !== 1 && y === null) out.push(x);
    else if (typeof y === 'number' && y !== 1 && x === null) out.push(y);
    else if (typeof x === 'string' && typeof y === 'number') out.push(y);
    else if (typeof y === 'string' && typeof x === 'number') out.push(x);
    // Two different symbols: either may be 1 at run time, so the result is neither (a new symbol, equal to no input's
    // dim, so gradients reduce to each operand's shape at run time).
    else if (typeof x === 'string' && typeof y === 'string') out.push(`max(${x},${y})`);
    else out.push(x === null ? y : y === null ? x : null);
  }
  return out;
}

/** Arithmetic on dims, symbolic where needed: numbers fold, symbols make expressions. */
export function dimOp(op: '+' | '-' | '*' | '/', a: Dim, b: Dim): Dim {
  if (a === null || b === null) return null;
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '+': return a + b;
      case '-': return a - b;
      case '*': return a * b;
      case '/': return Math.trunc(a / b);
    }
  }
  if (op === '*' && (a === 1 || b === 1)) return a === 1 ? b : a;
  if ((op === '/' && b === 1) || ((op === '+' || op === '-') && b === 0)) return a;
  if (op === '+' && a === 0) return b;
  return `(${a}${op}${b})`;
}

/** A product of dims as a number times a multiset of symbols, so that products can be divided symbolically. */
function factors(dims: Dim[]): { coef: number; syms: string[] } | null {
  let coef = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (d === null) return null;
    if (typeof d === 'number') coef *= d;
    else syms.push(d);
  }
  return { coef, syms };
}

/** product(all) / product(known): the dim that a -1 in a Reshape stands for. */
export function inferMissingDim(all: Dim[], known: Dim[]): Dim {
  const num = factors(all);
  const den = factors(known);
  if (!num || !den || den.coef === 0) return null;
  const syms = [...num.syms];
  for (const s of den.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return null;
    syms.splice(i, 1);
  }
  if (num.coef % den.coef !== 0) return null;
  const coef = num.coef / den.coef;
  if (syms.length === 0) return coef;
  const body = syms.join('*');
  const expr = syms.length === 1 ? body : `(${body})`;
  return coef === 1 ? expr : `(${expr}*${coef})`;
}

export const normalizeAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
