/** Text inputs for template fields: they take variables from the variables panel (at the caret) and
 * show the server's problems for their JSON pointer with line and column. */
import { forwardRef, useId, useImperativeHandle, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { TemplateProblem } from '../api/types';
import { setInsertTarget, spliceInto } from './insert';

interface JinjaFieldProps {
  label: string;
  value: string;
  onChange(value: string): void;
  problems?: TemplateProblem[];
  multiline?: boolean;
  rows?: number;
  placeholder?: string;
  hint?: ReactNode;
  testId: string;
  /** Shown after the label (a counter, a toolbar). */
  extra?: ReactNode;
  mono?: boolean;
}

export interface JinjaFieldHandle {
  element: HTMLInputElement | HTMLTextAreaElement | null;
}

export const JinjaField = forwardRef<JinjaFieldHandle, JinjaFieldProps>(function JinjaField(
  { label, value, onChange, problems = [], multiline, rows = 4, placeholder, hint, testId, extra, mono },
  ref,
) {
  const id = useId();
  const element = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  useImperativeHandle(ref, () => ({ element: element.current }), []);
  const onFocus = () => {
    setInsertTarget({
      insert: (text) => {
        if (element.current) onChange(spliceInto(element.current, text));
      },
    });
  };
  const common = {
    id,
    ref: element,
    value,
    placeholder,
    onFocus,
    onChange: (e: { target: { value: string } }) => onChange(e.target.value),
    'data-testid': testId,
    'aria-invalid': problems.length > 0 || undefined,
  };
  return (
    <div className={`field${problems.length ? ' invalid' : ''}`}>
      <div className="field-label-row">
        <label className="field-label" htmlFor={id}>
          {label}
        </label>
        {extra}
      </div>
      {multiline ? <textarea className={`input textarea${mono ? ' mono' : ''}`} rows={rows} {...common} /> : <input className={`input${mono ? ' mono' : ''}`} {...common} />}
      {hint && <p className="field-hint">{hint}</p>}
      <ProblemList problems={problems} testId={`${testId}-problems`} />
    </div>
  );
});

export function ProblemList({ problems, testId }: { problems: TemplateProblem[]; testId?: string }) {
  const { t } = useTranslation();
  if (!problems.length) return null;
  return (
    <ul className="problem-list" data-testid={testId}>
      {problems.map((p, i) => (
        <li key={i} className="field-error" role="alert" data-line={p.line ?? undefined} data-column={p.column ?? undefined}>
          {p.line ? <span className="problem-at">{t('tpl.lineColumn', { line: p.line, column: p.column ?? 1 })}</span> : null}
          {p.message}
        </li>
      ))}
    </ul>
  );
}

/** Problems whose pointer is `pointer` (or inside it). */
export function problemsAt(problems: TemplateProblem[], pointer: string): TemplateProblem[] {
  return problems.filter((p) => p.pointer === pointer || p.pointer.startsWith(`${pointer}/`));
}
