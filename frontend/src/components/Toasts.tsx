import { useTranslation } from 'react-i18next';
import { Icon } from './Icon';
import { useToasts } from './toast';

export function Toasts() {
  const { t } = useTranslation();
  const toasts = useToasts((s) => s.toasts);
  const dismiss = useToasts((s) => s.dismiss);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((item) => (
        <div key={item.id} className={`toast toast-${item.tone}`}>
          <span>{item.message}</span>
          <button type="button" className="icon-button" onClick={() => dismiss(item.id)} aria-label={t('common.dismiss')}>
            <Icon name="x" size={14} />
          </button>
        </div>
      ))}
    </div>
  );
}
