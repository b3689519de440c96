import { describe, expect, it } from 'vitest';
import { addDays, dayHint } from './dayRange';

const today = new Date(2026, 11, 3); // 3 December 2026
const day = (d: Date) => `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;

describe('day ranges', () => {
  it('"ends in 7 days" on 3 December is 10 December: the end day is day 0, not an extra day', () => {
    const hint = dayHint('until_end', { op: 'exactly', days: 7 }, today);
    expect(hint.kind).toBe('on');
    expect(hint.kind === 'on' && day(hint.date)).toBe('2026-12-10');
    const zero = dayHint('until_end', { op: 'exactly', days: 0 }, today);
    expect(zero.kind === 'on' && day(zero.date)).toBe('2026-12-3');
  });

  it('"has an active package" (ends in at least 1 day) means ending tomorrow or later', () => {
    const hint = dayHint('until_end', { op: 'at_least', days: 1 }, today);
    expect(hint).toMatchObject({ kind: 'onOrAfter' });
    expect(hint.kind === 'onOrAfter' && day(hint.date)).toBe('2026-12-4');
    expect(dayHint('until_end', { op: 'at_most', days: 7 }, today)).toMatchObject({ kind: 'onOrBefore' });
  });

  it('counts days since the start backwards, bounds in either order', () => {
    const hint = dayHint('since_start', { op: 'between', days: 30, to_days: 3 }, today);
    expect(hint.kind).toBe('between');
    if (hint.kind === 'between' && hint.measure !== 'length') {
      expect(day(hint.from)).toBe('2026-11-3');
      expect(day(hint.to)).toBe('2026-11-30');
    }
    expect(dayHint('since_start', { op: 'at_least', days: 30 }, today)).toMatchObject({ kind: 'onOrBefore' });
  });

  it('lengths have no dates', () => {
    expect(dayHint('length', { op: 'exactly', days: 30 }, today)).toEqual({ measure: 'length', kind: 'exactly', days: 30 });
    expect(dayHint('length', { op: 'between', days: 28, to_days: 31 }, today)).toEqual({ measure: 'length', kind: 'between', from: 28, to: 31 });
  });

  it('crosses months and daylight-saving changes by calendar day', () => {
    expect(day(addDays(new Date(2026, 2, 28), 3))).toBe('2026-3-31');
    expect(day(addDays(new Date(2026, 11, 30), 3))).toBe('2027-1-2');
  });
});
