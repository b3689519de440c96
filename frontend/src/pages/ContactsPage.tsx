import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { contacts, exportUrl, segments } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import { ContactFormDialog } from '../components/ContactForm';
import { Icon } from '../components/Icon';
import { PagedTable } from '../components/PagedTable';
import { SearchBox } from '../components/SearchBox';
import { Tags } from '../components/Tags';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { useDebounced } from '../components/useDebounced';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';
import '../audiences/audiences.css';

export default function ContactsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const navigate = useNavigate();
  const readOnly = useIsViewer();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const segment = params.get('segment') ?? '';
  const query = useDebounced(q, 250);
  const [total, setTotal] = useState<number | null>(null);
  const list = usePaged(
    (cursor) =>
      contacts.search(query, cursor, segment || null).then((page) => {
        setTotal(page.total);
        return page;
      }),
    [query, segment],
  );
  const segmentList = useAsync(() => segments.list(), []);
  const chosen = segmentList.data?.find((s) => s.key === segment);
  const [adding, setAdding] = useState(false);
  const setParam = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  return (
    <main className="page" data-testid="contacts-page">
      <div className="page-header">
        <h1>{t('contacts.title')}</h1>
        <div className="page-actions">
          <a className="button" href={exportUrl({ q: query, segment })} download data-testid="contacts-export">
            {t('contacts.export')}
          </a>
          {!readOnly && (
            <Link className="button" to="/contacts/import" data-testid="contacts-import">
              {t('contacts.import')}
            </Link>
          )}
          {!readOnly && (
            <button type="button" className="button primary" onClick={() => setAdding(true)} data-testid="contact-create">
              <Icon name="plus" />
              {t('contacts.add')}
            </button>
          )}
        </div>
      </div>
      <div className="list-toolbar">
        <SearchBox
          value={q}
          onChange={(value) => setParam('q', value)}
          label={t('contacts.search')}
          placeholder={t('contacts.searchPlaceholder')}
          testId="contacts-search"
        />
        <label className="toolbar-field">
          <span className="field-label">{t('contacts.segment')}</span>
          <select className="select" value={segment} onChange={(e) => setParam('segment', e.target.value)} data-testid="contacts-segment">
            <option value="">{t('contacts.allContacts')}</option>
            {(segmentList.data ?? []).map((s) => (
              <option key={s.key} value={s.key}>
                {s.name}
              </option>
            ))}
            {segment && segmentList.data && !chosen && <option value={segment}>{segment}</option>}
          </select>
        </label>
        <span className="list-total" aria-live="polite" data-testid="contacts-total" data-total={total ?? ''}>
          {total === null ? '' : t('contacts.total', { count: total, total: fmt.number(total) })}
        </span>
      </div>
      {chosen && (
        <p className="muted small">
          <Link to={`/segments/${chosen.id}`} data-testid="contacts-segment-link">
            {t('contacts.segmentOpen', { name: chosen.name })}
          </Link>
        </p>
      )}
      <PagedTable
        list={list}
        empty={query ? t('contacts.noMatch', { q: query }) : segment ? t('contacts.segmentEmpty') : t('contacts.empty')}
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
            <td className="cell-text">
              <Link to={`/contacts/${contact.id}`} className="strong">
                {contact.external_id || contact.email || t('contacts.anonymous', { id: contact.id })}
              </Link>
            </td>
            <td className="cell-text">{contact.email ?? '—'}</td>
            <td>{contact.phone ?? '—'}</td>
            <td>
              <Tags tags={contact.tags} />
            </td>
            <td>{fmt.date(contact.created_at)}</td>
          </tr>
        )}
      />
      {adding && (
        <ContactFormDialog
          onClose={() => setAdding(false)}
          onSave={async (body) => {
            const created = await contacts.create(body);
            toast(t('contacts.created'));
            navigate(`/contacts/${created.id}`);
          }}
        />
      )}
    </main>
  );
}
