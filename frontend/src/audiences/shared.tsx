/** Pieces shared by the segments, computed-properties and scores pages. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import type { BuildStatus, Problem, Progress } from '../api/types';
import { Dialog } from '../components/Dialog';
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

/** "Delete …?", with the server's refusal (a segment in use, a score a segment needs) shown in place. */
export function ConfirmDeleteDialog({
  title,
  body,
  testId,
  remove,
  onClose,
  onDeleted,
  onRefused,
}: {
  title: string;
  body: string;
  /** `segment-delete` gives `segment-delete-dialog`, `-confirm` and `-error`. */
  testId: string;
  remove(): Promise<unknown>;
  onClose(): void;
  onDeleted(): void;
  onRefused?(): void;
}) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await remove();
      onDeleted();
    } catch (err) {
      setError(reason(err));
      setBusy(false);
      onRefused?.();
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={confirm}
      testId={`${testId}-dialog`}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary danger-fill" disabled={busy} data-testid={`${testId}-confirm`}>
            {t('common.delete')}
          </button>
        </>
      }
    >
      <p>{body}</p>
      {error && (
        <p className="form-error" role="alert" data-testid={`${testId}-error`}>
          {error}
        </p>
      )}
    </Dialog>
  );
}

export interface Identity {
  name: string;
  key: string;
  description: string;
}

/** Name, key (fixed once saved) and description of a computed property or a score: the key is what
 * rules and templates use (`contact.computed.<key>`, `contact.scores.<key>`). */
export function IdentityCard({
  kind,
  draft,
  onChange,
  savedKey,
  keyInvalid,
  fieldErrors,
  ids,
}: {
  /** The catalogue section of the labels and the test ids' prefix: `computed` or `score`. */
  kind: 'computed' | 'score';
  draft: Identity;
  onChange(draft: Identity): void;
  savedKey: string | null;
  keyInvalid: boolean;
  fieldErrors(path: string): ReactNode;
  ids: { name: string; key: string; description: string };
}) {
  const { t } = useTranslation();
  return (
    <section className="card section">
      <div className="field">
        <label className="field-label" htmlFor={ids.name}>
          {t(`${kind}.name`)}
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        </label>
        <input id={ids.name} className="input" required maxLength={200} value={draft.name} onChange={(e) => onChange({ ...draft, name: e.target.value })} data-testid={`${kind}-name`} />
        {fieldErrors('name')}
      </div>
      <div className="field">
        <label className="field-label" htmlFor={ids.key}>
          {t(`${kind}.key`)}
        </label>
        {savedKey !== null ? (
          <code id={ids.key} className="key-readonly" data-testid={`${kind}-key`}>
            {savedKey}
          </code>
        ) : (
          <input
            id={ids.key}
            className="input mono"
            maxLength={100}
            value={draft.key}
            placeholder={t('computed.keyPlaceholder')}
            aria-invalid={keyInvalid}
            onChange={(e) => onChange({ ...draft, key: e.target.value })}
            data-testid={`${kind}-key`}
          />
        )}
        <p className={keyInvalid ? 'field-error' : 'field-hint'}>{savedKey !== null ? t('computed.keyFixed') : t('computed.keyHint')}</p>
        {fieldErrors('key')}
      </div>
      <div className="field">
        <label className="field-label" htmlFor={ids.description}>
          {t(`${kind}.description`)}
        </label>
        <textarea
          id={ids.description}
          className="input textarea"
          rows={2}
          maxLength={2000}
          value={draft.description}
          onChange={(e) => onChange({ ...draft, description: e.target.value })}
          data-testid={`${kind}-description`}
        />
      </div>
    </section>
  );
}
