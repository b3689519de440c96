/** Human labels for schema parts. The server's `title`s win (they arrive translated); properties and
 * enum values without one fall back to the SPA's catalogue, then to the humanised name. */
import type { TFunction } from 'i18next';
import { humanize, type JsonSchema } from './schema';

export function fieldTitle(t: TFunction, schema: JsonSchema, name: string): string {
  if (schema.title) return schema.title;
  return t(`schema.field.${name}`, { defaultValue: humanize(name) });
}

/** `field`: the property the value belongs to, for values whose meaning depends on it
 * (`schema.enumOf.until.in` "in the segment" rather than the operator `schema.enum.in` "is one of"). */
export function enumLabel(t: TFunction, value: unknown, labels?: Record<string, string>, field?: string): string {
  const key = String(value);
  if (labels?.[key]) return labels[key];
  const general = t(`schema.enum.${key}`, { defaultValue: humanize(key) });
  return field ? t(`schema.enumOf.${field}.${key}`, { defaultValue: general }) : general;
}

export function variantLabel(t: TFunction, tag: string): string {
  return t(`schema.kind.${tag}`, { defaultValue: humanize(tag) });
}
