import { describe, expect, it } from 'vitest';
import { readWindow, writeWindow } from './computed';

describe('computed property windows', () => {
  it('reads and writes whole days and hours', () => {
    expect(readWindow('P30D')).toEqual({ amount: 30, unit: 'days' });
    expect(readWindow('PT12H')).toEqual({ amount: 12, unit: 'hours' });
    expect(readWindow(null)).toBeNull();
    expect(writeWindow(30, 'days')).toBe('P30D');
    expect(writeWindow(2, 'weeks')).toBe('P14D');
    expect(writeWindow(6, 'hours')).toBe('PT6H');
  });
});
