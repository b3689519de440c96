import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { journeys } from '../api/endpoints';
import { LoadMore } from '../components/PagedTable';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

type Status = 'waiting' | 'passed';

/** The contacts waiting in a block, or that passed through it. */
export function NodeContacts({ journeyId, nodeId }: { journeyId: string; nodeId: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [status, setStatus] = useState<Status>('waiting');
  const list = usePaged((cursor) => journeys.nodeContacts(journeyId, nodeId, status, cursor), [journeyId, nodeId, status]);
  return (
    <div className="node-contacts" data-testid="node-contacts">
      <div className="segmented" role="radiogroup" aria-label={t('nodeContacts.status')}>
        {(['waiting', 'passed'] as const).map((value) => (
          <button
            key={value}
            type="button"
            role="radio"
            aria-checked={status === value}
            className={status === value ? 'active' : ''}
            onClick={() => setStatus(value)}
            data-testid={`node-contacts-${value}`}
          >
            {t(`nodeContacts.${value}`)}
          </button>
        ))}
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
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
