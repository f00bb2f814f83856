/** Captum's visualize_text colours: positive hsl(120, 75%, 100 − 50a %), negative hsl(0, 75%, 100 − 40|a| %), a ∈ [−1, 1]. */
export function captumColor(value: number): string {
  const a = Math.max(-1, Math.min(1, Number.isFinite(value) ? value : 0));
  return a > 0 ? `hsl(120, 75%, ${100 - Math.trunc(50 * a)}%)` : `hsl(0, 75%, ${100 - Math.trunc(-40 * a)}%)`;
}

/** The same colour as RGB (for terminals). */
export function captumRgb(value: number): [number, number, number] {
  const a = Math.max(-1, Math.min(1, Number.isFinite(value) ? value : 0));
  const [h, s, l] = a > 0 ? [120, 0.75, (100 - Math.trunc(50 * a)) / 100] : [0, 0.75, (100 - Math.trunc(-40 * a)) / 100];
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] = h === 120 ? [0, c, x] : [c, x, 0];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
