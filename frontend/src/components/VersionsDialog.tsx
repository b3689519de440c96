import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../i18n/format';
import { Dialog } from './Dialog';
import { Empty, ErrorNotice, Loading } from './States';
import type { AsyncState } from './useAsync';

interface VersionsDialogProps<V extends { id: number; number: number }> {
  versions: AsyncState<V[]>;
  /** When a version was published. */
  publishedAt(version: V): string;
  /** The editor's own header cells, after the number and the date. */
  columns: ReactNode;
  /** A version's own cells, after its number and date. */
  cells(version: V): ReactNode;
  onClose(): void;
}

/** The published versions of a journey or template (`versions-dialog`, `versions-list`, `version-<n>`):
 * number and date, then what the editor shows of each. */
export function VersionsDialog<V extends { id: number; number: number }>({ versions, publishedAt, columns, cells, onClose }: VersionsDialogProps<V>) {
  const { t } = useTranslation();
  const fmt = useFormat();
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
              {columns}
            </tr>
          </thead>
          <tbody>
            {versions.data?.map((v) => (
              <tr key={v.id} data-testid={`version-${v.number}`}>
                <td className="strong">{t('journeys.versionN', { n: v.number })}</td>
                <td>{fmt.dateTime(publishedAt(v))}</td>
                {cells(v)}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}
