import { useTranslation } from 'react-i18next';
import { journeys } from '../api/endpoints';
import { Dialog } from '../components/Dialog';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { useAsync } from '../components/useAsync';
import { useFormat } from '../i18n/format';

/** Who published which version, when, and why. */
export function VersionsDialog({ journeyId, onClose }: { journeyId: string; onClose(): void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const versions = useAsync(() => journeys.versions(journeyId), [journeyId]);
  return (
    <Dialog
      title={t('versions.title')}
      onClose={onClose}
      testId="versions-dialog"
      footer={
        <button type="button" className="button" onClick={onClose}>
          {t('common.close')}
        </button>
      }
    >
      {versions.error && <ErrorNotice error={versions.error} onRetry={versions.reload} />}
      {versions.loading && !versions.data ? (
        <Loading />
      ) : versions.data?.length === 0 ? (
        <Empty message={t('versions.none')} />
      ) : (
        <table className="table compact" data-testid="versions-list">
          <thead>
            <tr>
              <th>{t('versions.number')}</th>
              <th>{t('versions.publishedAt')}</th>
              <th>{t('versions.publishedBy')}</th>
              <th>{t('versions.note')}</th>
            </tr>
          </thead>
          <tbody>
            {versions.data?.map((v) => (
              <tr key={v.id} data-testid={`version-${v.number}`}>
                <td className="strong">{t('journeys.versionN', { n: v.number })}</td>
                <td>{fmt.dateTime(v.published_at)}</td>
                <td>{v.published_by ?? '—'}</td>
                <td>{v.note || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}
