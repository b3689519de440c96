import { useTranslation } from 'react-i18next';
import { Icon } from './Icon';

export function Loading() {
  const { t } = useTranslation();
  return (
    <div className="state" role="status">
      <span className="spinner" aria-hidden="true" />
      {t('common.loading')}
    </div>
  );
}

export function ErrorNotice({ error, onRetry }: { error: Error; onRetry?(): void }) {
  const { t } = useTranslation();
  return (
    <div className="state error" role="alert">
      <Icon name="alert" />
      <span>{error.message}</span>
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Empty({ message }: { message: string }) {
  return <div className="state empty">{message}</div>;
}
