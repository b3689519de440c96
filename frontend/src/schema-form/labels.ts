/** Human labels for schema parts. The server's `title`s win (they arrive translated); properties and
 * enum values without one fall back to the SPA's catalogue, then to the humanised name. */
import type { TFunction } from 'i18next';
import { humanize, type JsonSchema } from './schema';

export function fieldTitle(t: TFunction, schema: JsonSchema, name: string): string {
  if (schema.title) return schema.title;
  return t(`schema.field.${name}`, { defaultValue: humanize(name) });
}

export function enumLabel(t: TFunction, value: unknown, labels?: Record<string, string>): string {
  const key = String(value);
  if (labels?.[key]) return labels[key];
  return t(`schema.enum.${key}`, { defaultValue: humanize(key) });
}

export function variantLabel(t: TFunction, tag: string): string {
  return t(`schema.kind.${tag}`, { defaultValue: humanize(tag) });
}
