import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { contacts, journeys } from '../api/endpoints';
import type { Contact, ContactJourney } from '../api/types';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { LoadMore } from '../components/PagedTable';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { Tags } from '../components/Tags';
import { useAsync } from '../components/useAsync';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

function Section({ title, children, testId }: { title: string; children: ReactNode; testId: string }) {
  return (
    <section className="card section" data-testid={testId}>
      <h2>{title}</h2>
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
  if (contact.error) return <ErrorNotice error={contact.error} onRetry={contact.reload} />;
  if (!contact.data) return <Loading />;
  return <ContactView contact={contact.data} onChange={contact.reload} />;
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

function ContactView({ contact, onChange }: { contact: Contact; onChange(): void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const events = usePaged((cursor) => contacts.events(contact.id, cursor), [contact.id]);
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
        <h1>{contact.external_id || contact.email || t('contacts.anonymous', { id: contact.id })}</h1>
        <Tags tags={contact.tags} />
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
                  {j.status === 'failed' && <BlockFailure contactId={contact.id} journey={j} onRetried={onChange} />}
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title={t('contact.subscriptions')} testId="contact-subscriptions">
          {contact.subscriptions.length === 0 ? (
            <p className="muted">{t('contact.noSubscriptions')}</p>
          ) : (
            <table className="table compact">
              <thead>
                <tr>
                  <th>{t('contact.sub.name')}</th>
                  <th>{t('contact.sub.status')}</th>
                  <th>{t('contact.sub.ends')}</th>
                  <th>{t('contact.sub.autoRenew')}</th>
                </tr>
              </thead>
              <tbody>
                {contact.subscriptions.map((s) => (
                  <tr key={s.id}>
                    <td>{s.name}</td>
                    <td>{s.status ?? '—'}</td>
                    <td>{fmt.date(s.end_at)}</td>
                    <td>{yesNo(s.auto_renew)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
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
    </main>
  );
}
