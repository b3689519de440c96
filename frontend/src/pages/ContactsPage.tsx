import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { contacts } from '../api/endpoints';
import { Icon } from '../components/Icon';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { Tags } from '../components/Tags';
import { useDebounced } from '../components/useDebounced';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

export default function ContactsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const query = useDebounced(q, 250);
  const list = usePaged((cursor) => contacts.search(query, cursor), [query]);

  return (
    <main className="page">
      <div className="page-header">
        <h1>{t('contacts.title')}</h1>
      </div>
      <div className="search-box">
        <Icon name="search" />
        <input
          className="input"
          type="search"
          value={q}
          placeholder={t('contacts.searchPlaceholder')}
          aria-label={t('contacts.search')}
          onChange={(e) => setParams(e.target.value ? { q: e.target.value } : {}, { replace: true })}
          data-testid="contacts-search"
        />
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {list.loading && list.items.length === 0 ? (
        <Loading />
      ) : list.items.length === 0 && !list.error ? (
        <Empty message={query ? t('contacts.noMatch', { q: query }) : t('contacts.empty')} />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>{t('contacts.col.contact')}</th>
                <th>{t('contacts.col.email')}</th>
                <th>{t('contacts.col.phone')}</th>
                <th>{t('contacts.col.tags')}</th>
                <th>{t('contacts.col.created')}</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((contact) => (
                <tr key={contact.id} data-testid={`contact-row-${contact.id}`}>
                  <td>
                    <Link to={`/contacts/${contact.id}`} className="strong">
                      {contact.external_id || contact.email || t('contacts.anonymous', { id: contact.id })}
                    </Link>
                  </td>
                  <td>{contact.email ?? '—'}</td>
                  <td>{contact.phone ?? '—'}</td>
                  <td>
                    <Tags tags={contact.tags} />
                  </td>
                  <td>{fmt.date(contact.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.hasMore && (
            <button type="button" className="button wide" onClick={list.more} disabled={list.loading}>
              {t('common.loadMore')}
            </button>
          )}
        </div>
      )}
    </main>
  );
}
