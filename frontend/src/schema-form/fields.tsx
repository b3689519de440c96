/** The widgets of the schema form. `Field` picks one from the schema's shape (see `shapeOf`). */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { NamedRef } from '../api/types';
import { Icon } from '../components/Icon';
import { InlineText } from '../components/InlineText';
import { useFormContext } from './context';
import { formatDuration, parseDuration, SECONDS, toFriendly, UNITS, type Unit } from './duration';
import { enumLabel, fieldTitle, variantLabel } from './labels';
import { DayRangeControl } from './DayRange';
import './schema-form.css';
import { checkValue, defaultValue, deref, isNamedSource, shapeOf, type JsonSchema, type LocalError, type NamedSource, type Shape } from './schema';

type Obj = Record<string, unknown>;

interface ControlProps<T = unknown> {
  value: T;
  onChange(value: T): void;
  path: string;
  /** id for the <label htmlFor>. */
  id: string;
  /** Empty input means null (nullable fields) rather than "left out". */
  nullable?: boolean;
  /** The property name, for labels whose meaning depends on it. */
  name?: string;
}

const isObj = (value: unknown): value is Obj => value !== null && typeof value === 'object' && !Array.isArray(value);
const isEmpty = (value: unknown) => value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
const testId = (path: string, suffix = '') => `field-${path}${suffix}`;
const emptyValue = (nullable?: boolean) => (nullable ? null : undefined);

/** Properties of an object schema as a list of fields (the top level of a config, or a nested object). */
export function ObjectFields({ schema, value, onChange, path, skip }: { schema: JsonSchema; value: unknown; onChange(value: Obj): void; path: string; skip?: string }) {
  const current = isObj(value) ? value : {};
  const required = new Set(schema.required ?? []);
  return (
    <>
      {Object.entries(schema.properties ?? {})
        // Older forms of a field stay editable where a saved config uses them, and are offered nowhere else.
        .filter(([name, prop]) => name !== skip && !(prop.deprecated && isEmpty(current[name])))
        .map(([name, prop]) => (
          <Field
            key={name}
            name={name}
            schema={prop}
            required={required.has(name)}
            value={current[name]}
            path={`${path}.${name}`}
            onChange={(next) => {
              const copy = { ...current };
              if (next === undefined) delete copy[name];
              else copy[name] = next;
              onChange(copy);
            }}
          />
        ))}
    </>
  );
}

interface FieldProps {
  name: string;
  schema: JsonSchema;
  required: boolean;
  value: unknown;
  onChange(value: unknown): void;
  path: string;
  /** Array items are labelled by their position, not a property name. */
  label?: string;
}

/** One labelled field: the control its schema needs, its description, and its problems. */
export function Field({ name, schema: raw, required, value, onChange, path, label }: FieldProps) {
  const { t } = useTranslation();
  const { root, problems } = useFormContext();
  const id = useId();
  const schema = deref(raw, root);
  const shape = shapeOf(schema, root);
  const title = label ?? fieldTitle(t, schema, name);
  const serverProblems = problems.get(path) ?? [];
  const scalarSchema = shape.kind === 'nullable' ? deref(shape.inner, root) : schema;
  const local = isScalar(shape, root) ? checkValue(scalarSchema, value, required && shape.kind !== 'nullable') : null;
  // The local check judges the value as typed; the server's problems may be about the value before
  // the last keystroke ("Required." while the field now holds a malformed URL), so they wait for it.
  const messages = local ? [localMessage(t, local)] : serverProblems;
  const dayRange = schema['x-widget'] === 'day-range';
  const grouped = isGroup(shape, root) && !dayRange;

  const control = dayRange ? (
    <DayRangeControl measure={schema['x-days'] ?? 'length'} value={value} onChange={onChange} path={path} id={id} />
  ) : (
    <Control shape={shape} schema={schema} value={value} onChange={onChange} path={path} id={id} name={name} />
  );
  return (
    <div className={`field${grouped ? ' field-group' : ''}${messages.length ? ' invalid' : ''}`} data-field={path}>
      {shape.kind === 'boolean' ? (
        <label className="checkbox-row" htmlFor={id}>
          {control}
          <span>{title}</span>
        </label>
      ) : (
        <>
          <label className="field-label" htmlFor={id}>
            {title}
            {required && <span className="required" aria-hidden="true"> *</span>}
          </label>
          {control}
        </>
      )}
      {schema.description && (
        <p className="field-hint">
          <InlineText text={schema.description} />
        </p>
      )}
      {messages.map((message) => (
        <p key={message} className="field-error" role="alert" data-testid={testId(path, '-error')}>
          {message}
        </p>
      ))}
    </div>
  );
}

function isScalar(shape: Shape, root: JsonSchema): boolean {
  if (shape.kind === 'nullable') return isScalar(shapeOf(shape.inner, root), root);
  return shape.kind === 'string' || shape.kind === 'number' || shape.kind === 'enum';
}

function isGroup(shape: Shape, root: JsonSchema): boolean {
  if (shape.kind === 'nullable') return isGroup(shapeOf(shape.inner, root), root);
  return shape.kind === 'object' || shape.kind === 'union' || shape.kind === 'array' || shape.kind === 'map';
}

function localMessage(t: ReturnType<typeof useTranslation>['t'], error: LocalError): string {
  return 'limit' in error ? t(`form.error.${error.key}`, { limit: error.limit }) : t(`form.error.${error.key}`);
}

function Control({ shape, schema, ...props }: { shape: Shape; schema: JsonSchema } & ControlProps) {
  switch (shape.kind) {
    case 'nullable':
      return <NullableControl inner={shape.inner} {...props} />;
    case 'enum':
      return <EnumControl values={shape.values} labels={shape.labels} optional={props.nullable || schema.default === undefined} {...props} />;
    case 'union':
      return <UnionControl shape={shape} {...props} />;
    case 'string':
      return <StringControl schema={shape.schema} {...(props as ControlProps<string | null | undefined>)} />;
    case 'number':
      return <NumberControl schema={shape.schema} {...(props as ControlProps<number | null | undefined>)} />;
    case 'boolean':
      return <input id={props.id} type="checkbox" checked={props.value === true} onChange={(e) => props.onChange(e.target.checked)} data-testid={testId(props.path)} />;
    case 'array':
      return <ArrayControl items={shape.items} schema={shape.schema} {...props} />;
    case 'object':
      return (
        <fieldset className="group" id={props.id} data-testid={testId(props.path)}>
          <ObjectFields schema={shape.schema} value={props.value} onChange={props.onChange} path={props.path} />
        </fieldset>
      );
    case 'map':
      return <MapControl values={shape.values} schema={shape.schema} {...props} />;
    case 'any':
      return <AnyControl {...props} />;
  }
}

/** `anyOf [X, null]`: scalars treat an empty input as null; objects and lists get an on/off switch. */
function NullableControl({ inner, ...props }: { inner: JsonSchema } & ControlProps) {
  const { t } = useTranslation();
  const { root } = useFormContext();
  const shape = shapeOf(inner, root);
  if (shape.kind === 'boolean') {
    const current = props.value === true ? 'true' : props.value === false ? 'false' : '';
    return (
      <select id={props.id} className="select" value={current} onChange={(e) => props.onChange(e.target.value === '' ? null : e.target.value === 'true')} data-testid={testId(props.path)}>
        <option value="">{t('form.any')}</option>
        <option value="true">{t('common.yes')}</option>
        <option value="false">{t('common.no')}</option>
      </select>
    );
  }
  if (isScalar(shape, root)) return <Control shape={shape} schema={inner} {...props} nullable />;
  const on = props.value !== null && props.value !== undefined;
  return (
    <div className="nullable">
      <label className="checkbox-row">
        <input
          id={props.id}
          type="checkbox"
          checked={on}
          onChange={(e) => props.onChange(e.target.checked ? defaultValue(inner, root) ?? {} : null)}
          data-testid={testId(props.path, '-enabled')}
        />
        <span>{t('form.enabled')}</span>
      </label>
      {on && <Control shape={shape} schema={inner} {...props} id={`${props.id}-value`} />}
    </div>
  );
}

function EnumControl({ values, labels, optional, ...props }: { values: unknown[]; labels?: Record<string, string>; optional: boolean } & ControlProps) {
  const { t } = useTranslation();
  const index = values.findIndex((v) => v === props.value);
  return (
    <select
      id={props.id}
      className="select"
      value={index < 0 ? '' : String(index)}
      onChange={(e) => props.onChange(e.target.value === '' ? emptyValue(props.nullable) : values[Number(e.target.value)])}
      data-testid={testId(props.path)}
    >
      {(optional || index < 0) && <option value="">{t('form.choose')}</option>}
      {values.map((v, i) => (
        <option key={String(v)} value={String(i)}>
          {enumLabel(t, v, labels, props.name)}
        </option>
      ))}
    </select>
  );
}

/** A tagged union (`discriminator.propertyName`): pick the variant, then fill in its own fields. */
function UnionControl({ shape, ...props }: { shape: Extract<Shape, { kind: 'union' }> } & ControlProps) {
  const { t } = useTranslation();
  const { root } = useFormContext();
  const current = isObj(props.value) ? props.value : {};
  const tag = current[shape.property];
  const variant = shape.variants.find((v) => v.tag === String(tag));
  const choose = (next: string) => {
    const chosen = shape.variants.find((v) => v.tag === next);
    if (!chosen) return props.onChange(emptyValue(props.nullable));
    const fresh = defaultValue(chosen.schema, root);
    props.onChange({ ...(isObj(fresh) ? fresh : {}), [shape.property]: coerceTag(chosen.schema, shape.property) ?? chosen.tag });
  };
  const resolved = variant ? deref(variant.schema, root) : null;
  return (
    <div className="union" id={props.id}>
      <select className="select" value={variant?.tag ?? ''} onChange={(e) => choose(e.target.value)} data-testid={testId(`${props.path}.${shape.property}`)} aria-label={t('form.kind')}>
        {!variant && <option value="">{t('form.choose')}</option>}
        {shape.variants.map((v) => (
          <option key={v.tag} value={v.tag}>
            {variantLabel(t, v.tag)}
          </option>
        ))}
      </select>
      {resolved?.description && (
        <p className="field-hint">
          <InlineText text={resolved.description} />
        </p>
      )}
      {resolved && (
        <div className="group">
          <ObjectFields schema={resolved} value={current} onChange={props.onChange} path={props.path} skip={shape.property} />
        </div>
      )}
    </div>
  );
}

/** The tag as its schema types it (discriminators are usually strings, but need not be). */
function coerceTag(schema: JsonSchema, property: string): unknown {
  const tagSchema = schema.properties?.[property];
  return tagSchema?.enum?.[0] ?? tagSchema?.const;
}

function StringControl({ schema, ...props }: { schema: JsonSchema } & ControlProps<string | null | undefined>) {
  const { vocabulary } = useFormContext();
  const listId = useId();
  if (schema.format === 'duration') return <DurationControl {...props} />;
  if (schema.format === 'date-time') return <DateTimeControl {...props} />;
  const text = props.value ?? '';
  const set = (next: string) => props.onChange(next === '' ? emptyValue(props.nullable) : next);
  if (schema['x-widget'] === 'textarea') {
    return <textarea id={props.id} className="input textarea" value={text} onChange={(e) => set(e.target.value)} data-testid={testId(props.path)} rows={5} />;
  }
  const source = schema['x-source'];
  if (isNamedSource(source) && vocabulary) {
    return <NamedPicker source={source} refs={vocabulary[source] ?? []} {...props} />;
  }
  const options = source && !isNamedSource(source) ? (vocabulary?.[source] ?? []).map((name) => ({ value: name, label: '' })) : [];
  return (
    <>
      <input
        id={props.id}
        className="input"
        value={text}
        onChange={(e) => set(e.target.value)}
        list={source ? listId : undefined}
        autoComplete="off"
        pattern={schema.pattern}
        maxLength={schema.maxLength}
        data-testid={testId(props.path)}
      />
      {source && (
        <datalist id={listId} data-testid={testId(props.path, '-options')}>
          {options.map((option) => (
            <option key={option.value} value={option.value} label={option.label || undefined} />
          ))}
        </datalist>
      )}
    </>
  );
}

/** A template, segment or computed property: chosen by its name, stored by its key. A key the workspace
 * no longer has (deleted, or from another workspace's template) stays selected and says so. */
function NamedPicker({ source, refs, ...props }: { source: NamedSource; refs: readonly NamedRef[] } & ControlProps<string | null | undefined>) {
  const { t } = useTranslation();
  const current = props.value ?? '';
  const known = refs.some((ref) => ref.key === current);
  // Two things of one name are told apart by their keys.
  const names = new Map<string, number>();
  refs.forEach((ref) => names.set(ref.name, (names.get(ref.name) ?? 0) + 1));
  return (
    <>
      <select
        id={props.id}
        className="select"
        value={current}
        onChange={(e) => props.onChange(e.target.value === '' ? emptyValue(props.nullable) : e.target.value)}
        data-testid={testId(props.path)}
        data-source={source}
      >
        <option value="">{refs.length ? t('form.choose') : t(`form.noneYet.${source}`)}</option>
        {refs.map((ref) => (
          <option key={ref.key} value={ref.key}>
            {(names.get(ref.name) ?? 0) > 1 ? `${ref.name} (${ref.key})` : ref.name}
          </option>
        ))}
        {current && !known && <option value={current}>{t('form.missingKey', { key: current })}</option>}
      </select>
      {current && !known && (
        <p className="field-hint warn-text" data-testid={testId(props.path, '-missing')}>
          {t(`form.missing.${source}`, { key: current })}
        </p>
      )}
      {source === 'templates' && known && <TemplateLink templateKey={current} testId={testId(props.path, '-open')} />}
      {source === 'computed' && known && (
        <p className="field-hint">
          {t('form.computedInTemplates')} <code>{`{{ contact.computed.${current} }}`}</code>
        </p>
      )}
    </>
  );
}

/** A template named by a `send` block opens in the template editor, in a new tab (the journey stays open). */
function TemplateLink({ templateKey, testId }: { templateKey: string; testId: string }) {
  const { t } = useTranslation();
  return (
    <a className="field-link small" href={`/templates/key/${encodeURIComponent(templateKey)}`} target="_blank" rel="noopener" data-testid={testId}>
      {t('form.openTemplate')} ↗
    </a>
  );
}

function NumberControl({ schema, ...props }: { schema: JsonSchema } & ControlProps<number | null | undefined>) {
  return (
    <input
      id={props.id}
      className="input"
      type="number"
      inputMode={schema.type === 'integer' ? 'numeric' : 'decimal'}
      step={schema.type === 'integer' ? 1 : 'any'}
      min={schema.minimum}
      max={schema.maximum}
      value={props.value ?? ''}
      onChange={(e) => props.onChange(e.target.value === '' ? emptyValue(props.nullable) : Number(e.target.value))}
      data-testid={testId(props.path)}
    />
  );
}

/** An ISO 8601 duration edited as "number + unit"; the unit select has `-unit` appended to its test id. */
function DurationControl(props: ControlProps<string | null | undefined>) {
  const { t } = useTranslation();
  const seconds = props.value ? parseDuration(props.value) : null;
  const [unit, setUnit] = useState<Unit>(() => (seconds ? toFriendly(seconds).unit : 'hours'));
  const emitted = useRef(props.value);
  useEffect(() => {
    // A value from outside (undo, another block selected) picks its natural unit again.
    if (props.value !== emitted.current && seconds) setUnit(toFriendly(seconds).unit);
    emitted.current = props.value;
  }, [props.value, seconds]);
  const emit = (amount: number | null, nextUnit: Unit) => {
    const value = amount === null ? emptyValue(props.nullable) : formatDuration(amount * SECONDS[nextUnit]);
    emitted.current = value;
    props.onChange(value);
  };
  if (props.value && seconds === null) {
    // Not expressible in fixed units (months, years): keep the raw ISO text editable.
    return <input id={props.id} className="input" value={props.value} onChange={(e) => props.onChange(e.target.value || emptyValue(props.nullable))} data-testid={testId(props.path)} />;
  }
  const amount = seconds === null ? '' : String(Math.round((seconds / SECONDS[unit]) * 1000) / 1000);
  return (
    <div className="duration">
      <input
        id={props.id}
        className="input"
        type="number"
        min={0}
        step="any"
        value={amount}
        onChange={(e) => emit(e.target.value === '' ? null : Number(e.target.value), unit)}
        data-testid={testId(props.path)}
      />
      <select
        className="select"
        value={unit}
        aria-label={t('form.unit')}
        onChange={(e) => {
          const next = e.target.value as Unit;
          setUnit(next);
          if (amount !== '') emit(Number(amount), next);
        }}
        data-testid={testId(props.path, '-unit')}
      >
        {UNITS.map((u) => (
          <option key={u} value={u}>
            {t(`units.${u}`)}
          </option>
        ))}
      </select>
    </div>
  );
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `format: date-time` as the browser's local date-time picker; the value is stored in UTC. */
function DateTimeControl(props: ControlProps<string | null | undefined>) {
  const date = props.value ? new Date(props.value) : null;
  const local =
    date && !Number.isNaN(date.getTime())
      ? `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
      : '';
  return (
    <input
      id={props.id}
      className="input"
      type="datetime-local"
      value={local}
      onChange={(e) => props.onChange(e.target.value ? new Date(e.target.value).toISOString() : emptyValue(props.nullable))}
      data-testid={testId(props.path)}
    />
  );
}

function ArrayControl({ items, schema, ...props }: { items: JsonSchema; schema: JsonSchema } & ControlProps) {
  const { t } = useTranslation();
  const { root } = useFormContext();
  const list = Array.isArray(props.value) ? props.value : [];
  const min = schema.minItems ?? 0;
  const max = schema.maxItems ?? Infinity;
  const replace = (next: unknown[]) => props.onChange(next);
  const move = (from: number, to: number) => {
    const next = [...list];
    const [item] = next.splice(from, 1);
    next.splice(to, 0, item);
    replace(next);
  };
  return (
    <div className="array" id={props.id} data-testid={testId(props.path)}>
      {list.map((item, i) => (
        <ArrayItem
          key={i}
          index={i}
          count={list.length}
          canRemove={list.length > min}
          onMove={move}
          onRemove={() => replace(list.filter((_, j) => j !== i))}
          path={`${props.path}.${i}`}
        >
          <Field
            name={String(i)}
            label={t('form.item', { n: i + 1 })}
            schema={items}
            required
            value={item}
            path={`${props.path}.${i}`}
            onChange={(next) => replace(list.map((old, j) => (j === i ? next : old)))}
          />
        </ArrayItem>
      ))}
      <button
        type="button"
        className="button small"
        disabled={list.length >= max}
        // Adding to a list below its minimum length fills it up to the minimum (split.random: two branches).
        onClick={() => replace([...list, ...Array.from({ length: Math.max(1, min - list.length) }, () => defaultValue(items, root) ?? null)])}
        data-testid={testId(props.path, '-add')}
      >
        <Icon name="plus" size={14} />
        {t('form.add')}
      </button>
    </div>
  );
}

function ArrayItem({ index, count, canRemove, onMove, onRemove, path, children }: { index: number; count: number; canRemove: boolean; onMove(from: number, to: number): void; onRemove(): void; path: string; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="array-item">
      <div className="array-item-body">{children}</div>
      <div className="array-item-actions">
        <button type="button" className="icon-button" disabled={index === 0} onClick={() => onMove(index, index - 1)} aria-label={t('form.moveUp')}>
          <Icon name="chevron-up" size={14} />
        </button>
        <button type="button" className="icon-button" disabled={index === count - 1} onClick={() => onMove(index, index + 1)} aria-label={t('form.moveDown')}>
          <Icon name="chevron-down" size={14} />
        </button>
        <button type="button" className="icon-button" disabled={!canRemove} onClick={onRemove} aria-label={t('form.remove')} data-testid={testId(path, '-remove')}>
          <Icon name="trash" size={14} />
        </button>
      </div>
    </div>
  );
}

/** `type: object` without properties (a dictionary): one row per key, and a row to add a key. */
function MapControl({ values, schema, ...props }: { values: JsonSchema | null; schema: JsonSchema } & ControlProps) {
  const { t } = useTranslation();
  const { root, vocabulary } = useFormContext();
  const current = isObj(props.value) ? props.value : {};
  const [newKey, setNewKey] = useState('');
  const listId = useId();
  const source = schema['x-source'];
  const suggestions = source && !isNamedSource(source) ? (vocabulary?.[source] ?? []) : [];
  const add = () => {
    const key = newKey.trim();
    if (!key || key in current) return;
    props.onChange({ ...current, [key]: values ? (defaultValue(values, root) ?? '') : '' });
    setNewKey('');
  };
  return (
    <div className="map" id={props.id} data-testid={testId(props.path)}>
      {Object.entries(current).map(([key, value]) => (
        <div key={key} className="map-row">
          <div className="map-value">
            <Field
              name={key}
              label={key}
              schema={values ?? {}}
              required={false}
              value={value}
              path={`${props.path}.${key}`}
              onChange={(next) => props.onChange({ ...current, [key]: next ?? null })}
            />
          </div>
          <button
            type="button"
            className="icon-button"
            aria-label={t('form.remove')}
            onClick={() => props.onChange(Object.fromEntries(Object.entries(current).filter(([k]) => k !== key)))}
            data-testid={testId(`${props.path}.${key}`, '-remove')}
          >
            <Icon name="trash" size={14} />
          </button>
        </div>
      ))}
      <div className="map-add">
        <input
          className="input"
          value={newKey}
          placeholder={t('form.newKey')}
          aria-label={t('form.newKey')}
          list={suggestions.length ? listId : undefined}
          onChange={(e) => setNewKey(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
          data-testid={testId(props.path, '-new-key')}
        />
        {suggestions.length > 0 && (
          <datalist id={listId}>
            {suggestions.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        )}
        <button type="button" className="button small" onClick={add} disabled={!newKey.trim() || newKey.trim() in current} data-testid={testId(props.path, '-add')}>
          <Icon name="plus" size={14} />
          {t('form.add')}
        </button>
      </div>
    </div>
  );
}

/** Read what a marketer typed into an untyped field: numbers, true/false/null and JSON lists or objects
 * are taken as such, anything else is text. */
export function parseLoose(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(trimmed) || /^[[{"]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

export function showLoose(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A value of any type (`value` in attribute rules): typed as text, read with `parseLoose`. */
function AnyControl(props: ControlProps) {
  const { t } = useTranslation();
  const [text, setText] = useState(() => showLoose(props.value));
  const emitted = useRef(props.value);
  useEffect(() => {
    if (props.value !== emitted.current) setText(showLoose(props.value));
    emitted.current = props.value;
  }, [props.value]);
  return (
    <input
      id={props.id}
      className="input"
      value={text}
      placeholder={t('form.anyHint')}
      onChange={(e) => {
        setText(e.target.value);
        const value = parseLoose(e.target.value);
        emitted.current = value;
        props.onChange(value);
      }}
      data-testid={testId(props.path)}
    />
  );
}
