/** Add or change a contact's product or subscription. Dates are calendar days in the contact's time
 * zone, as the subscription rules count them; the form says how many days away the end is. */
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import type { Subscription, SubscriptionSave } from '../api/types';
import { Dialog } from '../components/Dialog';
import { parseDuration } from '../schema-form/duration';
import { dayToInstant, daysFromToday, instantToDay, validZone } from './zonedDates';

interface Props {
  subscription?: Subscription;
  timezone: string | null;
  packages: readonly string[];
  onClose(): void;
  onSave(body: SubscriptionSave): Promise<void>;
}

const STATUSES = ['active', 'trial', 'cancelled', 'expired'];

export function SubscriptionDialog({ subscription, timezone, packages, onClose, onSave }: Props) {
  const { t } = useTranslation();
  const ids = { name: useId(), names: useId(), status: useId(), statuses: useId(), start: useId(), end: useId(), duration: useId(), renew: useId() };
  const zone = validZone(timezone);
  const [name, setName] = useState(subscription?.name ?? '');
  const [status, setStatus] = useState(subscription?.status ?? 'active');
  const [start, setStart] = useState(instantToDay(subscription?.start_at, zone));
  const [end, setEnd] = useState(instantToDay(subscription?.end_at, zone));
  const initialDays = subscription?.duration ? parseDuration(subscription.duration) : null;
  const [durationDays, setDurationDays] = useState(initialDays !== null ? String(Math.round(initialDays / 86400)) : '');
  const [autoRenew, setAutoRenew] = useState(subscription?.auto_renew ?? false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const endIn = end ? daysFromToday(end, zone) : null;

  const submit = async () => {
    if (!name.trim()) return;
    setBusy(true);
    setError(null);
    const body: SubscriptionSave = {
      name: name.trim(),
      status: status.trim() || 'active',
      start_at: start ? dayToInstant(start, zone) : null,
      end_at: end ? dayToInstant(end, zone) : null,
      duration: durationDays ? `P${Math.max(0, Math.trunc(Number(durationDays)))}D` : null,
      auto_renew: autoRenew,
    };
    try {
      await onSave(body);
      onClose();
    } catch (err) {
      setError(err instanceof ApiError ? [err.detail ?? err.message, ...err.problems.map((p) => p.message)].filter((v, i, a) => a.indexOf(v) === i).join('; ') : (err as Error).message);
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={subscription ? t('subscription.editTitle', { name: subscription.name }) : t('subscription.addTitle')}
      onClose={onClose}
      onSubmit={submit}
      testId="subscription-form"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !name.trim()} data-testid="subscription-form-save">
            {subscription ? t('common.save') : t('subscription.add')}
          </button>
        </>
      }
    >
      <div className="dialog-grid">
        <div className="field">
          <label className="field-label" htmlFor={ids.name}>
            {t('subscription.name')}
          </label>
          <input id={ids.name} className="input" list={ids.names} autoComplete="off" autoFocus required value={name} onChange={(e) => setName(e.target.value)} data-testid="subscription-form-name" />
          <datalist id={ids.names}>
            {packages.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.status}>
            {t('subscription.status')}
          </label>
          <input id={ids.status} className="input" list={ids.statuses} autoComplete="off" value={status} onChange={(e) => setStatus(e.target.value)} data-testid="subscription-form-status" />
          <datalist id={ids.statuses}>
            {STATUSES.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.start}>
            {t('subscription.start')}
          </label>
          <input id={ids.start} className="input" type="date" value={start} onChange={(e) => setStart(e.target.value)} data-testid="subscription-form-start" />
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.end}>
            {t('subscription.end')}
          </label>
          <input id={ids.end} className="input" type="date" value={end} onChange={(e) => setEnd(e.target.value)} data-testid="subscription-form-end" />
          {endIn !== null && (
            <p className="field-hint" data-testid="subscription-form-end-hint">
              {endIn > 0 ? t('subscription.endsIn', { count: endIn }) : endIn === 0 ? t('subscription.endsToday') : t('subscription.ended', { count: -endIn })}
            </p>
          )}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.duration}>
            {t('subscription.duration')}
          </label>
          <input id={ids.duration} className="input" type="number" min={0} step={1} value={durationDays} onChange={(e) => setDurationDays(e.target.value)} data-testid="subscription-form-duration" />
          <p className="field-hint">{t('subscription.durationHint')}</p>
        </div>
        <div className="field">
          <span className="field-label">{t('subscription.autoRenew')}</span>
          <label className="checkbox-row" htmlFor={ids.renew}>
            <input id={ids.renew} type="checkbox" checked={autoRenew} onChange={(e) => setAutoRenew(e.target.checked)} data-testid="subscription-form-auto-renew" />
            <span>{t('subscription.autoRenewOn')}</span>
          </label>
        </div>
      </div>
      <p className="muted small">{t('subscription.zoneHint', { zone })}</p>
      {error && (
        <p className="form-error" role="alert" data-testid="subscription-form-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}
