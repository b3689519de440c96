/** Day counts of the subscription rule (`DayRange`: exactly, at least, at most or between N days) and the
 * calendar dates they mean, so "ends in 7 days" can be read as "ends on 10 Dec (today is 3 Dec)".
 *
 * The server counts whole calendar days in the contact's time zone: days until the end = end date − today,
 * so a package ending today ends in 0 days and one ending on 10 December ends in 7 days on 3 December (no
 * "+1 for the end day"). Days since the start = today − start date. Pure; unit-tested. */
import type { DayMeasure } from './schema';

export const DAY_OPS = ['exactly', 'at_least', 'at_most', 'between'] as const;
export type DayOp = (typeof DAY_OPS)[number];

export interface DayRange {
  op: DayOp;
  days: number;
  to_days?: number | null;
}

export function asDayRange(value: unknown): DayRange | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const op = (DAY_OPS as readonly unknown[]).includes(v.op) ? (v.op as DayOp) : 'exactly';
  const days = typeof v.days === 'number' ? v.days : 0;
  const toDays = typeof v.to_days === 'number' ? v.to_days : null;
  return { op, days, to_days: toDays };
}

/** The inclusive bounds of the count (null: open), the upper one defaulting to the lower for `between`. */
export function bounds(range: DayRange): [number | null, number | null] {
  switch (range.op) {
    case 'exactly':
      return [range.days, range.days];
    case 'at_least':
      return [range.days, null];
    case 'at_most':
      return [null, range.days];
    case 'between': {
      const high = range.to_days ?? range.days;
      return [Math.min(range.days, high), Math.max(range.days, high)];
    }
  }
}

/** `day` moved by `n` calendar days (local), at midnight. */
export function addDays(day: Date, n: number): Date {
  const out = new Date(day.getFullYear(), day.getMonth(), day.getDate());
  out.setDate(out.getDate() + n);
  return out;
}

/** What the count means in calendar dates, for the hint under the field. `from`/`to` are inclusive and
 * null when open-ended (at least / at most). Length has no dates. */
export type DayHint =
  | { measure: 'until_end' | 'since_start'; kind: 'on'; date: Date }
  | { measure: 'until_end' | 'since_start'; kind: 'between'; from: Date; to: Date }
  | { measure: 'until_end' | 'since_start'; kind: 'onOrAfter' | 'onOrBefore'; date: Date }
  | { measure: 'length'; kind: 'exactly' | 'atLeast' | 'atMost'; days: number }
  | { measure: 'length'; kind: 'between'; from: number; to: number };

export function dayHint(measure: DayMeasure, range: DayRange, today: Date): DayHint {
  const [low, high] = bounds(range);
  if (measure === 'length') {
    if (low !== null && high !== null) return low === high ? { measure, kind: 'exactly', days: low } : { measure, kind: 'between', from: low, to: high };
    return low !== null ? { measure, kind: 'atLeast', days: low } : { measure, kind: 'atMost', days: high ?? 0 };
  }
  // Until the end the date moves forward with the count; since the start, backward.
  const date = (n: number) => addDays(today, measure === 'until_end' ? n : -n);
  if (low !== null && high !== null) {
    if (low === high) return { measure, kind: 'on', date: date(low) };
    const [a, b] = measure === 'until_end' ? [date(low), date(high)] : [date(high), date(low)];
    return { measure, kind: 'between', from: a, to: b };
  }
  if (low !== null) return { measure, kind: measure === 'until_end' ? 'onOrAfter' : 'onOrBefore', date: date(low) };
  return { measure, kind: measure === 'until_end' ? 'onOrBefore' : 'onOrAfter', date: date(high ?? 0) };
}
