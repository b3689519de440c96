import { describe, expect, it } from 'vitest';
import { formatDuration, fromFriendly, parseDuration, toFriendly } from './duration';

describe('ISO 8601 durations', () => {
  it('parses what msgspec writes and people type', () => {
    expect(parseDuration('PT2H')).toBe(7200);
    expect(parseDuration('P3D')).toBe(259200);
    expect(parseDuration('P1DT12H30M')).toBe(131400);
    expect(parseDuration('P2W')).toBe(1209600);
    expect(parseDuration('pt90s')).toBe(90);
    expect(parseDuration('-PT1H')).toBe(-3600);
  });

  it('rejects what is not a fixed-length duration', () => {
    expect(parseDuration('P1M')).toBeNull();
    expect(parseDuration('P')).toBeNull();
    expect(parseDuration('PT')).toBeNull();
    expect(parseDuration('2 hours')).toBeNull();
  });

  it('formats canonically', () => {
    expect(formatDuration(7200)).toBe('PT2H');
    expect(formatDuration(131400)).toBe('P1DT12H30M');
    expect(formatDuration(0)).toBe('PT0S');
    expect(formatDuration(-60)).toBe('-PT1M');
  });

  it('edits as the largest whole unit', () => {
    expect(toFriendly(7200)).toEqual({ amount: 2, unit: 'hours' });
    expect(toFriendly(1209600)).toEqual({ amount: 2, unit: 'weeks' });
    expect(toFriendly(5400)).toEqual({ amount: 90, unit: 'minutes' });
    expect(fromFriendly(3, 'days')).toBe('P3D');
    expect(fromFriendly(1.5, 'hours')).toBe('PT1H30M');
  });
});
