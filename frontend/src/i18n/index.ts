/** i18next set-up: English is bundled, the other catalogues load when chosen. */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from './locales/en.json';

export const LANGUAGES = [
  { code: 'en', name: 'English' },
  { code: 'zh-CN', name: '中文' },
  { code: 'es', name: 'Español' },
  { code: 'pl', name: 'Polski' },
] as const;

export type Language = (typeof LANGUAGES)[number]['code'];

const STORAGE_KEY = 'waymark.language';

const loaders: Record<Language, () => Promise<unknown>> = {
  en: async () => en,
  'zh-CN': async () => (await import('./locales/zh-CN.json')).default,
  es: async () => (await import('./locales/es.json')).default,
  pl: async () => (await import('./locales/pl.json')).default,
};

/** The supported language closest to what the browser asks for. */
export function pickLanguage(wanted: readonly string[]): Language {
  for (const tag of wanted) {
    const lower = tag.toLowerCase();
    const exact = LANGUAGES.find((l) => l.code.toLowerCase() === lower);
    if (exact) return exact.code;
    const base = LANGUAGES.find((l) => l.code.split('-')[0] === lower.split('-')[0]);
    if (base) return base.code;
  }
  return 'en';
}

function initialLanguage(): Language {
  const stored = localStorage.getItem(STORAGE_KEY);
  return pickLanguage(stored ? [stored] : navigator.languages ?? [navigator.language]);
}

async function applyLanguage(language: Language): Promise<void> {
  if (!i18n.hasResourceBundle(language, 'translation')) {
    i18n.addResourceBundle(language, 'translation', await loaders[language]());
  }
  await i18n.changeLanguage(language);
  document.documentElement.lang = language;
}

/** The language switcher: switch, and remember the choice in this browser. */
export async function setLanguage(language: Language): Promise<void> {
  await applyLanguage(language);
  localStorage.setItem(STORAGE_KEY, language);
}

/** After sign-in: the account's language, unless this browser chose one with the switcher. */
export function adoptAccountLanguage(locale: string | null | undefined): void {
  if (locale && localStorage.getItem(STORAGE_KEY) === null) void applyLanguage(pickLanguage([locale]));
}

export async function initI18n(): Promise<void> {
  await i18n.use(initReactI18next).init({
    resources: { en: { translation: en } },
    lng: 'en',
    fallbackLng: 'en',
    supportedLngs: LANGUAGES.map((l) => l.code),
    interpolation: { escapeValue: false },
    // Enum values and property names become keys (schema.enum.<value>): no namespaces in keys.
    nsSeparator: false,
    returnNull: false,
  });
  await applyLanguage(initialLanguage());
}

export default i18n;
