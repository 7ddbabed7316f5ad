/**
 * Token counts for people, in one place: the report, the dashboard, training progress and the
 * experiments' descriptions all print "12.3k", "4.50M" the same way.
 */

/** Whether a value is a finite number (null, undefined, NaN and ±∞ are not). */
function finite(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && Number.isFinite(v);
}

/**
 * Token counts: 950, 12.3k, 4.50M, 1.63B; "—" when missing or not finite. `compact` drops
 * trailing zeros ("8M", "1.5M", "200k"), for counts inside prose.
 */
export function formatTokens(n: number | null | undefined, opts: { compact?: boolean } = {}): string {
  if (!finite(n)) return "—";
  const scaled = (v: number, digits: number, unit: string) => `${opts.compact ? +v.toFixed(digits) : v.toFixed(digits)}${unit}`;
  if (n >= 1e9) return scaled(n / 1e9, 2, "B");
  if (n >= 1e6) return scaled(n / 1e6, 2, "M");
  if (n >= 1e3) return scaled(n / 1e3, 1, "k");
  return String(Math.round(n));
}
