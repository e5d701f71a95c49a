// Pure helpers of `npm run bench`: min/median/max, paired ratios and the table formatting.

export type Stats = { min: number; med: number; max: number; n: number };

/** min / median / max of a sample (median of an even count: mean of the two middle values). */
export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) return { min: NaN, med: NaN, max: NaN, n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const med = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { min: s[0]!, med, max: s[n - 1]!, n };
}

/** a[i] / b[i] for each pair measured in the same repeat (a load spike hits both sides of a pair). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => a[i]! / b[i]!);
}

export const fix = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "—");

/** "min / **median** / max" (markdown), or the one value when there is a single sample. */
export function fmt(s: Stats, d = 0, unit = ""): string {
  if (s.n === 0) return "—";
  if (s.n === 1 || s.min === s.max) return `**${fix(s.med, d)}**${unit}`;
  return `${fix(s.min, d)} / **${fix(s.med, d)}** / ${fix(s.max, d)}${unit}`;
}

/** Seconds from milliseconds, as "min / **med** / max s". */
export const fmtS = (ms: readonly number[], d = 1) => fmt(stats(ms.map((x) => x / 1000)), d, " s");

/** Least-squares slope and intercept of y over x (growth per host of a preview). */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** Increment per host between consecutive sizes: (y[i] - y[i-1]) / (x[i] - x[i-1]). */
export function perHostGrowth(xs: readonly number[], ys: readonly number[]): number[] {
  return xs.slice(1).map((x, i) => (ys[i + 1]! - ys[i]!) / (x - xs[i]!));
}

/** "a | b | c" markdown table row. */
export const row = (cells: readonly (string | number)[]) => `| ${cells.join(" | ")} |`;
