/** Engagement score definitions as the Score page edits them (pure; unit-tested). Durations reuse the
 * computed properties' "number + unit" window (`readWindow`/`writeWindow`), so the marketer never sees
 * ISO 8601. */
import type { ScoreDay, ScoreDefinition, WeightedEvent } from '../api/types';

export const LEVELS = 10;
/** The server's default thresholds (docs/scores.md's worked example): points for levels 2 to 10. */
export const DEFAULT_THRESHOLDS = [1, 3, 6, 10, 15, 21, 28, 36, 45];

export function newDefinition(): ScoreDefinition {
  return {
    events: [{ event: '', weight: 3, where: [], channel: null }],
    fading: { mode: 'window', window: 'P30D', half_life: 'P14D' },
    bands: { mode: 'thresholds', thresholds: [...DEFAULT_THRESHOLDS] },
  };
}

/** A stored definition with every part the form edits present (older or hand-written ones may omit some). */
export function fillDefinition(definition: Partial<ScoreDefinition> | null | undefined): ScoreDefinition {
  const base = newDefinition();
  if (!definition) return base;
  return {
    events: (definition.events ?? base.events).map((e) => ({ where: [], channel: null, ...e })),
    fading: { ...base.fading, ...definition.fading },
    bands: { ...base.bands, ...definition.bands, thresholds: definition.bands?.thresholds ?? base.bands.thresholds },
  };
}

/** What is missing before the server is asked: indexes of weights table lines without an event or with a
 * weight outside −10…10 or of 0, and whether the thresholds fail to rise. */
export function localProblems(definition: ScoreDefinition): { events: Map<number, 'event' | 'weight'>; thresholds: boolean } {
  const events = new Map<number, 'event' | 'weight'>();
  definition.events.forEach((line, i) => {
    if (!line.event.trim()) events.set(i, 'event');
    else if (!Number.isFinite(line.weight) || line.weight === 0 || line.weight < -10 || line.weight > 10) events.set(i, 'weight');
  });
  const t = definition.bands.thresholds;
  const thresholds =
    definition.bands.mode === 'thresholds' && (t.length !== LEVELS - 1 || t.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= (t[i - 1] ?? -Infinity))));
  return { events, thresholds };
}

/** The definition as sent: event names trimmed, empty filters and channels left out. */
export function cleanDefinition(definition: ScoreDefinition): ScoreDefinition {
  return {
    ...definition,
    events: definition.events.map((line): WeightedEvent => {
      const out: WeightedEvent = { event: line.event.trim(), weight: line.weight };
      if (line.where?.length) out.where = line.where;
      if (line.channel) out.channel = line.channel;
      return out;
    }),
  };
}

/** The level a number of points reaches with fixed thresholds (1 below the first). */
export function levelOf(points: number, thresholds: readonly number[]): number {
  let level = 1;
  thresholds.forEach((bound, i) => {
    if (points >= bound) level = i + 2;
  });
  return level;
}

/** The groups the trend chart draws, as docs/scores.md's strategies use them: engaged, drifting, cold. */
export const BAND_GROUPS = [
  { id: 'high', from: 8, to: 10 },
  { id: 'middle', from: 5, to: 7 },
  { id: 'low', from: 1, to: 4 },
] as const;

export function groupTrend(trend: readonly ScoreDay[]): { days: string[]; groups: Record<(typeof BAND_GROUPS)[number]['id'], number[]> } {
  const sum = (levels: readonly number[], from: number, to: number) => levels.slice(from - 1, to).reduce((a, b) => a + b, 0);
  return {
    days: trend.map((d) => d.day),
    groups: {
      high: trend.map((d) => sum(d.levels, 8, 10)),
      middle: trend.map((d) => sum(d.levels, 5, 7)),
      low: trend.map((d) => sum(d.levels, 1, 4)),
    },
  };
}
