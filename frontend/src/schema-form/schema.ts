/** The subset of JSON Schema (draft 2020-12, as msgspec emits it) that the form renderer understands,
 * and pure helpers to interpret it. No React here: everything is unit-tested on its own. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  /** Values come from the workspace's vocabulary (`GET /api/vocabulary`) of this name. */
  'x-source'?: VocabularySource;
  'x-widget'?: 'textarea' | 'day-range';
  /** With `x-widget: day-range`: what the day count measures, so the form can show the date it means. */
  'x-days'?: DayMeasure;
  'x-enum-labels'?: Record<string, string>;
  /** Still accepted, no longer offered: the form shows such a field only while it has a value. */
  deprecated?: boolean;
}

export type DayMeasure = 'until_end' | 'since_start' | 'length';

/** Vocabularies of things named by a key and shown by their name: the form shows the name, stores the key. */
export const NAMED_SOURCES = ['templates', 'segments', 'computed', 'scores'] as const;
export type NamedSource = (typeof NAMED_SOURCES)[number];
/** Vocabularies of plain names (suggested while typing). */
export type NameSource = 'events' | 'attributes' | 'tags' | 'packages';
export type VocabularySource = NamedSource | NameSource;

export const isNamedSource = (source: VocabularySource | undefined): source is NamedSource =>
  source !== undefined && (NAMED_SOURCES as readonly string[]).includes(source);

/** Follow a local `$ref` (`#/$defs/Name`) against the root schema; anything else is returned as is. */
export function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; current.$ref && hops < 32; hops += 1) {
    const target = lookupRef(current.$ref, root);
    if (!target) return current;
    // Sibling keywords next to $ref (title, description, default) win over the target's.
    const { $ref: _ignored, ...siblings } = current;
    current = { ...target, ...siblings };
  }
  return current;
}

function lookupRef(ref: string, root: JsonSchema): JsonSchema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node as JsonSchema | undefined;
}

export type Shape =
  | { kind: 'nullable'; inner: JsonSchema }
  | { kind: 'enum'; values: unknown[]; labels?: Record<string, string> }
  | { kind: 'union'; property: string; variants: { tag: string; schema: JsonSchema }[] }
  | { kind: 'string'; schema: JsonSchema }
  | { kind: 'number'; integer: boolean; schema: JsonSchema }
  | { kind: 'boolean' }
  | { kind: 'array'; items: JsonSchema; schema: JsonSchema }
  | { kind: 'object'; schema: JsonSchema }
  | { kind: 'map'; values: JsonSchema | null; schema: JsonSchema }
  | { kind: 'any' };

const isNull = (s: JsonSchema) => s.type === 'null' || (s.enum?.length === 1 && s.enum[0] === null);

/** Decide which widget a (dereferenced) schema needs. */
export function shapeOf(input: JsonSchema, root: JsonSchema): Shape {
  const schema = deref(input, root);
  const options = schema.anyOf ?? schema.oneOf;
  if (options) {
    const resolved = options.map((option) => deref(option, root));
    const nonNull = resolved.filter((option) => !isNull(option));
    if (nonNull.length < resolved.length) {
      const [only] = nonNull;
      const inner: JsonSchema =
        nonNull.length === 1 && only
          ? { ...only, title: schema.title ?? only.title, description: schema.description ?? only.description }
          : { title: schema.title, description: schema.description, discriminator: schema.discriminator, anyOf: nonNull };
      return { kind: 'nullable', inner };
    }
    if (resolved.every((option) => option.enum)) {
      return { kind: 'enum', values: resolved.flatMap((option) => option.enum ?? []), labels: schema['x-enum-labels'] };
    }
    const property = schema.discriminator?.propertyName ?? commonTagProperty(resolved);
    if (property) {
      return {
        kind: 'union',
        property,
        variants: resolved.map((variant) => ({ tag: String(tagOf(variant, property)), schema: variant })),
      };
    }
    return shapeOf(resolved[0] ?? {}, root);
  }
  if (schema.enum) return { kind: 'enum', values: schema.enum, labels: schema['x-enum-labels'] };
  if (schema.const !== undefined) return { kind: 'enum', values: [schema.const] };
  switch (schema.type) {
    case 'string':
      return { kind: 'string', schema };
    case 'integer':
    case 'number':
      return { kind: 'number', integer: schema.type === 'integer', schema };
    case 'boolean':
      return { kind: 'boolean' };
    case 'array':
      return { kind: 'array', items: schema.items ?? {}, schema };
    case 'object':
      if (schema.properties) return { kind: 'object', schema };
      return {
        kind: 'map',
        values: typeof schema.additionalProperties === 'object' ? schema.additionalProperties : null,
        schema,
      };
    default:
      return schema.properties ? { kind: 'object', schema } : { kind: 'any' };
  }
}

function tagOf(variant: JsonSchema, property: string): unknown {
  const tag = variant.properties?.[property];
  return tag?.enum?.length === 1 ? tag.enum[0] : tag?.const;
}

/** Tagged unions without an explicit discriminator: a property every variant pins to one value. */
function commonTagProperty(variants: JsonSchema[]): string | undefined {
  const first = variants[0]?.properties;
  if (!first) return undefined;
  return Object.keys(first).find((name) => variants.every((variant) => tagOf(variant, name) !== undefined));
}

/** The value a new, empty instance of the schema starts with. `undefined` means "leave the field out". */
export function defaultValue(input: JsonSchema, root: JsonSchema, depth = 0): unknown {
  const schema = deref(input, root);
  if (schema.default !== undefined) return structuredClone(schema.default);
  if (depth > 8) return undefined;
  const shape = shapeOf(schema, root);
  switch (shape.kind) {
    case 'nullable':
      return null;
    case 'union': {
      const first = shape.variants[0];
      return first ? defaultValue(first.schema, root, depth + 1) : undefined;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(shape.schema.properties ?? {})) {
        const required = shape.schema.required?.includes(name) ?? false;
        const resolved = deref(prop, root);
        // Pinned tags (discriminators) are always filled in; other required fields stay empty for the user.
        if (resolved.enum?.length === 1 && required) out[name] = resolved.enum[0];
        else if (resolved.default !== undefined) out[name] = structuredClone(resolved.default);
        else if (required) {
          const nested = shapeOf(resolved, root);
          if (nested.kind === 'object' || nested.kind === 'union' || nested.kind === 'array' || nested.kind === 'map') {
            const value = defaultValue(resolved, root, depth + 1);
            if (value !== undefined) out[name] = value;
          }
        }
      }
      return out;
    }
    case 'array': {
      const min = shape.schema.minItems ?? 0;
      return Array.from({ length: min }, () => defaultValue(shape.items, root, depth + 1) ?? null);
    }
    case 'map':
      return {};
    case 'boolean':
      return false;
    default:
      return undefined;
  }
}

/** A client-side check of one scalar value, for immediate feedback; the server stays the authority. */
export type LocalError =
  | { key: 'required' }
  | { key: 'pattern' }
  | { key: 'min'; limit: number }
  | { key: 'max'; limit: number }
  | { key: 'minLength'; limit: number }
  | { key: 'maxLength'; limit: number }
  | { key: 'integer' };

export function checkValue(schema: JsonSchema, value: unknown, required: boolean): LocalError | null {
  if (value === undefined || value === null || value === '') return required ? { key: 'required' } : null;
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) return { key: 'minLength', limit: schema.minLength };
    if (schema.maxLength !== undefined && value.length > schema.maxLength) return { key: 'maxLength', limit: schema.maxLength };
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) return { key: 'pattern' };
  }
  if (typeof value === 'number') {
    if (schema.type === 'integer' && !Number.isInteger(value)) return { key: 'integer' };
    if (schema.minimum !== undefined && value < schema.minimum) return { key: 'min', limit: schema.minimum };
    if (schema.maximum !== undefined && value > schema.maximum) return { key: 'max', limit: schema.maximum };
  }
  return null;
}

/** Turn a JSON pointer under a node (`/nodes/3/config/branches/0/name`) into a field path (`config.branches.0.name`). */
export function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim();
  return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
}
