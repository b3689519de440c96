import { describe, expect, it } from 'vitest';
import { chartFormat, parseDay } from './format';

describe('chart formats', () => {
  it('reads YYYY-MM-DD as a local calendar day', () => {
    const day = parseDay('2026-12-03');
    expect([day.getFullYear(), day.getMonth(), day.getDate()]).toEqual([2026, 11, 3]);
  });

  it('formats days and numbers in the UI language', () => {
    expect(chartFormat('en').axisDay('2026-12-03')).toBe('Dec 3');
    expect(chartFormat('en-GB').axisDay('2026-12-03')).toBe('3 Dec');
    expect(chartFormat('zh-CN').axisDay('2026-12-03')).toBe('12月3日');
    expect(chartFormat('pl').number(12345)).toBe('12\u00a0345');
    expect(chartFormat('es').number(1234567)).toBe('1.234.567');
    expect(chartFormat('en').compact(12_300)).toBe('12.3K');
  });
});
