import { describe, expect, it } from 'vitest';
import { dayToInstant, daysFromToday, instantToDay } from './zonedDates';

describe('calendar days in a contact’s time zone', () => {
  it('puts a day at noon in that zone, so it is the same day there', () => {
    expect(dayToInstant('2026-12-10', 'Europe/Warsaw')).toBe('2026-12-10T11:00:00.000Z');
    expect(dayToInstant('2026-12-10', 'America/New_York')).toBe('2026-12-10T17:00:00.000Z');
    expect(dayToInstant('2026-12-10', null)).toBe('2026-12-10T12:00:00.000Z');
    expect(dayToInstant('2026-07-10', 'Asia/Shanghai')).toBe('2026-07-10T04:00:00.000Z');
    expect(dayToInstant('not a day', 'UTC')).toBeNull();
  });

  it('reads an instant back as that zone’s day', () => {
    expect(instantToDay('2026-12-10T23:30:00Z', 'Europe/Warsaw')).toBe('2026-12-11');
    expect(instantToDay('2026-12-10T23:30:00Z', 'UTC')).toBe('2026-12-10');
    expect(instantToDay('2026-12-10T23:30:00Z', 'Not/AZone')).toBe('2026-12-10');
  });

  it('counts days from today', () => {
    const now = new Date('2026-12-03T10:00:00Z');
    expect(daysFromToday('2026-12-10', 'UTC', now)).toBe(7);
    expect(daysFromToday('2026-12-03', 'UTC', now)).toBe(0);
    expect(daysFromToday('2026-12-01', 'UTC', now)).toBe(-2);
  });
});
