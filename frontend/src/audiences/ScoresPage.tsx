/** Engagement scores: every score with how many contacts have one and how they spread over levels 1–10. */
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { scores } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { useAsync } from '../components/useAsync';
import { useFormat } from '../i18n/format';
import { BuildState, usePolling } from './shared';
import './audiences.css';

/** Ten small bars, one per level: the distribution at a glance, with the counts as its accessible name. */
export function LevelBars({ histogram, testId }: { histogram: readonly number[]; testId?: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const top = Math.max(1, ...histogram);
  const label = t('scores.distribution', { counts: histogram.map((n, i) => t('scores.levelCount', { level: i + 1, count: fmt.number(n) })).join(', ') });
  return (
    <span className="level-bars" role="img" aria-label={label} title={label} data-testid={testId} data-values={histogram.join(',')}>
      {histogram.map((n, i) => (
        <span key={i} className="level-bar" style={{ height: `${n === 0 ? 0 : Math.max(8, (n / top) * 100)}%` }} />
      ))}
    </span>
  );
}

export default function ScoresPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const readOnly = useIsViewer();
  const list = useAsync(() => scores.list(), []);
  const items = list.data ?? [];
  // Levels move with every scored event, and a score being computed fills up: keep the list live.
  usePolling(true, list.reload, items.some((s) => s.status === 'building') ? 1500 : 10_000);

  return (
    <main className="page" data-testid="scores-page">
      <div className="page-header">
        <div>
          <h1>{t('scores.title')}</h1>
          <p className="muted page-lead">{t('scores.lead')}</p>
        </div>
        {!readOnly && (
          <Link to="/scores/new" className="button primary" data-testid="score-create">
            <Icon name="plus" />
            {t('scores.create')}
          </Link>
        )}
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {!list.data && !list.error ? (
        <Loading />
      ) : items.length === 0 && !list.error ? (
        <Empty message={t('scores.empty')} />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>{t('scores.col.name')}</th>
                <th className="num">{t('scores.col.scored')}</th>
                <th>{t('scores.col.levels')}</th>
                <th>{t('scores.col.status')}</th>
                <th>{t('scores.col.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((score) => (
                <tr key={score.id} data-testid={`score-row-${score.id}`} data-key={score.key}>
                  <td className="cell-text">
                    <Link to={`/scores/${score.id}`} className="strong" data-testid={`score-open-${score.id}`}>
                      {score.name}
                    </Link>
                    <div>
                      <code className="muted small">{score.key}</code>
                    </div>
                  </td>
                  <td className="num" data-testid={`score-scored-${score.id}`} data-scored={score.scored}>
                    {fmt.number(score.scored)}
                  </td>
                  <td>
                    <LevelBars histogram={score.histogram} testId={`score-levels-${score.id}`} />
                  </td>
                  <td>
                    <BuildState status={score.status} progress={score.progress} testId={`score-status-${score.id}`} />
                  </td>
                  <td title={fmt.dateTime(score.updated_at)}>{fmt.relative(score.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
