import { describe, expect, it } from 'vitest';
import { blockType } from '../test/fixtures';
import { checkValue, defaultValue, deref, humanize, pointerToPath, shapeOf, type JsonSchema } from './schema';

const condition = blockType('condition').config_schema;
const props = (schema: JsonSchema) => schema.properties!;

describe('shapeOf', () => {
  it('reads msgspec nullable fields as nullable, keeping the outer title', () => {
    const trigger = blockType('trigger.date').config_schema;
    const shape = shapeOf(props(trigger).subscription!, trigger);
    expect(shape).toMatchObject({ kind: 'nullable', inner: { type: 'string', title: 'Product name (any when empty)' } });
    const attr = shapeOf(props(trigger).attribute!, trigger);
    expect(attr).toMatchObject({ kind: 'nullable', inner: { 'x-source': 'attributes', title: 'Attribute' } });
  });

  it('merges an anyOf of enums into one enum (send.channel)', () => {
    const send = blockType('send').config_schema;
    expect(shapeOf(props(send).channel!, send)).toEqual({ kind: 'enum', values: ['email', 'push', 'sms', 'wechat', 'best'], labels: undefined });
  });

  it('reads a discriminated union with its variants resolved through $defs', () => {
    const shape = shapeOf(props(condition).rule!, condition);
    expect(shape.kind).toBe('union');
    if (shape.kind !== 'union') return;
    expect(shape.property).toBe('kind');
    expect(shape.variants.map((v) => v.tag)).toEqual(['all', 'any', 'not', 'attribute', 'tag', 'event', 'reachable', 'subscription', 'segment', 'computed']);
    expect(shape.variants[5]!.schema.properties!.event!['x-source']).toBe('events');
  });

  it('follows recursive references (a rule inside all.rules)', () => {
    const all = deref({ $ref: '#/$defs/AllOf' }, condition);
    const items = shapeOf(all.properties!.rules!, condition);
    expect(items.kind).toBe('array');
    if (items.kind !== 'array') return;
    expect(shapeOf(items.items, condition).kind).toBe('union');
  });

  it('tells dictionaries from objects and untyped values', () => {
    const tag = blockType('tag').config_schema;
    expect(shapeOf(props(tag).set!, tag)).toMatchObject({ kind: 'map', values: null });
    const webhook = blockType('webhook').config_schema;
    expect(shapeOf(props(webhook).headers!, webhook)).toMatchObject({ kind: 'map', values: { type: 'string' } });
    expect(shapeOf({ default: null }, {})).toEqual({ kind: 'any' });
  });

  it('finds the tag of unions without a discriminator keyword', () => {
    const schema: JsonSchema = {
      anyOf: [
        { type: 'object', properties: { type: { const: 'a' }, x: { type: 'string' } } },
        { type: 'object', properties: { type: { enum: ['b'] } } },
      ],
    };
    expect(shapeOf(schema, schema)).toMatchObject({ kind: 'union', property: 'type', variants: [{ tag: 'a' }, { tag: 'b' }] });
  });
});

describe('defaultValue', () => {
  it('uses defaults, pins required tags and leaves required scalars out', () => {
    expect(defaultValue(blockType('send').config_schema, blockType('send').config_schema)).toEqual({
      channel: 'email',
      fallback: ['email', 'push', 'sms', 'wechat'],
      marketing: true,
    });
    expect(defaultValue(condition, condition)).toEqual({ rule: { kind: 'all', rules: [] } });
    const event = deref({ $ref: '#/$defs/EventRule' }, condition);
    expect(defaultValue(event, condition)).toEqual({ kind: 'event', op: 'at_least', count: 1, within: null, where: [] });
  });

  it('gives arrays their minimum number of items and copies defaults', () => {
    const schema: JsonSchema = { type: 'array', minItems: 2, items: { type: 'object', properties: { w: { type: 'integer', default: 1 } } } };
    expect(defaultValue(schema, schema)).toEqual([{ w: 1 }, { w: 1 }]);
    const withDefault: JsonSchema = { type: 'array', default: [1] };
    const a = defaultValue(withDefault, withDefault);
    expect(a).toEqual([1]);
    expect(a).not.toBe(withDefault.default);
  });
});

describe('checkValue', () => {
  const name: JsonSchema = { type: 'string', pattern: '^[a-z]{1,3}$', maxLength: 3 };
  it('checks required, pattern, length and range', () => {
    expect(checkValue(name, '', true)).toEqual({ key: 'required' });
    expect(checkValue(name, undefined, false)).toBeNull();
    expect(checkValue(name, 'abc', true)).toBeNull();
    expect(checkValue(name, 'AB', true)).toEqual({ key: 'pattern' });
    expect(checkValue(name, 'abcd', true)).toEqual({ key: 'maxLength', limit: 3 });
    expect(checkValue({ type: 'integer', minimum: 0, maximum: 6 }, 7, true)).toEqual({ key: 'max', limit: 6 });
    expect(checkValue({ type: 'integer', minimum: 0 }, -1, true)).toEqual({ key: 'min', limit: 0 });
    expect(checkValue({ type: 'integer' }, 1.5, true)).toEqual({ key: 'integer' });
  });
});

describe('helpers', () => {
  it('turns pointers into field paths', () => {
    expect(pointerToPath('/config/branches/0/name')).toBe('config.branches.0.name');
    expect(pointerToPath('/config/a~1b')).toBe('config.a/b');
  });

  it('humanises names', () => {
    expect(humanize('offset_days')).toBe('Offset days');
    expect(humanize('autoRenew')).toBe('Auto renew');
  });
});
