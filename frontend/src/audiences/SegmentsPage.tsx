/** Segments: every saved audience with its live size and build state. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { segments } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { useAsync } from '../components/useAsync';
import { useFormat } from '../i18n/format';
import { BuildState, usePolling } from './shared';
import './audiences.css';

export default function SegmentsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const readOnly = useIsViewer();
  const list = useAsync(() => segments.list(), []);
  const items = list.data ?? [];
  // Sizes move as events arrive, and a segment being built fills up: keep the list live.
  usePolling(true, list.reload, items.some((s) => s.status === 'building') ? 1500 : 10_000);

  return (
    <main className="page" data-testid="segments-page">
      <div className="page-header">
        <div>
          <h1>{t('segments.title')}</h1>
          <p className="muted page-lead">{t('segments.lead')}</p>
        </div>
        {!readOnly && (
          <Link to="/segments/new" className="button primary" data-testid="segment-create">
            <Icon name="plus" />
            {t('segments.create')}
          </Link>
        )}
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error ? (
        <Loading />
      ) : items.length === 0 && !list.error ? (
        <Empty message={t('segments.empty')} />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>{t('segments.col.name')}</th>
                <th className="num">{t('segments.col.size')}</th>
                <th>{t('segments.col.status')}</th>
                <th>{t('segments.col.updated')}</th>
                <th>
                  <span className="visually-hidden">{t('segments.col.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((segment) => (
                <tr key={segment.id} data-testid={`segment-row-${segment.id}`} data-key={segment.key}>
                  <td className="cell-text">
                    <Link to={`/segments/${segment.id}`} className="strong" data-testid={`segment-open-${segment.id}`}>
                      {segment.name}
                    </Link>
                    {segment.description && <div className="muted small">{segment.description}</div>}
                    <div>
                      <code className="muted small">{segment.key}</code>
                    </div>
                  </td>
                  <td className="num" data-testid={`segment-size-${segment.id}`} data-size={segment.size}>
                    {fmt.number(segment.size)}
                  </td>
                  <td>
                    <BuildState status={segment.status} progress={segment.progress} testId={`segment-status-${segment.id}`} />
                  </td>
                  <td title={fmt.dateTime(segment.updated_at)}>{fmt.relative(segment.updated_at)}</td>
                  <td>
                    <div className="row-actions">
                      <Link to={`/contacts?segment=${encodeURIComponent(segment.key)}`} className="button small" data-testid={`segment-contacts-${segment.id}`}>
                        {t('segments.viewContacts')}
                      </Link>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
