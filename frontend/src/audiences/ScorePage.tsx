/** One engagement score: the weights table, how old events fade, how points become levels 1–10; the
 * histogram of contacts per level and its 30-day trend, recompute progress, and what uses it. Property
 * filters use the rule language's own filter editor (the condition schema's `PropertyFilter`); durations
 * use the computed properties' "number + unit" window. */
import { useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { catalog, contacts, scores } from '../api/endpoints';
import { SCORE_CHANNELS, type Score, type ScoreChannel, type ScoreDefinition, type Vocabulary, type WeightedEvent } from '../api/types';
import { useIsViewer } from '../auth/session';
import { Chart } from '../charts/Chart';
import { Histogram } from '../charts/Histogram';
import { Icon } from '../components/Icon';
import { ErrorNotice, Loading } from '../components/States';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { problemText } from '../editor/problemText';
import { useFormat } from '../i18n/format';
import { FormContext, type FormContextValue } from '../schema-form/context';
import { Field } from '../schema-form/fields';
import { ruleSchemaOf } from '../schema-form/RuleEditor';
import type { JsonSchema } from '../schema-form/schema';
import { readWindow, WINDOW_UNITS, writeWindow, type WindowUnit } from './computed';
import { BAND_GROUPS, cleanDefinition, fillDefinition, groupTrend, LEVELS, localProblems, newDefinition } from './scores';
import { BuildState, ConfirmDeleteDialog, IdentityCard, splitProblems, usePolling } from './shared';
import './audiences.css';

const FIELDS = ['name', 'key', 'description', 'definition'] as const;
const KEY_PATTERN = /^[a-z0-9][a-z0-9_]*$/;
/** Form paths whose problems a field shows (the filters' own editor shows `where`'s). */
const SHOWN = /^(name|key|definition\.events|definition\.events\.\d+\.(event|channel|weight|where(\..*)?)|definition\.(fading|bands)(\..*)?)$/;
/** The trend's lines: engaged, drifting, cold (the legend under the chart names them). */
const BAND_COLORS = { high: '#0e9384', middle: '#4f46e5', low: '#b54708' } as const;
const LEVEL_LABELS = Array.from({ length: LEVELS }, (_, i) => String(i + 1));

interface Draft {
  name: string;
  key: string;
  description: string;
  definition: ScoreDefinition;
}

export default function ScorePage() {
  const { id = 'new' } = useParams();
  const { i18n } = useTranslation();
  const isNew = id === 'new';
  const blockTypes = useAsync(() => catalog.blockTypes(i18n.language), [i18n.language]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  const score = useAsync(() => (isNew ? Promise.resolve(null) : scores.get(id)), [id]);
  // Everyone in the workspace, for "N contacts have no score yet".
  const everyone = useAsync(() => contacts.search(''), [id]);
  // Levels move with every scored event (and fill up while being recomputed): keep the histogram live.
  usePolling(!isNew, () => {
    score.reload();
    if (score.data?.status !== 'building') everyone.reload();
  }, score.data?.status === 'building' ? 1500 : 10_000);

  const error = blockTypes.error ?? score.error;
  if (error) return <ErrorNotice error={error} onRetry={() => (blockTypes.error ? blockTypes.reload() : score.reload())} />;
  // After "Create", the URL names the new score while the last answer (none) is still shown: wait for it.
  const current = isNew ? score.data === null : score.data?.id === Number(id);
  if (!blockTypes.data || score.data === undefined || !current) return <Loading />;
  return (
    <ScoreEditor
      key={id}
      score={score.data}
      total={everyone.data?.total ?? null}
      ruleSchema={ruleSchemaOf(blockTypes.data)}
      vocabulary={vocabulary.data ?? null}
      onSaved={() => {
        score.reload();
        everyone.reload();
      }}
    />
  );
}

interface EditorProps {
  score: Score | null;
  total: number | null;
  ruleSchema: JsonSchema | null;
  vocabulary: Vocabulary | null;
  onSaved(): void;
}

function ScoreEditor({ score, total, ruleSchema, vocabulary, onSaved }: EditorProps) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const readOnly = useIsViewer();
  const ids = { name: useId(), key: useId(), description: useId(), events: useId(), fading: useId(), bands: useId(), amount: useId() };
  const initial: Draft = useMemo(
    () => ({
      name: score?.name ?? '',
      key: score?.key ?? '',
      description: score?.description ?? '',
      definition: score ? fillDefinition(score.definition) : newDefinition(),
    }),
    // Only the first load fills the form (later reloads follow the recompute's progress).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [score?.id],
  );
  const [draft, setDraft] = useState<Draft>(initial);
  const [saved, setSaved] = useState<Draft>(initial);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const problems = useMemo(() => {
    const split = splitProblems(saveError, FIELDS, (p) => problemText(t, p));
    // A problem no field shows (e.g. a whole weights line) goes to the box at the top, never lost.
    const unshown = [...split.byPath].filter(([path]) => !SHOWN.test(path)).flatMap(([, messages]) => messages);
    return { byPath: split.byPath, other: [...split.other, ...unshown] };
  }, [saveError, t]);
  const dirty = !score || JSON.stringify(draft) !== JSON.stringify(saved);
  const def = draft.definition;
  const local = localProblems(def);
  const keyInvalid = !score && draft.key !== '' && !KEY_PATTERN.test(draft.key);
  const complete = draft.name.trim() !== '' && local.events.size === 0 && !local.thresholds && !keyInvalid && def.events.length > 0;
  const setDef = (patch: Partial<ScoreDefinition>) => setDraft({ ...draft, definition: { ...def, ...patch } });
  const setLine = (index: number, patch: Partial<WeightedEvent>) => setDef({ events: def.events.map((line, i) => (i === index ? { ...line, ...patch } : line)) });
  const fieldErrors = (path: string, exact = false) =>
    [...problems.byPath.entries()]
      .filter(([p]) => p === path || (!exact && p.startsWith(`${path}.`)))
      .flatMap(([, messages]) => messages)
      .map((m) => (
        <p key={m} className="field-error" role="alert" data-testid={`score-${path.replace(/\./g, '-')}-error`}>
          {m}
        </p>
      ));

  const save = async () => {
    if (!complete) return;
    setSaving(true);
    setSaveError(null);
    const definition = cleanDefinition(def);
    try {
      const result = score
        ? await scores.update(score.id, { name: draft.name.trim(), description: draft.description, definition })
        : await scores.create({ name: draft.name.trim(), description: draft.description, definition, ...(draft.key ? { key: draft.key } : {}) });
      // Keep what the marketer typed (blank filters, units) — only the key comes from the server.
      const next: Draft = { ...draft, name: result.name, key: result.key };
      setSaved(next);
      setDraft(next);
      toast(t('score.saved', { name: result.name }));
      if (!score) navigate(`/scores/${result.id}`, { replace: true });
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
  const filtersSchema: JsonSchema = { type: 'array', title: t('score.where'), items: { $ref: '#/$defs/PropertyFilter' } };
  const templateCode = `{{ contact.scores.${score?.key ?? (draft.key || 'key')} }}`;
  const fadingValue = def.fading.mode === 'window' ? def.fading.window : def.fading.half_life;
  const fading = readWindow(fadingValue) ?? { amount: def.fading.mode === 'window' ? 30 : 14, unit: 'days' as WindowUnit };
  const setFading = (amount: number, unit: WindowUnit) =>
    setDef({ fading: { ...def.fading, [def.fading.mode === 'window' ? 'window' : 'half_life']: writeWindow(Math.max(1, amount), unit) } });

  return (
    <main className="page segment-page" data-testid="score-page" data-score-id={score?.id ?? ''}>
      <Link to="/scores" className="back-link">
        <Icon name="arrow-left" />
        {t('scores.title')}
      </Link>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="page-header">
          <div className="page-title">
            <h1>{score ? saved.name : t('score.new')}</h1>
            {score && <BuildState status={score.status} progress={score.progress} testId="score-status" />}
          </div>
          {!readOnly && (
            <div className="page-actions">
              {score && (
                <button type="button" className="button danger" onClick={() => setConfirmDelete(true)} data-testid="score-delete">
                  <Icon name="trash" />
                  {t('common.delete')}
                </button>
              )}
              <button type="submit" className="button primary" disabled={saving || !dirty || !complete} data-testid="score-save">
                {score ? t('common.save') : t('score.createSave')}
              </button>
            </div>
          )}
        </div>
        {problems.other.length > 0 && (
          <ul className="problem-box" role="alert" data-testid="score-problems">
            {problems.other.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        )}
        <div className="segment-layout">
          <fieldset className="plain-fieldset segment-main" disabled={readOnly}>
            <IdentityCard
              kind="score"
              draft={draft}
              onChange={(next) => setDraft({ ...draft, ...next })}
              savedKey={score ? score.key : null}
              keyInvalid={keyInvalid}
              fieldErrors={(path) => fieldErrors(path)}
              ids={ids}
            />

            <section className="card section" aria-labelledby="score-weights-title" data-testid="score-weights">
              <h2 id="score-weights-title">{t('score.weights')}</h2>
              <p className="field-hint">{t('score.weightsHint')}</p>
              <datalist id={ids.events}>
                {(vocabulary?.events ?? []).map((name) => (
                  <option key={name} value={name} />
                ))}
              </datalist>
              <div className="weights">
                {def.events.map((line, i) => (
                  <WeightLine
                    key={i}
                    index={i}
                    line={line}
                    listId={ids.events}
                    local={local.events.get(i)}
                    canRemove={def.events.length > 1}
                    onChange={(patch) => setLine(i, patch)}
                    onRemove={() => setDef({ events: def.events.filter((_, j) => j !== i) })}
                    errors={fieldErrors}
                    filters={
                      filtersContext && (
                        <FormContext.Provider value={filtersContext}>
                          <div className="schema-form">
                            <Field
                              name="where"
                              schema={filtersSchema}
                              required={false}
                              value={line.where ?? []}
                              path={`definition.events.${i}.where`}
                              onChange={(where) => setLine(i, { where: (where as WeightedEvent['where']) ?? [] })}
                            />
                          </div>
                        </FormContext.Provider>
                      )
                    }
                  />
                ))}
              </div>
              {fieldErrors('definition.events', true)}
              <button
                type="button"
                className="button small"
                disabled={def.events.length >= 50}
                onClick={() => setDef({ events: [...def.events, { event: '', weight: 1, where: [], channel: null }] })}
                data-testid="score-add-event"
              >
                <Icon name="plus" size={14} />
                {t('score.addEvent')}
              </button>
            </section>

            <section className="card section" aria-labelledby="score-fading-title">
              <h2 id="score-fading-title">{t('score.fading')}</h2>
              <div className="choice-row" role="radiogroup" aria-labelledby="score-fading-title">
                {(['window', 'decay'] as const).map((mode) => (
                  <label key={mode}>
                    <input
                      type="radio"
                      name={ids.fading}
                      value={mode}
                      checked={def.fading.mode === mode}
                      onChange={() => setDef({ fading: { ...def.fading, mode } })}
                      data-testid={`score-fading-${mode}`}
                    />
                    {t(`score.fadingMode.${mode}`)}
                  </label>
                ))}
              </div>
              <div className="field">
                <label className="field-label" htmlFor={ids.amount}>
                  {def.fading.mode === 'window' ? t('score.windowLabel') : t('score.halfLifeLabel')}
                </label>
                <div className="window-row">
                  <input
                    id={ids.amount}
                    className="input day-count"
                    type="number"
                    min={1}
                    step={1}
                    value={fading.amount}
                    onChange={(e) => setFading(Math.trunc(Number(e.target.value) || 1), fading.unit)}
                    data-testid="score-fading-amount"
                  />
                  <select className="select" value={fading.unit} aria-label={t('form.unit')} onChange={(e) => setFading(fading.amount, e.target.value as WindowUnit)} data-testid="score-fading-unit">
                    {WINDOW_UNITS.map((u) => (
                      <option key={u} value={u}>
                        {t(`units.${u}`)}
                      </option>
                    ))}
                  </select>
                </div>
                <p className="field-hint" data-testid="score-fading-hint">
                  {def.fading.mode === 'window' ? t('score.windowHint') : t('score.decayHint')}
                </p>
                {fieldErrors('definition.fading')}
              </div>
            </section>

            <section className="card section" aria-labelledby="score-bands-title">
              <h2 id="score-bands-title">{t('score.bands')}</h2>
              <div className="choice-row" role="radiogroup" aria-labelledby="score-bands-title">
                {(['thresholds', 'percentile'] as const).map((mode) => (
                  <label key={mode}>
                    <input
                      type="radio"
                      name={ids.bands}
                      value={mode}
                      checked={def.bands.mode === mode}
                      onChange={() => setDef({ bands: { ...def.bands, mode } })}
                      data-testid={`score-bands-${mode}`}
                    />
                    {t(`score.bandsMode.${mode}`)}
                  </label>
                ))}
              </div>
              <p className="field-hint" data-testid="score-bands-hint">
                {t(`score.bandsHint.${def.bands.mode}`)}
              </p>
              {def.bands.mode === 'thresholds' && (
                <div className="thresholds" data-testid="score-thresholds">
                  {def.bands.thresholds.map((value, i) => (
                    <ThresholdInput
                      key={i}
                      level={i + 2}
                      value={value}
                      onChange={(next) => setDef({ bands: { ...def.bands, thresholds: def.bands.thresholds.map((v, j) => (j === i ? next : v)) } })}
                    />
                  ))}
                </div>
              )}
              {local.thresholds && (
                <p className="field-error" role="alert" data-testid="score-thresholds-local">
                  {t('score.thresholdsRise')}
                </p>
              )}
              {fieldErrors('definition.bands')}
              {def.bands.mode === 'percentile' && score?.cutoffs && score.cutoffs.length > 0 && (
                <p className="small muted" data-testid="score-cutoffs">
                  {t('score.cutoffs', { points: score.cutoffs.map((c) => String(Math.round(c * 100) / 100)).join(' · ') })}
                </p>
              )}
            </section>
          </fieldset>
          <aside className="segment-side">{score && <Distribution score={score} total={total} />}
            <section className="card section" aria-labelledby="score-use-title" data-testid="score-usage">
              <h2 id="score-use-title">{t('score.use')}</h2>
              <p className="small">{t('score.useTemplates')}</p>
              <div className="copy-row">
                <code className="code-inline" data-testid="score-template-code">
                  {templateCode}
                </code>
                <button
                  type="button"
                  className="button small"
                  onClick={() => void navigator.clipboard?.writeText(templateCode).then(() => toast(t('computed.copied')))}
                  data-testid="score-copy"
                >
                  <Icon name="copy" size={14} />
                  {t('computed.copy')}
                </button>
              </div>
              <p className="small">{t('score.useRules')}</p>
              {score && !readOnly && (
                <Link
                  to="/segments/new"
                  state={{ rule: { kind: 'all', rules: [{ kind: 'score', key: score.key, min: 8, max: 10 }] }, name: t('score.engagedSegment', { name: score.name }) }}
                  className="button small"
                  data-testid="score-new-segment"
                >
                  <Icon name="plus" size={14} />
                  {t('score.newSegment')}
                </Link>
              )}
            </section>
            {score && (
              <section className="card section" aria-labelledby="score-used-title" data-testid="score-used-by">
                <h2 id="score-used-title">{t('score.usedBy')}</h2>
                {score.segments.length === 0 && (score.journeys ?? []).length === 0 ? (
                  <p className="muted small">{t('score.unused')}</p>
                ) : (
                  <ul className="plain-list">
                    {score.segments.map((name) => (
                      <li key={`s-${name}`}>
                        <span className="muted small">{t('score.segment')}</span> {name}
                      </li>
                    ))}
                    {(score.journeys ?? []).map((j) => (
                      <li key={`j-${j.id}`}>
                        <span className="muted small">{t('score.journey')}</span> <Link to={`/journeys/${j.id}`}>{j.name}</Link>
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            )}
          </aside>
        </div>
      </form>
      {confirmDelete && score && (
        <DeleteScoreDialog
          score={score}
          onClose={() => setConfirmDelete(false)}
          onDeleted={() => {
            toast(t('score.deleted', { name: score.name }));
            navigate('/scores');
          }}
        />
      )}
    </main>
  );
}

interface WeightLineProps {
  index: number;
  line: WeightedEvent;
  listId: string;
  local: 'event' | 'weight' | undefined;
  canRemove: boolean;
  onChange(patch: Partial<WeightedEvent>): void;
  onRemove(): void;
  errors(path: string, exact?: boolean): React.ReactNode;
  filters: React.ReactNode;
}

/** One line of the weights table: event, channel, weight, and its property filters folded away. */
function WeightLine({ index, line, listId, local, canRemove, onChange, onRemove, errors, filters }: WeightLineProps) {
  const { t } = useTranslation();
  const ids = { event: useId(), channel: useId(), weight: useId() };
  const base = `definition.events.${index}`;
  const filterCount = line.where?.length ?? 0;
  return (
    <div className="weight-line" data-testid={`score-event-${index}`} role="group" aria-label={t('score.lineN', { n: index + 1 })}>
      <div className="weight-main">
        <div className="field">
          <label className="field-label" htmlFor={ids.event}>
            {t('score.event')}
          </label>
          <input
            id={ids.event}
            className="input"
            required
            autoComplete="off"
            list={listId}
            maxLength={200}
            value={line.event}
            aria-invalid={local === 'event' && line.event !== ''}
            onChange={(e) => onChange({ event: e.target.value })}
            data-testid={`score-event-${index}-name`}
          />
          {errors(`${base}.event`)}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.channel}>
            {t('score.channel')}
          </label>
          <select
            id={ids.channel}
            className="select"
            value={line.channel ?? ''}
            onChange={(e) => onChange({ channel: (e.target.value || null) as ScoreChannel | null })}
            data-testid={`score-event-${index}-channel`}
          >
            <option value="">{t('score.anyChannel')}</option>
            {SCORE_CHANNELS.map((c) => (
              <option key={c} value={c}>
                {t(`channel.${c}`)}
              </option>
            ))}
          </select>
          {errors(`${base}.channel`)}
        </div>
        <div className="field">
          <label className="field-label" htmlFor={ids.weight}>
            {t('score.weight')}
          </label>
          <input
            id={ids.weight}
            className="input"
            type="number"
            min={-10}
            max={10}
            step="any"
            value={Number.isFinite(line.weight) ? line.weight : ''}
            aria-invalid={local === 'weight'}
            onChange={(e) => onChange({ weight: e.target.value === '' ? Number.NaN : Number(e.target.value) })}
            data-testid={`score-event-${index}-weight`}
          />
          {local === 'weight' && <p className="field-error">{t('score.weightRange')}</p>}
          {errors(`${base}.weight`)}
        </div>
        <button type="button" className="icon-button" aria-label={t('score.removeLine', { n: index + 1 })} disabled={!canRemove} onClick={onRemove} data-testid={`score-event-${index}-remove`}>
          <Icon name="trash" size={14} />
        </button>
      </div>
      {filters && (
        <details className="weight-filters" open={filterCount > 0 || undefined}>
          <summary data-testid={`score-event-${index}-filters`}>{t('score.filters', { count: filterCount })}</summary>
          {filters}
        </details>
      )}
    </div>
  );
}

function ThresholdInput({ level, value, onChange }: { level: number; value: number; onChange(value: number): void }) {
  const { t } = useTranslation();
  const id = useId();
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {t('score.levelN', { level })}
      </label>
      <input
        id={id}
        className="input"
        type="number"
        step="any"
        value={Number.isFinite(value) ? value : ''}
        onChange={(e) => onChange(e.target.value === '' ? Number.NaN : Number(e.target.value))}
        data-testid={`score-threshold-${level}`}
      />
    </div>
  );
}

/** The histogram of contacts per level now, those with no score, and the 30-day trend of the bands. */
function Distribution({ score, total }: { score: Score; total: number | null }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const trend = useMemo(() => groupTrend(score.trend), [score.trend]);
  const unscored = total === null ? null : Math.max(0, total - score.scored);
  const summary = t('score.histogramSummary', {
    scored: fmt.number(score.scored),
    counts: score.histogram.map((n, i) => t('scores.levelCount', { level: i + 1, count: fmt.number(n) })).join(', '),
  });
  const series = BAND_GROUPS.map((g) => ({ name: t('score.band', { from: g.from, to: g.to }), values: trend.groups[g.id], color: BAND_COLORS[g.id] }));
  const first = trend.days[0];
  const last = trend.days[trend.days.length - 1];
  return (
    <section className="card section" aria-labelledby="score-levels-title" data-testid="score-distribution">
      <h2 id="score-levels-title">{t('score.levels')}</h2>
      <p className="small" data-testid="score-scored" data-scored={score.scored}>
        {t('score.scoredCount', { count: score.scored, n: fmt.number(score.scored) })}
      </p>
      {unscored !== null && (
        <p className="small muted" data-testid="score-unscored" data-unscored={unscored}>
          {t('score.unscored', { count: unscored, n: fmt.number(unscored) })}
        </p>
      )}
      <Histogram labels={LEVEL_LABELS} values={score.histogram} summary={summary} bucket={t('score.level')} measure={t('score.contacts')} testId="score-histogram" />
      <h3 className="small strong">{t('score.trend')}</h3>
      {first && last && (
        <Chart
          days={trend.days}
          series={series}
          height={180}
          summary={t('score.trendSummary', { start: fmt.date(first), end: fmt.date(last) })}
          testId="score-trend"
        />
      )}
      <ul className="chart-legend small" aria-hidden="true">
        {series.map((s) => (
          <li key={s.name}>
            <span className="legend-swatch" style={{ background: s.color }} />
            {s.name}
          </li>
        ))}
      </ul>
    </section>
  );
}

function DeleteScoreDialog({ score, onClose, onDeleted }: { score: Score; onClose(): void; onDeleted(): void }) {
  const { t } = useTranslation();
  return (
    <ConfirmDeleteDialog
      title={t('score.deleteTitle', { name: score.name })}
      body={t('score.deleteBody')}
      testId="score-delete"
      remove={() => scores.remove(score.id)}
      onClose={onClose}
      onDeleted={onDeleted}
    />
  );
}
