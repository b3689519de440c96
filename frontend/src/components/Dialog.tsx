import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

interface DialogProps {
  title: string;
  onClose(): void;
  children: ReactNode;
  footer?: ReactNode;
  onSubmit?(): void;
  testId?: string;
}

/** A modal on the native <dialog> element: focus trapping, Escape and the backdrop come for free. */
export function Dialog({ title, onClose, children, footer, onSubmit, testId }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal?.();
  }, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit?.();
  };
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={titleId} onClose={onClose} onCancel={onClose} data-testid={testId}>
      <form method="dialog" onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        <div className="dialog-body">{children}</div>
        {footer && <div className="dialog-footer">{footer}</div>}
      </form>
    </dialog>
  );
}

interface PromptProps {
  title: string;
  label: string;
  initial?: string;
  confirm: string;
  required?: boolean;
  onClose(): void;
  onConfirm(value: string): Promise<void> | void;
  testId: string;
}

/** Ask for one line of text (a name, a note) and run `onConfirm` with it, showing its error if it fails. */
export function PromptDialog({ title, label, initial = '', confirm, required = true, onClose, onConfirm, testId }: PromptProps) {
  const { t } = useTranslation();
  const [value, setValue] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();
  const submit = async () => {
    if (required && !value.trim()) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm(value.trim());
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={submit}
      testId={testId}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || (required && !value.trim())} data-testid={`${testId}-confirm`}>
            {confirm}
          </button>
        </>
      }
    >
      <label className="field-label" htmlFor={inputId}>
        {label}
      </label>
      <input
        id={inputId}
        className="input"
        autoFocus
        value={value}
        onChange={(e) => setValue(e.target.value)}
        data-testid={`${testId}-input`}
      />
      {error && <p className="form-error">{error}</p>}
    </Dialog>
  );
}
