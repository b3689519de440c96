import { describe, expect, it } from 'vitest';
import { cleanDefinition, DEFAULT_THRESHOLDS, fillDefinition, groupTrend, levelOf, localProblems, newDefinition } from './scores';

describe('score definitions', () => {
  it('reads a stored definition with parts left out as the form edits it', () => {
    const filled = fillDefinition({ events: [{ event: 'email_opened', weight: 3 }] });
    expect(filled.events).toEqual([{ event: 'email_opened', weight: 3, where: [], channel: null }]);
    expect(filled.fading).toEqual({ mode: 'window', window: 'P30D', half_life: 'P14D' });
    expect(filled.bands).toEqual({ mode: 'thresholds', thresholds: DEFAULT_THRESHOLDS });
  });

  it('sends event names trimmed, without empty filters or channels', () => {
    const def = newDefinition();
    def.events = [
      { event: ' email_opened ', weight: 3, where: [], channel: null },
      { event: 'email_clicked', weight: 5, where: [{ key: 'url', op: 'contains', value: '/pricing' }], channel: 'email' },
    ];
    expect(cleanDefinition(def).events).toEqual([
      { event: 'email_opened', weight: 3 },
      { event: 'email_clicked', weight: 5, where: [{ key: 'url', op: 'contains', value: '/pricing' }], channel: 'email' },
    ]);
  });

  it('finds lines without an event, weights outside −10…10 or of 0, and thresholds that do not rise', () => {
    const def = newDefinition();
    def.events = [
      { event: '', weight: 3 },
      { event: 'a', weight: 11 },
      { event: 'b', weight: 0 },
      { event: 'c', weight: Number.NaN },
      { event: 'unsubscribed', weight: -10 },
    ];
    def.bands.thresholds = [1, 2, 3, 4, 5, 6, 7, 9, 8];
    const found = localProblems(def);
    expect([...found.events]).toEqual([
      [0, 'event'],
      [1, 'weight'],
      [2, 'weight'],
      [3, 'weight'],
    ]);
    expect(found.thresholds).toBe(true);
    def.bands.mode = 'percentile';
    expect(localProblems(def).thresholds).toBe(false);
  });

  it('places points on levels as docs/scores.md works the example', () => {
    expect(levelOf(-10, DEFAULT_THRESHOLDS)).toBe(1);
    expect(levelOf(3, DEFAULT_THRESHOLDS)).toBe(3);
    expect(levelOf(8, DEFAULT_THRESHOLDS)).toBe(4);
    expect(levelOf(30, DEFAULT_THRESHOLDS)).toBe(8);
    expect(levelOf(70, DEFAULT_THRESHOLDS)).toBe(10);
  });

  it('groups the daily histograms into levels 8–10, 5–7 and 1–4', () => {
    const { days, groups } = groupTrend([
      { day: '2026-12-01', levels: [1, 0, 2, 0, 1, 0, 0, 3, 0, 1] },
      { day: '2026-12-02', levels: [0, 0, 0, 0, 0, 0, 5, 0, 0, 0] },
    ]);
    expect(days).toEqual(['2026-12-01', '2026-12-02']);
    expect(groups).toEqual({ high: [4, 0], middle: [1, 5], low: [3, 0] });
  });
});
