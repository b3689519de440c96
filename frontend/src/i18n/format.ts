/** Dates, numbers and durations in the chosen language, through Intl. */
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { parseDuration, toFriendly } from '../schema-form/duration';

export interface Formatter {
  number(value: number): string;
  dateTime(value: string | null | undefined): string;
  date(value: string | null | undefined): string;
  relative(value: string | null | undefined, now?: number): string;
  duration(iso: string): string;
  list(items: string[]): string;
}

const RELATIVE_STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.345],
  ['month', 12],
  ['year', Infinity],
];

export function makeFormatter(locale: string): Formatter {
  const numberFormat = new Intl.NumberFormat(locale);
  const dateTimeFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
  const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const listFormat = new Intl.ListFormat(locale, { style: 'short', type: 'conjunction' });
  const parse = (value: string | null | undefined) => {
    if (!value) return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  };
  return {
    number: (value) => numberFormat.format(value),
    dateTime: (value) => {
      const date = parse(value);
      return date ? dateTimeFormat.format(date) : '—';
    },
    date: (value) => {
      const date = parse(value);
      return date ? dateFormat.format(date) : '—';
    },
    relative: (value, now = Date.now()) => {
      const date = parse(value);
      if (!date) return '—';
      let amount = (date.getTime() - now) / 1000;
      for (const [unit, size] of RELATIVE_STEPS) {
        if (Math.abs(amount) < size) return relativeFormat.format(Math.round(amount), unit);
        amount /= size;
      }
      return dateTimeFormat.format(date);
    },
    duration: (iso) => {
      const seconds = parseDuration(iso);
      if (seconds === null) return iso;
      const { amount, unit } = toFriendly(seconds);
      const single = unit.slice(0, -1) as 'minute' | 'hour' | 'day' | 'week';
      return new Intl.NumberFormat(locale, { style: 'unit', unit: single, unitDisplay: 'long' }).format(amount);
    },
    list: (items) => listFormat.format(items),
  };
}

export function useFormat(): Formatter {
  const { i18n } = useTranslation();
  return useMemo(() => makeFormatter(i18n.language), [i18n.language]);
}
