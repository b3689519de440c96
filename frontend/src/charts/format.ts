/** Axis and tooltip texts of charts in the UI's language (pure; unit-tested). */

export interface ChartFormat {
  /** A day on the time axis: `3 Dec`, `12月3日`. */
  axisDay(day: string): string;
  /** A day in a tooltip: `Wed, 3 Dec 2026`. */
  longDay(day: string): string;
  number(value: number): string;
  /** Axis numbers stay short: 1.2K, 3.4M, 1.2万. */
  compact(value: number): string;
}

/** `YYYY-MM-DD` as a local calendar day (not UTC midnight, which is the day before west of Greenwich). */
export function parseDay(day: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

export function chartFormat(locale: string): ChartFormat {
  const axis = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' });
  const long = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  const number = new Intl.NumberFormat(locale);
  const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
  return {
    axisDay: (day) => axis.format(parseDay(day)),
    longDay: (day) => long.format(parseDay(day)),
    number: (value) => number.format(value),
    compact: (value) => compact.format(value),
  };
}
