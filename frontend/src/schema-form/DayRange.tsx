/** `x-widget: day-range`: a whole number of days (exactly / at least / at most / between) with a live
 * hint in calendar dates — "Ends on 10 Dec 2026 · today is 3 Dec" — so "ends in 7 days" is never
 * mistaken for "enter 8 because the end day counts". */
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { enumLabel } from './labels';
import { asDayRange, DAY_OPS, dayHint, type DayHint, type DayOp, type DayRange } from './dayRange';
import type { DayMeasure } from './schema';

interface Props {
  measure: DayMeasure;
  value: unknown;
  onChange(value: unknown): void;
  path: string;
  id: string;
}

const testId = (path: string, suffix = '') => `field-${path}${suffix}`;

/** Today, refreshed at the next local midnight so a page left open does not show yesterday's dates. */
function useToday(): Date {
  const [today, setToday] = useState(() => new Date());
  useEffect(() => {
    const now = new Date();
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    const timer = setTimeout(() => setToday(new Date()), midnight.getTime() - now.getTime() + 1000);
    return () => clearTimeout(timer);
  }, [today]);
  return today;
}

export function DayRangeControl({ measure, value, onChange, path, id }: Props) {
  const { t, i18n } = useTranslation();
  const range = asDayRange(value);
  const today = useToday();
  const formats = useMemo(
    () => ({
      date: new Intl.DateTimeFormat(i18n.language, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }),
      today: new Intl.DateTimeFormat(i18n.language, { day: 'numeric', month: 'short' }),
    }),
    [i18n.language],
  );
  const set = (next: DayRange | null) => onChange(next === null ? null : { op: next.op, days: next.days, to_days: next.op === 'between' ? (next.to_days ?? next.days) : null });
  const number = (text: string) => (text === '' ? 0 : Math.max(0, Math.min(36500, Math.trunc(Number(text)))));

  const hint = range ? describe(t, dayHint(measure, range, today), (d) => formats.date.format(d)) : null;
  return (
    <div className="day-range">
      <div className="day-range-row">
        <select
          id={id}
          className="select"
          value={range?.op ?? ''}
          onChange={(e) => {
            const op = e.target.value as DayOp | '';
            set(op === '' ? null : { op, days: range?.days ?? (measure === 'until_end' && op === 'at_least' ? 1 : 0), to_days: range?.to_days ?? null });
          }}
          data-testid={testId(path, '.op')}
        >
          <option value="">{t('dayRange.any')}</option>
          {DAY_OPS.map((op) => (
            <option key={op} value={op}>
              {enumLabel(t, op)}
            </option>
          ))}
        </select>
        {range && (
          <>
            <input
              className="input day-count"
              type="number"
              inputMode="numeric"
              min={0}
              max={36500}
              step={1}
              value={range.days}
              aria-label={t('dayRange.days')}
              onChange={(e) => set({ ...range, days: number(e.target.value) })}
              data-testid={testId(path, '.days')}
            />
            {range.op === 'between' && (
              <>
                <span className="muted">{t('dayRange.and')}</span>
                <input
                  className="input day-count"
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={36500}
                  step={1}
                  value={range.to_days ?? range.days}
                  aria-label={t('dayRange.toDays')}
                  onChange={(e) => set({ ...range, to_days: number(e.target.value) })}
                  data-testid={testId(path, '.to_days')}
                />
              </>
            )}
            <span className="muted">{t('dayRange.unit', { count: range.op === 'between' ? (range.to_days ?? range.days) : range.days })}</span>
          </>
        )}
      </div>
      {hint && (
        <p className="day-range-hint" aria-live="polite" data-testid={testId(path, '-hint')}>
          <strong>{hint}</strong>
          {measure !== 'length' && <span className="muted"> · {t('dayRange.today', { today: formats.today.format(today) })}</span>}
        </p>
      )}
      {range && measure === 'until_end' && <p className="field-hint">{t('dayRange.countsUntilEnd')}</p>}
      {range && measure === 'since_start' && <p className="field-hint">{t('dayRange.countsSinceStart')}</p>}
    </div>
  );
}

function describe(t: ReturnType<typeof useTranslation>['t'], hint: DayHint, date: (d: Date) => string): string {
  if (hint.measure === 'length') {
    if (hint.kind === 'between') return t('dayRange.length.between', { from: hint.from, to: hint.to });
    return t(`dayRange.length.${hint.kind}`, { count: hint.days });
  }
  if (hint.kind === 'between') return t(`dayRange.${hint.measure}.between`, { from: date(hint.from), to: date(hint.to) });
  return t(`dayRange.${hint.measure}.${hint.kind}`, { date: date(hint.date) });
}
