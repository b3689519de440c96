import { useEffect, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { catalog, contacts, journeys } from '../api/endpoints';
import type { Contact, ContactJourney, Subscription, Vocabulary } from '../api/types';
import { useIsViewer } from '../auth/session';
import { ContactFormDialog } from '../components/ContactForm';
import { Dialog } from '../components/Dialog';
import { Icon } from '../components/Icon';
import { toast } from '../components/toast';
import '../audiences/audiences.css';
import { SubscriptionDialog } from './SubscriptionDialog';
import { daysFromToday, instantToDay, validZone } from './zonedDates';
import { LoadMore } from '../components/PagedTable';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { Tags } from '../components/Tags';
import { useAsync } from '../components/useAsync';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

function Section({ title, children, testId, action, wide }: { title: string; children: ReactNode; testId: string; action?: ReactNode; wide?: boolean }) {
  return (
    <section className={wide ? 'card section wide' : 'card section'} data-testid={testId}>
      {action ? (
        <div className="section-header">
          <h2>{title}</h2>
          {action}
        </div>
      ) : (
        <h2>{title}</h2>
      )}
      {children}
    </section>
  );
}

function Pairs({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="pairs">
      {rows.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

const show = (value: unknown): string =>
  value === null || value === undefined ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value);

export default function ContactPage() {
  const { id = '' } = useParams();
  const contact = useAsync(() => contacts.get(id), [id]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  if (contact.error) return <ErrorNotice error={contact.error} onRetry={contact.reload} />;
  if (!contact.data) return <Loading />;
  return <ContactView contact={contact.data} vocabulary={vocabulary.data ?? null} reload={contact.reload} />;
}

/** Each score of the workspace: the contact's level, or "no score" when no scored event counts, with the
 * events that made it ("3 × email_clicked: 15 points"). Reloaded with the contact's events. */
function ContactScores({ contactId }: { contactId: number }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const list = useAsync(() => contacts.scores(contactId), [contactId]);
  const items = list.data ?? [];
  if (list.data && items.length === 0) return null;
  return (
    <Section title={t('contact.scores')} testId="contact-scores">
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error && <Loading />}
      <ul className="plain-list score-levels">
        {items.map((s) => (
          <li key={s.key} data-testid={`contact-score-${s.key}`} data-level={s.level ?? ''}>
            <div className="score-line">
              <span className="strong">{s.name}</span>
              {s.level === null ? (
                <span className="muted" data-testid={`contact-score-${s.key}-level`}>
                  {t('contact.noScore')}
                </span>
              ) : (
                <span data-testid={`contact-score-${s.key}-level`}>
                  <span className="score-level">{t('contact.scoreLevel', { level: s.level })}</span>{' '}
                  <span className="muted small">{t('contact.scorePoints', { points: fmt.number(s.points ?? 0) })}</span>
                </span>
              )}
            </div>
            {s.events.length > 0 && (
              <ul className="small muted" data-testid={`contact-score-${s.key}-events`}>
                {s.events.map((e) => (
                  <li key={e.event}>{t('contact.scoreEvent', { count: e.count, n: fmt.number(e.count), event: e.event, points: fmt.number(e.points) })}</li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </Section>
  );
}

/** A block's step raised for this contact: the error, and (for editors) a retry once the cause is fixed. */
function BlockFailure({ contactId, journey, onRetried }: { contactId: number; journey: ContactJourney; onRetried(): void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const viewer = useIsViewer();
  const [error, setError] = useState<Error | null>(null);
  if (!journey.error) return null;
  const retry = async () => {
    setError(null);
    try {
      await journeys.retryFailed(journey.journey_id, { contact_ids: [contactId] });
      onRetried();
    } catch (failure) {
      setError(failure instanceof Error ? failure : new Error(String(failure)));
    }
  };
  return (
    <div className="block-error small" data-testid={`contact-journey-error-${journey.journey_id}`}>
      <Icon name="alert" size={13} />{' '}
      {t('contact.failedAt', { block: journey.node_label || journey.node_id || '—', when: fmt.dateTime(journey.error.at) })}:{' '}
      <code>{`${journey.error.type}: ${journey.error.message}`}</code>
      {!viewer && (
        <button type="button" className="button small" onClick={() => void retry()} data-testid={`contact-journey-retry-${journey.journey_id}`}>
          {t('contact.retry')}
        </button>
      )}
      {error && <ErrorNotice error={error} />}
    </div>
  );
}

type Editing = { kind: 'contact' } | { kind: 'delete' } | { kind: 'subscription'; subscription?: Subscription } | { kind: 'removeSubscription'; subscription: Subscription };

function ContactView({ contact, vocabulary, reload }: { contact: Contact; vocabulary: Vocabulary | null; reload(): void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const navigate = useNavigate();
  const readOnly = useIsViewer();
  const [editing, setEditing] = useState<Editing | null>(null);
  const events = usePaged((cursor) => contacts.events(contact.id, cursor), [contact.id]);
  const title = contact.external_id || contact.email || t('contacts.anonymous', { id: contact.id });
  const zone = validZone(contact.timezone);
  const computedNames = new Map((vocabulary?.computed ?? []).map((c) => [c.key, c.name]));
  const computed = Object.entries(contact.computed ?? {});
  const setAutoRenew = async (subscription: Subscription, on: boolean) => {
    await contacts.updateSubscription(contact.id, subscription.id, { auto_renew: on });
    toast(on ? t('subscription.renewOn', { name: subscription.name }) : t('subscription.renewOff', { name: subscription.name }));
    reload();
  };
  const yesNo = (value: boolean | null | undefined) => (value === null || value === undefined ? '—' : value ? t('common.yes') : t('common.no'));
  const attributes = Object.entries(contact.attributes ?? {});
  const consent = Object.entries(contact.consent ?? {});

  return (
    <main className="page" data-testid="contact-page">
      <Link to="/contacts" className="back-link">
        <Icon name="arrow-left" />
        {t('contacts.title')}
      </Link>
      <div className="page-header">
        <div className="page-title">
          <h1>{title}</h1>
          <Tags tags={contact.tags} />
        </div>
        {!readOnly && (
          <div className="page-actions">
            <button type="button" className="button" onClick={() => setEditing({ kind: 'contact' })} data-testid="contact-edit">
              <Icon name="pencil" />
              {t('contact.edit')}
            </button>
            <button type="button" className="button danger" onClick={() => setEditing({ kind: 'delete' })} data-testid="contact-delete">
              <Icon name="trash" />
              {t('contact.delete')}
            </button>
          </div>
        )}
      </div>
      <div className="contact-grid">
        <Section title={t('contact.channels')} testId="contact-channels">
          <Pairs
            rows={[
              [t('contact.email'), contact.email ?? '—'],
              [t('contact.phone'), contact.phone ?? '—'],
              [t('contact.wechat'), contact.wechat_openid ?? '—'],
              [t('contact.push'), contact.push_tokens?.length ? fmt.number(contact.push_tokens.length) : '—'],
              [t('contact.externalId'), contact.external_id ?? '—'],
              [t('contact.timezone'), contact.timezone ?? '—'],
              [t('contact.locale'), contact.locale ?? '—'],
              [t('contact.created'), fmt.dateTime(contact.created_at)],
            ]}
          />
        </Section>
        <Section title={t('contact.consent')} testId="contact-consent">
          {consent.length === 0 ? (
            <p className="muted">{t('contact.noConsent')}</p>
          ) : (
            <Pairs rows={consent.map(([channel, ok]) => [t(`channel.${channel}`, { defaultValue: channel }), yesNo(ok)])} />
          )}
        </Section>
        <Section title={t('contact.attributes')} testId="contact-attributes">
          {attributes.length === 0 ? <p className="muted">{t('contact.noAttributes')}</p> : <Pairs rows={attributes.map(([k, v]) => [k, show(v)])} />}
        </Section>
        <Section title={t('contact.journeys')} testId="contact-journeys">
          {contact.journeys.length === 0 ? (
            <p className="muted">{t('contact.noJourneys')}</p>
          ) : (
            <ul className="plain-list">
              {contact.journeys.map((j) => (
                <li key={`${j.journey_id}-${j.entered_at}`}>
                  <Link to={`/journeys/${j.journey_id}`} className="strong">
                    {j.name}
                  </Link>
                  <div className="muted small">
                    {t('contact.atBlock', { block: j.node_label || j.node_id || '—' })} · {t(`enrollment.${j.status}`, { defaultValue: j.status })} ·{' '}
                    {t('contact.enteredAt', { when: fmt.dateTime(j.entered_at) })}
                  </div>
                  {j.status === 'failed' && <BlockFailure contactId={contact.id} journey={j} onRetried={reload} />}
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title={t('contact.segments')} testId="contact-segments">
          {(contact.segments ?? []).length === 0 ? (
            <p className="muted">{t('contact.noSegments')}</p>
          ) : (
            <ul className="plain-list">
              {(contact.segments ?? []).map((s) => (
                <li key={s.id} data-testid={`contact-segment-${s.key}`}>
                  <Link to={`/segments/${s.id}`} className="strong">
                    {s.name}
                  </Link>
                  <div className="muted small" title={fmt.dateTime(s.entered_at)}>
                    {t('contact.inSegmentSince', { when: fmt.dateTime(s.entered_at) })}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Section>
        <ContactScores contactId={contact.id} />
        <Section title={t('contact.computed')} testId="contact-computed">
          {computed.length === 0 ? (
            <p className="muted">{t('contact.noComputed')}</p>
          ) : (
            <Pairs
              rows={computed.map(([key, value]) => [
                computedNames.get(key) ?? key,
                <span key={key} data-testid={`contact-computed-${key}`} data-value={show(value)}>
                  {typeof value === 'number' ? fmt.number(value) : show(value)}
                </span>,
              ])}
            />
          )}
        </Section>
        <Section
          title={t('contact.subscriptions')}
          testId="contact-subscriptions"
          wide
          action={
            !readOnly && (
              <button type="button" className="button small" onClick={() => setEditing({ kind: 'subscription' })} data-testid="subscription-add">
                <Icon name="plus" size={14} />
                {t('subscription.add')}
              </button>
            )
          }
        >
          {contact.subscriptions.length === 0 ? (
            <p className="muted">{t('contact.noSubscriptions')}</p>
          ) : (
            <div className="table-scroll">
              <table className="table compact">
                <thead>
                  <tr>
                    <th>{t('contact.sub.name')}</th>
                    <th>{t('contact.sub.status')}</th>
                    <th>{t('contact.sub.ends')}</th>
                    <th>{t('contact.sub.autoRenew')}</th>
                    <th>
                      <span className="visually-hidden">{t('segments.col.actions')}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {contact.subscriptions.map((s) => {
                    const endDay = instantToDay(s.end_at, zone);
                    const endIn = endDay ? daysFromToday(endDay, zone) : null;
                    return (
                      <tr key={s.id} data-testid={`subscription-${s.id}`}>
                        <td>
                          <span className="strong">{s.name}</span>
                          {s.start_at && <span className="subscription-note">{t('subscription.since', { when: fmt.date(s.start_at) })}</span>}
                        </td>
                        <td>{s.status || '—'}</td>
                        <td>
                          {fmt.date(s.end_at)}
                          {endIn !== null && (
                            <span className="subscription-note" data-testid={`subscription-${s.id}-ends-in`}>
                              {endIn > 0 ? t('subscription.endsIn', { count: endIn }) : endIn === 0 ? t('subscription.endsToday') : t('subscription.ended', { count: -endIn })}
                            </span>
                          )}
                        </td>
                        <td>
                          <AutoRenewSwitch subscription={s} disabled={readOnly} onChange={(on) => setAutoRenew(s, on)} />
                          {!s.auto_renew && s.auto_renew_before && <span className="subscription-note">{t('subscription.wasOn')}</span>}
                        </td>
                        <td>
                          <div className="row-actions">
                          {!readOnly && (
                            <>
                              <button
                                type="button"
                                className="icon-button"
                                aria-label={t('subscription.editOne', { name: s.name })}
                                onClick={() => setEditing({ kind: 'subscription', subscription: s })}
                                data-testid={`subscription-${s.id}-edit`}
                              >
                                <Icon name="pencil" size={14} />
                              </button>
                              <button
                                type="button"
                                className="icon-button"
                                aria-label={t('subscription.removeOne', { name: s.name })}
                                onClick={() => setEditing({ kind: 'removeSubscription', subscription: s })}
                                data-testid={`subscription-${s.id}-remove`}
                              >
                                <Icon name="trash" size={14} />
                              </button>
                            </>
                          )}
                          </div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Section>
        <Section title={t('contact.timeline')} testId="contact-timeline">
          {events.error && <ErrorNotice error={events.error} onRetry={events.reload} />}
          {events.loading && events.items.length === 0 ? (
            <Loading />
          ) : events.items.length === 0 ? (
            <Empty message={t('contact.noEvents')} />
          ) : (
            <ol className="timeline">
              {events.items.map((event) => (
                <li key={event.id}>
                  <span className="timeline-dot" aria-hidden="true" />
                  <div>
                    <span className="strong">{event.name}</span>
                    <span className="muted small"> · {fmt.dateTime(event.occurred_at)}</span>
                    {Object.keys(event.properties ?? {}).length > 0 && <code className="props">{JSON.stringify(event.properties)}</code>}
                  </div>
                </li>
              ))}
            </ol>
          )}
          <LoadMore list={events} />
        </Section>
      </div>
      {editing?.kind === 'contact' && (
        <ContactFormDialog
          contact={contact}
          onClose={() => setEditing(null)}
          onSave={async (body) => {
            await contacts.update(contact.id, body);
            toast(t('contact.saved'));
            reload();
          }}
        />
      )}
      {editing?.kind === 'delete' && (
        <ConfirmDialog
          title={t('contact.deleteTitle', { name: title })}
          body={t('contact.deleteBody')}
          confirm={t('contact.deleteConfirm')}
          testId="contact-delete-dialog"
          onClose={() => setEditing(null)}
          onConfirm={async () => {
            await contacts.remove(contact.id);
            toast(t('contact.deleted', { name: title }));
            navigate('/contacts');
          }}
        />
      )}
      {editing?.kind === 'subscription' && (
        <SubscriptionDialog
          subscription={editing.subscription}
          timezone={contact.timezone}
          packages={vocabulary?.packages ?? []}
          onClose={() => setEditing(null)}
          onSave={async (body) => {
            if (editing.subscription) await contacts.updateSubscription(contact.id, editing.subscription.id, body);
            else await contacts.addSubscription(contact.id, body);
            toast(t('subscription.saved', { name: body.name ?? '' }));
            reload();
          }}
        />
      )}
      {editing?.kind === 'removeSubscription' && (
        <ConfirmDialog
          title={t('subscription.removeTitle', { name: editing.subscription.name })}
          body={t('subscription.removeBody')}
          confirm={t('subscription.remove')}
          testId="subscription-remove-dialog"
          onClose={() => setEditing(null)}
          onConfirm={async () => {
            await contacts.removeSubscription(contact.id, editing.subscription.id);
            toast(t('subscription.removed', { name: editing.subscription.name }));
            reload();
          }}
        />
      )}
    </main>
  );
}

/** Auto-renew on/off in the list: switches at once, saves, and goes back (with the reason) if refused. */
function AutoRenewSwitch({ subscription, disabled, onChange }: { subscription: Subscription; disabled: boolean; onChange(on: boolean): Promise<void> }) {
  const { t } = useTranslation();
  const [on, setOn] = useState(subscription.auto_renew);
  const [busy, setBusy] = useState(false);
  useEffect(() => setOn(subscription.auto_renew), [subscription.auto_renew]);
  const change = (next: boolean) => {
    setOn(next);
    setBusy(true);
    onChange(next).then(
      () => setBusy(false),
      (err: unknown) => {
        setOn(!next);
        setBusy(false);
        toast((err as Error).message, 'error');
      },
    );
  };
  return (
    <label className="switch-row">
      <input
        type="checkbox"
        checked={on}
        disabled={disabled || busy}
        onChange={(e) => change(e.target.checked)}
        aria-label={t('subscription.autoRenewFor', { name: subscription.name })}
        data-testid={`subscription-${subscription.id}-auto-renew`}
      />
      <span>{on ? t('common.yes') : t('common.no')}</span>
    </label>
  );
}

/** A destructive action, confirmed: the dialog stays open with the reason if the server refuses. */
function ConfirmDialog({ title, body, confirm, testId, onClose, onConfirm }: { title: string; body: string; confirm: string; testId: string; onClose(): void; onConfirm(): Promise<void> }) {
  const { t } = useTranslation();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={run}
      testId={testId}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary danger-fill" disabled={busy} data-testid={`${testId}-confirm`}>
            {confirm}
          </button>
        </>
      }
    >
      <p className="danger-note">{body}</p>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
