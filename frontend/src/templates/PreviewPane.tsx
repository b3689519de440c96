/** Live preview rendered by the server for a chosen contact — of the editor's in-memory draft (sent with
 * the request, not waiting for the autosave) or of a published version: e-mail in a sandboxed iframe (no
 * scripts, desktop or mobile width), SMS as a phone bubble with its segments, WeChat as a template-message
 * card, push as a notification. */
import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { contacts, templates } from '../api/endpoints';
import type { Channel, ContactSummary, TemplateDraft, TemplatePreview } from '../api/types';
import { useDebounced } from '../components/useDebounced';
import { countSegments, type SegmentCount } from './segments';
import { TIcon } from './TIcon';

/** The preview follows typing: it asks the server this long after the last change. */
export const PREVIEW_DEBOUNCE_MS = 300;

export const contactLabel = (c: Pick<ContactSummary, 'id' | 'email' | 'phone' | 'external_id'>) => c.email || c.phone || c.external_id || `#${c.id}`;

interface PreviewPaneProps {
  templateId: string;
  channel: Channel;
  /** The editor's draft as it is now, saved or not: the preview renders its `channel` body. */
  draft: TemplateDraft;
  contact: ContactSummary | null;
  onContact(contact: ContactSummary | null): void;
  onSendTest(): void;
  /** The draft's own SMS text (for the live counter while typing). */
  smsSource: string;
  version: number | null;
  onVersion(version: number | null): void;
}

export function PreviewPane({ templateId, channel, draft, contact, onContact, onSendTest, smsSource, version, onVersion }: PreviewPaneProps) {
  const { t } = useTranslation();
  const [preview, setPreview] = useState<TemplatePreview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [width, setWidth] = useState<'desktop' | 'mobile'>('desktop');
  const generation = useRef(0);
  // Only this channel's body (the server compiles every body it is sent, MJML included); none for a
  // published version, which then does not ask again while the draft changes.
  const body = version === null ? draft[channel] : undefined;

  useEffect(() => {
    const mine = ++generation.current;
    setLoading(true);
    const timer = setTimeout(() => {
      const unsaved = body !== undefined ? { draft: { [channel]: body } } : {};
      templates.preview(templateId, { channel, contact_id: contact?.id ?? null, version, ...unsaved }).then(
        (result) => {
          if (mine !== generation.current) return;
          setPreview(result);
          setError(null);
          setLoading(false);
        },
        (err: unknown) => {
          if (mine !== generation.current) return;
          setError(err instanceof Error ? err.message : String(err));
          setLoading(false);
        },
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [templateId, channel, body, contact?.id, version]);

  const fields = preview?.channel === channel ? preview.fields : null;

  return (
    <aside className="preview-pane" data-testid="preview-pane" aria-label={t('preview.title')} aria-busy={loading}>
      <div className="preview-head">
        <h2 className="panel-title">
          <TIcon name="eye" size={14} />
          {t('preview.title')}
          {loading && <span className="spinner small" aria-hidden="true" />}
        </h2>
        <button type="button" className="button small primary" onClick={onSendTest} data-testid="send-test">
          <TIcon name="send" size={14} />
          {t('sendTest.button')}
        </button>
      </div>
      <ContactPicker contact={contact} onChange={onContact} />
      {version !== null && (
        <p className="preview-version small">
          {t('preview.showingVersion', { n: version })}
          <button type="button" className="link-button" onClick={() => onVersion(null)} data-testid="preview-draft">
            {t('preview.backToDraft')}
          </button>
        </p>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="preview-error">
          {error}
        </p>
      )}
      {preview && preview.missing.length > 0 && (
        <div className="preview-missing" data-testid="preview-missing">
          <TIcon name="alert" size={14} />
          <span>
            {t('preview.missing', { count: preview.missing.length })} {preview.missing.map((m) => <code key={m}>{m}</code>)}
          </span>
        </div>
      )}
      {preview && preview.problems.length > 0 && (
        <ul className="problem-list" data-testid="preview-problems">
          {preview.problems.map((p, i) => (
            <li key={i} className="field-error">
              {p.line ? `${t('tpl.lineColumn', { line: p.line, column: p.column ?? 1 })} ` : ''}
              {p.message}
            </li>
          ))}
        </ul>
      )}
      {channel === 'email' && (
        <EmailPreview fields={fields} width={width} onWidth={setWidth} />
      )}
      {channel === 'sms' && <SmsPreview text={fields?.text ?? ''} rendered={preview?.sms ?? null} source={smsSource} />}
      {channel === 'wechat' && <WechatPreview fields={fields ?? {}} />}
      {channel === 'push' && <PushPreview fields={fields ?? {}} />}
    </aside>
  );
}

function EmailPreview({ fields, width, onWidth }: { fields: Record<string, string> | null; width: 'desktop' | 'mobile'; onWidth(w: 'desktop' | 'mobile'): void }) {
  const { t } = useTranslation();
  return (
    <>
      <div className="segmented compact preview-widths" role="radiogroup" aria-label={t('preview.width')}>
        {(['desktop', 'mobile'] as const).map((w) => (
          <button key={w} type="button" role="radio" aria-checked={width === w} className={width === w ? 'active' : ''} onClick={() => onWidth(w)} data-testid={`preview-width-${w}`}>
            <TIcon name={w === 'desktop' ? 'monitor' : 'smartphone'} size={14} />
            {t(`preview.${w}`)}
          </button>
        ))}
      </div>
      <div className="email-envelope" data-testid="preview-envelope">
        <div>
          <span className="muted">{t('tpl.sender')}:</span> <span data-testid="preview-sender">{fields?.sender || t('preview.defaultSender')}</span>
        </div>
        <div>
          <span className="muted">{t('tpl.subject')}:</span> <strong data-testid="preview-subject">{fields?.subject ?? ''}</strong>
        </div>
        {fields?.preheader && <div className="muted small" data-testid="preview-preheader">{fields.preheader}</div>}
      </div>
      <div className={`email-frame-wrap ${width}`}>
        {/* sandbox="" : no scripts, no forms, no same-origin access; srcdoc keeps it off the network path */}
        <iframe
          title={t('preview.emailFrame')}
          sandbox=""
          srcDoc={fields?.html ?? ''}
          className="email-frame"
          style={{ width: width === 'desktop' ? '100%' : 375 }}
          data-testid="preview-frame"
        />
      </div>
    </>
  );
}

export function SegmentInfo({ count, testId }: { count: SegmentCount; testId: string }) {
  const { t } = useTranslation();
  return (
    <span className={`segment-info${count.segments > 1 ? ' multi' : ''}`} data-testid={testId} data-segments={count.segments} data-encoding={count.encoding}>
      {t('sms.segments', { count: count.segments })} · {count.encoding} · {t('sms.units', { units: count.units, remaining: count.remaining })}
      {count.non_gsm.length > 0 && (
        <span className="muted" title={count.non_gsm.join(' ')}>
          {' '}
          · {t('sms.unicodeBecause', { chars: count.non_gsm.slice(0, 5).join(' ') })}
        </span>
      )}
    </span>
  );
}

function SmsPreview({ text, rendered, source }: { text: string; rendered: SegmentCount | null; source: string }) {
  const { t } = useTranslation();
  const count = rendered ?? countSegments(text);
  return (
    <div className="phone" data-testid="sms-phone">
      <div className="phone-screen">
        <div className="phone-header small muted">{t('sms.now')}</div>
        {text ? (
          <div className="sms-bubble" data-testid="sms-bubble">
            {text}
          </div>
        ) : (
          <p className="muted small">{source ? t('preview.rendering') : t('sms.empty')}</p>
        )}
      </div>
      <p className="small">
        <SegmentInfo count={count} testId="sms-preview-segments" />
      </p>
    </div>
  );
}

function WechatPreview({ fields }: { fields: Record<string, string> }) {
  const { t } = useTranslation();
  const keywords = Object.entries(fields)
    .filter(([k]) => k.startsWith('fields.'))
    .map(([k, v]) => [k.slice('fields.'.length), v] as const);
  const first = keywords.find(([k]) => k === 'first');
  const remark = keywords.find(([k]) => k === 'remark');
  const rest = keywords.filter(([k]) => k !== 'first' && k !== 'remark');
  const link = fields.url || fields['miniprogram.pagepath'];
  return (
    <div className="wechat-card" data-testid="wechat-card">
      <div className="wechat-title">{fields.template_id ? t('wechat.cardTitle', { id: fields.template_id }) : t('wechat.noTemplate')}</div>
      {first && <p className="wechat-first">{first[1]}</p>}
      <dl className="wechat-fields">
        {rest.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd data-testid={`wechat-card-${k}`}>{v}</dd>
          </div>
        ))}
      </dl>
      {remark && <p className="wechat-remark">{remark[1]}</p>}
      {link && (
        <div className="wechat-link">
          <span>{fields['miniprogram.appid'] ? t('wechat.openMiniProgram') : t('wechat.details')}</span>
          <span aria-hidden="true">›</span>
        </div>
      )}
    </div>
  );
}

function PushPreview({ fields }: { fields: Record<string, string> }) {
  const { t } = useTranslation();
  return (
    <div className="push-screen">
      <div className="push-notification" data-testid="push-notification">
        <div className="push-app small muted">
          <span className="push-app-icon" aria-hidden="true" />
          {t('push.appName')} · {t('sms.now')}
        </div>
        <div className="push-body">
          <div>
            <strong>{fields.title || t('push.noTitle')}</strong>
            <p>{fields.body}</p>
          </div>
          {fields.image && /^https?:\/\//.test(fields.image) && <img src={fields.image} alt="" referrerPolicy="no-referrer" />}
        </div>
      </div>
      {fields.link && (
        <p className="small muted">
          {t('push.opens')} <code>{fields.link}</code>
        </p>
      )}
    </div>
  );
}

/** Search contacts (`/api/contacts?q=`) and pick one to render the preview for. */
export function ContactPicker({ contact, onChange, testId = 'preview-contact' }: { contact: ContactSummary | null; onChange(contact: ContactSummary | null): void; testId?: string }) {
  const { t } = useTranslation();
  const [query, setQuery] = useState('');
  const [open, setOpen] = useState(false);
  const [results, setResults] = useState<ContactSummary[]>([]);
  const q = useDebounced(query.trim(), 200);
  const listId = useId();

  useEffect(() => {
    if (!open) return;
    let live = true;
    contacts.search(q).then(
      (page) => live && setResults(page.items.slice(0, 8)),
      () => live && setResults([]),
    );
    return () => {
      live = false;
    };
  }, [q, open]);

  if (contact && !open) {
    return (
      <div className="contact-picked" data-testid={`${testId}-picked`}>
        <TIcon name="users" size={14} />
        <span className="strong">{contactLabel(contact)}</span>
        <button type="button" className="link-button" onClick={() => setOpen(true)} data-testid={`${testId}-change`}>
          {t('preview.changeContact')}
        </button>
        <button type="button" className="link-button" onClick={() => onChange(null)} data-testid={`${testId}-clear`}>
          {t('preview.sampleData')}
        </button>
      </div>
    );
  }
  return (
    <div className="contact-picker">
      <input
        className="input small"
        type="search"
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        value={query}
        placeholder={t('preview.pickContact')}
        aria-label={t('preview.pickContact')}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onChange={(e) => setQuery(e.target.value)}
        data-testid={testId}
      />
      {open && (
        <ul className="contact-options" id={listId} role="listbox">
          {results.map((c) => (
            <li key={c.id} role="option" aria-selected={contact?.id === c.id}>
              <button
                type="button"
                onMouseDown={(e) => e.preventDefault()}
                onClick={() => {
                  onChange(c);
                  setOpen(false);
                  setQuery('');
                }}
                data-testid={`${testId}-option-${c.id}`}
              >
                <span className="strong">{contactLabel(c)}</span>
                {c.external_id && c.external_id !== contactLabel(c) && <span className="muted small"> {c.external_id}</span>}
              </button>
            </li>
          ))}
          {results.length === 0 && <li className="muted small">{t('preview.noContacts')}</li>}
        </ul>
      )}
      {!contact && <p className="small muted">{t('preview.sampleHint')}</p>}
    </div>
  );
}
