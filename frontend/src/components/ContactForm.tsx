/** Add or edit a contact by hand: identifiers, channels, tags, time zone and attributes. */
import { useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import type { Contact, ContactSave } from '../api/types';
import { parseLoose, showLoose } from '../schema-form/fields';
import { Dialog } from './Dialog';
import { Icon } from './Icon';

interface Props {
  /** Absent: a new contact. */
  contact?: Contact;
  onClose(): void;
  onSave(body: ContactSave): Promise<void>;
}

interface Row {
  key: string;
  value: string;
}

const TIME_ZONES: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
})();

export function ContactFormDialog({ contact, onClose, onSave }: Props) {
  const { t } = useTranslation();
  const ids = { external: useId(), email: useId(), phone: useId(), tags: useId(), tz: useId(), tzList: useId(), locale: useId() };
  const [externalId, setExternalId] = useState(contact?.external_id ?? '');
  const [email, setEmail] = useState(contact?.email ?? '');
  const [phone, setPhone] = useState(contact?.phone ?? '');
  const [tags, setTags] = useState((contact?.tags ?? []).join(', '));
  const [timezone, setTimezone] = useState(contact?.timezone ?? '');
  const [locale, setLocale] = useState(contact?.locale ?? '');
  const [rows, setRows] = useState<Row[]>(() => Object.entries(contact?.attributes ?? {}).map(([key, value]) => ({ key, value: showLoose(value) })));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const nothing = !externalId.trim() && !email.trim() && !phone.trim();
  const tagList = useMemo(() => [...new Set(tags.split(/[,\n]/).map((s) => s.trim()).filter(Boolean))], [tags]);

  const submit = async () => {
    if (nothing) return;
    setBusy(true);
    setError(null);
    setFieldErrors({});
    const attributes: Record<string, unknown> = {};
    for (const row of rows) if (row.key.trim()) attributes[row.key.trim()] = parseLoose(row.value);
    // Editing merges attributes: the ones taken out are sent as null, which removes them.
    if (contact) for (const key of Object.keys(contact.attributes ?? {})) if (!(key in attributes)) attributes[key] = null;
    const body: ContactSave = {
      external_id: externalId.trim() || null,
      email: email.trim() || null,
      phone: phone.trim() || null,
      tags: tagList,
      timezone: timezone.trim() || null,
      locale: locale.trim() || null,
      attributes,
    };
    try {
      await onSave(body);
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.problems.length) {
        const byField: Record<string, string> = {};
        const rest: string[] = [];
        for (const p of err.problems) {
          const field = p.pointer.split('/')[1] ?? '';
          if (field && ['external_id', 'email', 'phone', 'timezone', 'locale', 'tags'].includes(field)) byField[field] = p.message;
          else rest.push(p.message);
        }
        setFieldErrors(byField);
        setError(rest.length ? rest.join('; ') : null);
      } else {
        setError(err instanceof ApiError ? (err.detail ?? err.message) : (err as Error).message);
      }
      setBusy(false);
    }
  };

  const fieldError = (name: string) =>
    fieldErrors[name] ? (
      <p className="field-error" role="alert" data-testid={`contact-form-${name}-error`}>
        {fieldErrors[name]}
      </p>
    ) : null;

  return (
    <Dialog
      title={contact ? t('contactForm.editTitle') : t('contactForm.addTitle')}
      onClose={onClose}
      onSubmit={submit}
      testId="contact-form"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || nothing} data-testid="contact-form-save">
            {contact ? t('common.save') : t('contacts.add')}
          </button>
        </>
      }
    >
      <p className="muted small">{t('contactForm.hint')}</p>
      <div className="dialog-grid">
        <div className="field">
          <label className="field-label" htmlFor={ids.email}>
            {t('contact.email')}
          </label>
          <input id={ids.email} className="input" type="email" autoFocus value={email} onChange={(e) => setEmail(e.target.value)} data-testid="contact-form-email" />
          {fieldError('email')}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.phone}>
            {t('contact.phone')}
          </label>
          <input id={ids.phone} className="input" type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} data-testid="contact-form-phone" />
          {fieldError('phone')}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.external}>
            {t('contact.externalId')}
          </label>
          <input id={ids.external} className="input" value={externalId} onChange={(e) => setExternalId(e.target.value)} data-testid="contact-form-external-id" />
          {fieldError('external_id')}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.tags}>
            {t('contactForm.tags')}
          </label>
          <input id={ids.tags} className="input" value={tags} onChange={(e) => setTags(e.target.value)} data-testid="contact-form-tags" />
          {fieldError('tags')}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.tz}>
            {t('contact.timezone')}
          </label>
          <input id={ids.tz} className="input" list={ids.tzList} autoComplete="off" placeholder="Europe/Warsaw" value={timezone} onChange={(e) => setTimezone(e.target.value)} data-testid="contact-form-timezone" />
          <datalist id={ids.tzList}>
            {TIME_ZONES.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
          {fieldError('timezone')}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.locale}>
            {t('contact.locale')}
          </label>
          <input id={ids.locale} className="input" value={locale} placeholder="pl-PL" onChange={(e) => setLocale(e.target.value)} data-testid="contact-form-locale" />
          {fieldError('locale')}
        </div>
      </div>
      <fieldset className="plain-fieldset">
        <legend className="field-label">{t('contact.attributes')}</legend>
        {rows.map((row, i) => (
          <div key={i} className="attribute-row">
            <input
              className="input"
              aria-label={t('contactForm.attributeName')}
              value={row.key}
              onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, key: e.target.value } : r)))}
              data-testid={`contact-form-attr-${i}-key`}
            />
            <input
              className="input"
              aria-label={t('contactForm.attributeValue')}
              value={row.value}
              onChange={(e) => setRows(rows.map((r, j) => (j === i ? { ...r, value: e.target.value } : r)))}
              data-testid={`contact-form-attr-${i}-value`}
            />
            <button type="button" className="icon-button" aria-label={t('form.remove')} onClick={() => setRows(rows.filter((_, j) => j !== i))}>
              <Icon name="trash" size={14} />
            </button>
          </div>
        ))}
        <button type="button" className="button small" onClick={() => setRows([...rows, { key: '', value: '' }])} data-testid="contact-form-attr-add">
          <Icon name="plus" size={14} />
          {t('contactForm.addAttribute')}
        </button>
      </fieldset>
      {nothing && <p className="field-hint">{t('contactForm.needOne')}</p>}
      {error && (
        <p className="form-error" role="alert" data-testid="contact-form-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}
