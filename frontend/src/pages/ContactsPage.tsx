import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { contacts } from '../api/endpoints';
import { PagedTable } from '../components/PagedTable';
import { SearchBox } from '../components/SearchBox';
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
      <SearchBox
        value={q}
        onChange={(value) => setParams(value ? { q: value } : {}, { replace: true })}
        label={t('contacts.search')}
        placeholder={t('contacts.searchPlaceholder')}
        testId="contacts-search"
      />
      <PagedTable
        list={list}
        empty={query ? t('contacts.noMatch', { q: query }) : t('contacts.empty')}
        head={
          <>
            <th>{t('contacts.col.contact')}</th>
            <th>{t('contacts.col.email')}</th>
            <th>{t('contacts.col.phone')}</th>
            <th>{t('contacts.col.tags')}</th>
            <th>{t('contacts.col.created')}</th>
          </>
        }
        row={(contact) => (
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
        )}
      />
    </main>
  );
}
