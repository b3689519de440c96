/** Fails when any catalogue misses a key (or has one too many), a plural form its language needs,
 * a placeholder, or when the code uses a key English does not have. */
import { describe, expect, it } from 'vitest';
import { ENROLLMENT_STATUSES } from '../api/types';
import { blockTypes } from '../test/fixtures';
import { LANGUAGES } from './index';
import en from './locales/en.json';
import es from './locales/es.json';
import pl from './locales/pl.json';
import zh from './locales/zh-CN.json';

type Tree = { [key: string]: string | Tree };
const catalogues: Record<string, Tree> = { en, 'zh-CN': zh, es, pl };
const PLURAL = /_(zero|one|two|few|many|other)$/;

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.set(path, value);
    else for (const [k, v] of flatten(value, path)) out.set(k, v);
  }
  return out;
}

const base = (key: string) => key.replace(PLURAL, '');
const placeholders = (text: string) => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort();
const flat = Object.fromEntries(Object.entries(catalogues).map(([lang, tree]) => [lang, flatten(tree)]));
const enFlat = flat.en!;
const enBases = new Set([...enFlat.keys()].map(base));
const pluralBases = new Set([...enFlat.keys()].filter((k) => PLURAL.test(k)).map(base));

describe('catalogues', () => {
  it('cover every language of the switcher', () => {
    expect(Object.keys(catalogues).sort()).toEqual(LANGUAGES.map((l) => l.code).sort());
  });

  for (const [lang, entries] of Object.entries(flat)) {
    describe(lang, () => {
      it('has exactly the keys English has', () => {
        const bases = new Set([...entries.keys()].map(base));
        expect([...enBases].filter((k) => !bases.has(k))).toEqual([]);
        expect([...bases].filter((k) => !enBases.has(k))).toEqual([]);
      });

      it('has every plural form the language needs', () => {
        const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
        const missing = [...pluralBases].flatMap((key) => categories.map((c) => `${key}_${c}`)).filter((k) => !entries.has(k));
        expect(missing).toEqual([]);
      });

      it('has no empty text and keeps every placeholder', () => {
        for (const [key, text] of entries) {
          expect(text.trim(), key).not.toBe('');
          const english = enFlat.get(key) ?? enFlat.get(`${base(key)}_other`) ?? '';
          expect(placeholders(text), `${lang} ${key}`).toEqual(placeholders(english));
        }
      });
    });
  }
});

describe('keys used by the code', () => {
  const sources = import.meta.glob('../**/*.{ts,tsx}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

  it('all exist in English', () => {
    const used = new Set<string>();
    for (const [file, text] of Object.entries(sources)) {
      if (file.endsWith('.test.ts') || file.endsWith('.test.tsx')) continue;
      for (const match of text.matchAll(/\bt\(\s*'([^']+)'/g)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(100);
    expect([...used].filter((key) => !enBases.has(key))).toEqual([]);
  });

  it('cover the untitled fields, enum values and rule kinds of the built-in blocks', () => {
    const fields = new Set<string>();
    const values = new Set<string>();
    const kinds = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node === null || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      (schema.enum as unknown[] | undefined)?.forEach((v) => values.add(String(v)));
      const mapping = (schema.discriminator as { mapping?: Record<string, string> } | undefined)?.mapping;
      Object.keys(mapping ?? {}).forEach((k) => kinds.add(k));
      for (const [key, child] of Object.entries(schema)) {
        if (key !== 'properties') walk(child);
      }
      for (const [name, prop] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        // The discriminator itself is shown as the rule kinds, not as a field with enum values.
        if (name === 'kind') continue;
        if (!prop.title) fields.add(name);
        walk(prop);
      }
    };
    blockTypes.forEach((b) => walk(b.config_schema));
    expect(fields.size).toBeGreaterThan(10);
    expect([...fields].filter((f) => !enFlat.has(`schema.field.${f}`))).toEqual([]);
    expect([...values].filter((v) => !enFlat.has(`schema.enum.${v}`))).toEqual([]);
    expect([...kinds].filter((k) => !enFlat.has(`schema.kind.${k}`))).toEqual([]);
  });

  it('label exactly the enrollment statuses the API returns', () => {
    // Contact.journeys[].status (backend/api/contacts.py, Enrollment.status); the rest of this file
    // checks that every other language has the same keys.
    const labelled = [...enFlat.keys()].filter((k) => k.startsWith('enrollment.')).map((k) => k.slice('enrollment.'.length));
    expect(labelled.sort()).toEqual([...ENROLLMENT_STATUSES].sort());
  });
});
