/** One computed property: what it aggregates (event, aggregate, property, filters, window), its build
 * progress, the segments that use it and how to print it in a template. The property filters use the
 * rule language's own filter editor (the condition schema's `PropertyFilter`). */
import { useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { catalog, computedProperties } from '../api/endpoints';
import { AGGREGATES, NEEDS_PROPERTY, type Aggregate, type ComputedDefinition, type ComputedProperty, type Vocabulary } from '../api/types';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { ErrorNotice, Loading } from '../components/States';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { problemText } from '../editor/problemText';
import { FormContext, type FormContextValue } from '../schema-form/context';
import { Field } from '../schema-form/fields';
import { ruleSchemaOf } from '../schema-form/RuleEditor';
import type { JsonSchema } from '../schema-form/schema';
import { readWindow, WINDOW_UNITS, writeWindow, type WindowUnit } from './computed';
import { BuildState, ConfirmDeleteDialog, IdentityCard, splitProblems, usePolling } from './shared';
import './audiences.css';

const FIELDS = ['name', 'key', 'description', 'definition'] as const;
const KEY_PATTERN = /^[a-z0-9][a-z0-9_]*$/;

interface Draft {
  name: string;
  key: string;
  description: string;
  definition: ComputedDefinition;
}

export default function ComputedPropertyPage() {
  const { id = 'new' } = useParams();
  const { i18n } = useTranslation();
  const isNew = id === 'new';
  const blockTypes = useAsync(() => catalog.blockTypes(i18n.language), [i18n.language]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  const prop = useAsync(() => (isNew ? Promise.resolve(null) : computedProperties.get(id)), [id]);
  usePolling(prop.data?.status === 'building', prop.reload);

  const error = blockTypes.error ?? prop.error;
  if (error) return <ErrorNotice error={error} onRetry={() => (blockTypes.error ? blockTypes.reload() : prop.reload())} />;
  // After "Create", the URL names the new property while the last answer (none) is still shown: wait for it.
  const current = isNew ? prop.data === null : prop.data?.id === Number(id);
  if (!blockTypes.data || prop.data === undefined || !current) return <Loading />;
  return <ComputedEditor key={id} prop={prop.data} ruleSchema={ruleSchemaOf(blockTypes.data)} vocabulary={vocabulary.data ?? null} onSaved={prop.reload} />;
}

function ComputedEditor({ prop, ruleSchema, vocabulary, onSaved }: { prop: ComputedProperty | null; ruleSchema: JsonSchema | null; vocabulary: Vocabulary | null; onSaved(): void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const readOnly = useIsViewer();
  const ids = { name: useId(), key: useId(), description: useId(), event: useId(), aggregate: useId(), property: useId(), window: useId(), events: useId() };
  const initial: Draft = useMemo(
    () => ({
      name: prop?.name ?? '',
      key: prop?.key ?? '',
      description: prop?.description ?? '',
      definition: prop?.definition ?? { event: '', aggregate: 'count', property: null, where: [], window: 'P30D' },
    }),
    // Only the first load fills the form (later reloads follow the build's progress).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [prop?.id],
  );
  const [draft, setDraft] = useState<Draft>(initial);
  const [saved, setSaved] = useState<Draft>(initial);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const problems = useMemo(() => splitProblems(saveError, FIELDS, (p) => problemText(t, p)), [saveError, t]);
  const dirty = !prop || JSON.stringify(draft) !== JSON.stringify(saved);
  const def = draft.definition;
  const needsProperty = NEEDS_PROPERTY.includes(def.aggregate);
  const keyInvalid = !prop && draft.key !== '' && !KEY_PATTERN.test(draft.key);
  const complete = draft.name.trim() !== '' && def.event.trim() !== '' && (!needsProperty || Boolean(def.property?.trim())) && !keyInvalid;
  const setDef = (patch: Partial<ComputedDefinition>) => setDraft({ ...draft, definition: { ...def, ...patch } });
  const window = readWindow(def.window);
  const fieldErrors = (path: string) =>
    (problems.byPath.get(path) ?? []).map((m) => (
      <p key={m} className="field-error" role="alert" data-testid={`computed-${path.replace(/\./g, '-')}-error`}>
        {m}
      </p>
    ));

  const save = async () => {
    if (!complete) return;
    setSaving(true);
    setSaveError(null);
    const definition: ComputedDefinition = { ...def, event: def.event.trim(), property: def.property?.trim() || null };
    try {
      const result = prop
        ? await computedProperties.update(prop.id, { name: draft.name.trim(), description: draft.description, definition })
        : await computedProperties.create({ name: draft.name.trim(), description: draft.description, definition, ...(draft.key ? { key: draft.key } : {}) });
      const next: Draft = { name: result.name, key: result.key, description: result.description, definition: result.definition };
      setSaved(next);
      setDraft(next);
      toast(t('computed.saved', { name: result.name }));
      if (!prop) navigate(`/computed-properties/${result.id}`, { replace: true });
      else onSaved();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  };

  const filtersContext = useMemo<FormContextValue | null>(
    () => (ruleSchema ? { root: ruleSchema, vocabulary, problems: problems.byPath } : null),
    [ruleSchema, vocabulary, problems.byPath],
  );
  const filtersSchema: JsonSchema = { type: 'array', title: t('computed.where'), items: { $ref: '#/$defs/PropertyFilter' } };
  const templateCode = `{{ contact.computed.${prop?.key ?? (draft.key || 'key')} }}`;

  return (
    <main className="page segment-page" data-testid="computed-property-page" data-computed-id={prop?.id ?? ''}>
      <Link to="/computed-properties" className="back-link">
        <Icon name="arrow-left" />
        {t('computed.title')}
      </Link>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="page-header">
          <div className="page-title">
            <h1>{prop ? saved.name : t('computed.new')}</h1>
            {prop && <BuildState status={prop.status} progress={prop.progress} testId="computed-status" />}
          </div>
          {!readOnly && (
            <div className="page-actions">
              {prop && (
                <button type="button" className="button danger" onClick={() => setConfirmDelete(true)} data-testid="computed-delete">
                  <Icon name="trash" />
                  {t('common.delete')}
                </button>
              )}
              <button type="submit" className="button primary" disabled={saving || !dirty || !complete} data-testid="computed-save">
                {prop ? t('common.save') : t('computed.createSave')}
              </button>
            </div>
          )}
        </div>
        {problems.other.length > 0 && (
          <ul className="problem-box" role="alert" data-testid="computed-problems">
            {problems.other.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        )}
        <div className="segment-layout">
          <fieldset className="plain-fieldset segment-main" disabled={readOnly}>
            <IdentityCard
              kind="computed"
              draft={draft}
              onChange={(next) => setDraft({ ...draft, ...next })}
              savedKey={prop ? prop.key : null}
              keyInvalid={keyInvalid}
              fieldErrors={(path) => fieldErrors(path)}
              ids={ids}
            />
            <section className="card section" aria-labelledby="computed-definition-title">
              <h2 id="computed-definition-title">{t('computed.definition')}</h2>
              <div className="form-grid">
                <div className="field">
                  <label className="field-label" htmlFor={ids.event}>
                    {t('computed.event')}
                    <span className="required" aria-hidden="true">
                      {' '}
                      *
                    </span>
                  </label>
                  <input
                    id={ids.event}
                    className="input"
                    required
                    autoComplete="off"
                    list={ids.events}
                    value={def.event}
                    onChange={(e) => setDef({ event: e.target.value })}
                    data-testid="computed-event"
                  />
                  <datalist id={ids.events} data-testid="computed-event-options">
                    {(vocabulary?.events ?? []).map((name) => (
                      <option key={name} value={name} />
                    ))}
                  </datalist>
                  {fieldErrors('definition.event')}
                </div>
                <div className="field">
                  <label className="field-label" htmlFor={ids.aggregate}>
                    {t('computed.aggregateLabel')}
                  </label>
                  <select id={ids.aggregate} className="select" value={def.aggregate} onChange={(e) => setDef({ aggregate: e.target.value as Aggregate })} data-testid="computed-aggregate">
                    {AGGREGATES.map((a) => (
                      <option key={a} value={a}>
                        {t(`computed.aggregate.${a}`)}
                      </option>
                    ))}
                  </select>
                  <p className="field-hint">{t(`computed.aggregateHint.${def.aggregate}`)}</p>
                </div>
              </div>
              <div className="field">
                <label className="field-label" htmlFor={ids.property}>
                  {t('computed.property')}
                  {needsProperty && (
                    <span className="required" aria-hidden="true">
                      {' '}
                      *
                    </span>
                  )}
                </label>
                <input
                  id={ids.property}
                  className="input"
                  maxLength={200}
                  required={needsProperty}
                  value={def.property ?? ''}
                  placeholder={t('computed.propertyPlaceholder')}
                  onChange={(e) => setDef({ property: e.target.value || null })}
                  data-testid="computed-property"
                />
                <p className="field-hint">{needsProperty ? t('computed.propertyNeeded') : t('computed.propertyOptional')}</p>
                {fieldErrors('definition.property')}
              </div>
              {filtersContext && (
                <FormContext.Provider value={filtersContext}>
                  <div className="schema-form">
                    <Field name="where" schema={filtersSchema} required={false} value={def.where ?? []} path="definition.where" onChange={(where) => setDef({ where: (where as ComputedDefinition['where']) ?? [] })} />
                  </div>
                </FormContext.Provider>
              )}
              <div className="field">
                <label className="field-label" htmlFor={ids.window}>
                  {t('computed.window')}
                </label>
                <div className="window-row">
                  <select
                    id={ids.window}
                    className="select"
                    value={window ? 'rolling' : 'all'}
                    onChange={(e) => setDef({ window: e.target.value === 'all' ? null : 'P30D' })}
                    data-testid="computed-window-kind"
                  >
                    <option value="rolling">{t('computed.rolling')}</option>
                    <option value="all">{t('computed.allTime')}</option>
                  </select>
                  {window && (
                    <>
                      <input
                        className="input day-count"
                        type="number"
                        min={1}
                        step={1}
                        value={window.amount}
                        aria-label={t('computed.windowAmount')}
                        onChange={(e) => setDef({ window: writeWindow(Math.max(1, Math.trunc(Number(e.target.value) || 1)), window.unit) })}
                        data-testid="computed-window"
                      />
                      <select
                        className="select"
                        value={window.unit}
                        aria-label={t('form.unit')}
                        onChange={(e) => setDef({ window: writeWindow(window.amount, e.target.value as WindowUnit) })}
                        data-testid="computed-window-unit"
                      >
                        {WINDOW_UNITS.map((u) => (
                          <option key={u} value={u}>
                            {t(`units.${u}`)}
                          </option>
                        ))}
                      </select>
                    </>
                  )}
                </div>
                <p className="field-hint">{window ? t('computed.windowHint') : t('computed.allTimeHint')}</p>
                {fieldErrors('definition.window')}
              </div>
            </section>
          </fieldset>
          <aside className="segment-side">
            <section className="card section" aria-labelledby="computed-use-title" data-testid="computed-usage">
              <h2 id="computed-use-title">{t('computed.use')}</h2>
              <p className="small">{t('computed.useTemplates')}</p>
              <div className="copy-row">
                <code className="code-inline" data-testid="computed-template-code">
                  {templateCode}
                </code>
                <button
                  type="button"
                  className="button small"
                  onClick={() => void navigator.clipboard?.writeText(templateCode).then(() => toast(t('computed.copied')))}
                  data-testid="computed-copy"
                >
                  <Icon name="copy" size={14} />
                  {t('computed.copy')}
                </button>
              </div>
              <p className="small">{t('computed.useRules')}</p>
              {prop && !readOnly && (
                <Link
                  to="/segments/new"
                  state={{ rule: { kind: 'all', rules: [{ kind: 'computed', key: prop.key, op: 'gte', value: 1 }] }, name: prop.name }}
                  className="button small"
                  data-testid="computed-new-segment"
                >
                  <Icon name="plus" size={14} />
                  {t('computed.newSegment')}
                </Link>
              )}
            </section>
            {prop && (
              <section className="card section" aria-labelledby="computed-segments-title" data-testid="computed-segments">
                <h2 id="computed-segments-title">{t('computed.usedBy')}</h2>
                {prop.segments.length === 0 ? (
                  <p className="muted small">{t('computed.noSegments')}</p>
                ) : (
                  <ul className="plain-list">
                    {prop.segments.map((name) => (
                      <li key={name}>{name}</li>
                    ))}
                  </ul>
                )}
              </section>
            )}
          </aside>
        </div>
      </form>
      {confirmDelete && prop && (
        <DeleteComputedDialog
          prop={prop}
          onClose={() => setConfirmDelete(false)}
          onDeleted={() => {
            toast(t('computed.deleted', { name: prop.name }));
            navigate('/computed-properties');
          }}
        />
      )}
    </main>
  );
}

function DeleteComputedDialog({ prop, onClose, onDeleted }: { prop: ComputedProperty; onClose(): void; onDeleted(): void }) {
  const { t } = useTranslation();
  return (
    <ConfirmDeleteDialog
      title={t('computed.deleteTitle', { name: prop.name })}
      body={t('computed.deleteBody')}
      testId="computed-delete"
      remove={() => computedProperties.remove(prop.id)}
      onClose={onClose}
      onDeleted={onDeleted}
    />
  );
}
