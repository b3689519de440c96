import { useTranslation } from 'react-i18next';
import { LANGUAGES, setLanguage, type Language } from '../i18n';

export function LanguageSwitcher() {
  const { t, i18n } = useTranslation();
  return (
    <select
      className="select compact"
      value={i18n.language}
      onChange={(e) => void setLanguage(e.target.value as Language)}
      aria-label={t('nav.language')}
      data-testid="language-switcher"
    >
      {LANGUAGES.map((language) => (
        <option key={language.code} value={language.code} lang={language.code}>
          {language.name}
        </option>
      ))}
    </select>
  );
}
