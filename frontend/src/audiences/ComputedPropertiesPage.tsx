/** Computed properties: one value per contact aggregated from their events (User.com's aggregators). */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { computedProperties } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { useAsync } from '../components/useAsync';
import { useFormat } from '../i18n/format';
import { describeDefinition } from './computed';
import { BuildState, usePolling } from './shared';
import './audiences.css';

export default function ComputedPropertiesPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const readOnly = useIsViewer();
  const list = useAsync(() => computedProperties.list(), []);
  const items = list.data ?? [];
  usePolling(items.some((p) => p.status === 'building'), list.reload);

  return (
    <main className="page" data-testid="computed-page">
      <div className="page-header">
        <div>
          <h1>{t('computed.title')}</h1>
          <p className="muted page-lead">{t('computed.lead')}</p>
        </div>
        {!readOnly && (
          <Link to="/computed-properties/new" className="button primary" data-testid="computed-create">
            <Icon name="plus" />
            {t('computed.create')}
          </Link>
        )}
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error ? (
        <Loading />
      ) : items.length === 0 && !list.error ? (
        <Empty message={t('computed.empty')} />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>{t('computed.col.name')}</th>
                <th>{t('computed.col.definition')}</th>
                <th>{t('computed.col.status')}</th>
                <th>{t('computed.col.segments')}</th>
                <th>{t('computed.col.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((prop) => (
                <tr key={prop.id} data-testid={`computed-row-${prop.id}`} data-key={prop.key}>
                  <td className="cell-text">
                    <Link to={`/computed-properties/${prop.id}`} className="strong" data-testid={`computed-open-${prop.id}`}>
                      {prop.name}
                    </Link>
                    {prop.description && <div className="muted small">{prop.description}</div>}
                    <div>
                      <code className="muted small">{prop.key}</code>
                    </div>
                  </td>
                  <td className="cell-text">{describeDefinition(t, prop.definition, fmt.duration)}</td>
                  <td>
                    <BuildState status={prop.status} progress={prop.progress} testId={`computed-status-${prop.id}`} />
                  </td>
                  <td className="cell-text">{prop.segments.length ? fmt.list(prop.segments) : <span className="muted">—</span>}</td>
                  <td title={fmt.dateTime(prop.updated_at)}>{fmt.relative(prop.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
