/** Computed property definitions in words, and the rolling window edited as "number + unit". Pure. */
import type { TFunction } from 'i18next';
import type { ComputedDefinition } from '../api/types';
import { formatDuration, parseDuration } from '../schema-form/duration';

export const WINDOW_UNITS = ['hours', 'days', 'weeks'] as const;
export type WindowUnit = (typeof WINDOW_UNITS)[number];
const UNIT_SECONDS: Record<WindowUnit, number> = { hours: 3600, days: 86400, weeks: 604800 };

/** `P30D` → 30 days; `P2W`/`P14D` → 2 weeks; null (all time) → null. */
export function readWindow(iso: string | null | undefined): { amount: number; unit: WindowUnit } | null {
  if (!iso) return null;
  const seconds = parseDuration(iso);
  if (seconds === null || seconds <= 0) return null;
  if (seconds % UNIT_SECONDS.days === 0) return { amount: seconds / UNIT_SECONDS.days, unit: 'days' };
  return { amount: seconds / UNIT_SECONDS.hours, unit: 'hours' };
}

export function writeWindow(amount: number, unit: WindowUnit): string {
  return formatDuration(amount * UNIT_SECONDS[unit]);
}

/** "Count of rental · last 30 days", "Sum of amount of purchase · all time". */
export function describeDefinition(t: TFunction, definition: ComputedDefinition, duration: (iso: string) => string): string {
  const what = definition.property
    ? t('computed.describe.ofProperty', { aggregate: t(`computed.aggregate.${definition.aggregate}`), property: definition.property, event: definition.event })
    : t('computed.describe.ofEvent', { aggregate: t(`computed.aggregate.${definition.aggregate}`), event: definition.event });
  const when = definition.window ? t('computed.describe.window', { window: duration(definition.window) }) : t('computed.allTime');
  return `${what} · ${when}`;
}
