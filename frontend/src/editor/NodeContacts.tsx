import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { journeys, type NodeContactStatus } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import { LoadMore } from '../components/PagedTable';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

type Status = NodeContactStatus;

/** The contacts waiting in a block, that passed through it, or that it failed for (with the error and a
 * retry for editors). */
export function NodeContacts({ journeyId, nodeId }: { journeyId: string; nodeId: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const viewer = useIsViewer();
  const [status, setStatus] = useState<Status>('waiting');
  const [retried, setRetried] = useState<number | null>(null);
  const [retryError, setRetryError] = useState<Error | null>(null);
  const list = usePaged((cursor) => journeys.nodeContacts(journeyId, nodeId, status, cursor), [journeyId, nodeId, status]);
  const retry = async () => {
    setRetryError(null);
    try {
      const { retried: count } = await journeys.retryFailed(journeyId, { node_id: nodeId });
      setRetried(count);
      list.reload();
    } catch (error) {
      setRetryError(error instanceof Error ? error : new Error(String(error)));
    }
  };
  return (
    <div className="node-contacts" data-testid="node-contacts">
      <div className="segmented" role="radiogroup" aria-label={t('nodeContacts.status')}>
        {(['waiting', 'passed', 'failed'] as const).map((value) => (
          <button
            key={value}
            type="button"
            role="radio"
            aria-checked={status === value}
            className={status === value ? 'active' : ''}
            onClick={() => {
              setStatus(value);
              setRetried(null);
            }}
            data-testid={`node-contacts-${value}`}
          >
            {t(`nodeContacts.${value}`)}
          </button>
        ))}
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {status === 'failed' && !viewer && list.items.length > 0 && (
        <button type="button" className="button small" onClick={() => void retry()} data-testid="node-contacts-retry">
          {t('nodeContacts.retryAll')}
        </button>
      )}
      {retried !== null && (
        <p className="muted small" role="status" data-testid="node-contacts-retried">
          {t('nodeContacts.retried', { count: retried })}
        </p>
      )}
      {retryError && <ErrorNotice error={retryError} />}
      {list.loading && list.items.length === 0 ? (
        <Loading />
      ) : list.items.length === 0 ? (
        <Empty message={t(`nodeContacts.none.${status}`)} />
      ) : (
        <ul className="plain-list">
          {list.items.map((item) => (
            <li key={`${item.contact_id}-${item.entered_at}`} data-testid={`node-contact-${item.contact_id}`}>
              <Link to={`/contacts/${item.contact_id}`} className="strong">
                {item.external_id || item.email || t('contacts.anonymous', { id: item.contact_id })}
              </Link>
              <div className="muted small">
                {t('nodeContacts.entered', { when: fmt.relative(item.entered_at) })}
                {item.due_at && status === 'waiting' && ` · ${t('nodeContacts.due', { when: fmt.dateTime(item.due_at) })}`}
              </div>
              {item.error && (
                <div className="block-error small" data-testid={`node-contact-error-${item.contact_id}`}>
                  {t('nodeContacts.failedAt', { when: fmt.relative(item.error.at) })}: <code>{`${item.error.type}: ${item.error.message}`}</code>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      <LoadMore list={list} />
      <button type="button" className="button ghost small" onClick={list.reload}>
        {t('common.refresh')}
      </button>
    </div>
  );
}
