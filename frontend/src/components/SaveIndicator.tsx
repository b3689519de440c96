import { useTranslation } from 'react-i18next';

export type SaveState = 'saved' | 'pending' | 'saving' | 'error' | 'conflict';

/** "All changes saved" / "Saving…" / … for an autosaving editor (`data-testid="save-status"`). */
export function SaveIndicator({ state }: { state: SaveState }) {
  const { t } = useTranslation();
  return (
    <span className={`save-state save-${state}`} role="status" data-testid="save-status" data-state={state}>
      {t(`save.${state}`)}
      {state === 'conflict' && (
        <button type="button" className="link-button" onClick={() => window.location.reload()}>
          {t('save.reload')}
        </button>
      )}
    </span>
  );
}
