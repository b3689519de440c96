/** Pieces shared by the segments and computed-properties pages. */
import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import type { BuildStatus, Problem, Progress } from '../api/types';
import { pointerToPath } from '../schema-form/schema';

/** "Building 40 %" with a progress bar, or "Ready". */
export function BuildState({ status, progress, testId }: { status: BuildStatus; progress: Progress; testId?: string }) {
  const { t, i18n } = useTranslation();
  if (status !== 'building') {
    return (
      <span className="badge status-published" data-testid={testId} data-status={status}>
        {t('audience.ready')}
      </span>
    );
  }
  const share = progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;
  const percent = new Intl.NumberFormat(i18n.language, { style: 'percent' }).format(share);
  return (
    <span className="build-progress" data-testid={testId} data-status={status}>
      <span className="badge status-draft">{t('audience.building')}</span>
      <progress value={progress.done} max={Math.max(progress.total, 1)} aria-label={t('audience.buildProgress', { percent })} />
      <span className="small muted">{percent}</span>
    </span>
  );
}

/** Call `tick` every `ms` while `active` (e.g. reload a list while something in it is building). */
export function usePolling(active: boolean, tick: () => void, ms = 1500): void {
  const ref = useRef(tick);
  ref.current = tick;
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => ref.current(), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

/** Field problems of a 400 by form path (`/rule/rules/0/value` → `rule.rules.0.value`), and the rest. */
export function splitProblems(
  error: unknown,
  fields: readonly string[],
  text: (problem: Problem) => string = (p) => p.message,
): { byPath: Map<string, string[]>; other: string[] } {
  const byPath = new Map<string, string[]>();
  const other: string[] = [];
  if (!(error instanceof ApiError)) {
    if (error) other.push(error instanceof Error ? error.message : String(error));
    return { byPath, other };
  }
  if (error.problems.length === 0) other.push(error.detail ?? error.message);
  for (const problem of error.problems) {
    const path = pointerToPath(problem.pointer);
    const message = text(problem);
    if (fields.some((field) => path === field || path.startsWith(`${field}.`))) byPath.set(path, [...(byPath.get(path) ?? []), message]);
    else other.push(message);
  }
  return { byPath, other };
}

/** A refusal's reason (409 "journeys use this segment: …") rather than its title alone. */
export function reason(error: unknown): string {
  if (error instanceof ApiError) return error.detail ?? error.problems.find((p) => p.message)?.message ?? error.message;
  return error instanceof Error ? error.message : String(error);
}
