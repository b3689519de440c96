/** One segment: name, description and its rule in the shared rule editor, with a live count and a sample
 * while editing; once saved, its size and 30-day trend, the journeys that use it, and its members. */
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { catalog, exportUrl, segments } from '../api/endpoints';
import type { BlockType, Segment, SegmentPreview, Vocabulary } from '../api/types';
import { useIsViewer } from '../auth/session';
import { Icon } from '../components/Icon';
import { LoadMore } from '../components/PagedTable';
import { StatusBadge } from '../components/StatusBadge';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { useDebounced } from '../components/useDebounced';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';
import { problemText } from '../editor/problemText';
import { RULE_BLOCK, RuleEditor, ruleSchemaOf } from '../schema-form/RuleEditor';
import type { JsonSchema } from '../schema-form/schema';
import { BuildState, ConfirmDeleteDialog, splitProblems, usePolling } from './shared';
import './audiences.css';

// ECharts loads with the chart, not with this page.
const Chart = lazy(() => import('../charts/Chart').then((m) => ({ default: m.Chart })));

const NEW_RULE = { kind: 'all', rules: [] };
const FIELDS = ['name', 'description', 'rule'] as const;

interface Draft {
  name: string;
  description: string;
  rule: Record<string, unknown> | undefined;
}

export default function SegmentPage() {
  const { id = 'new' } = useParams();
  const { t, i18n } = useTranslation();
  // "New segment with this property" (computed properties page) hands over a rule to start from.
  const preset = (useLocation().state ?? null) as { rule?: Record<string, unknown>; name?: string } | null;
  const blockTypes = useAsync(() => catalog.blockTypes(i18n.language), [i18n.language]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  const isNew = id === 'new';
  const segment = useAsync(() => (isNew ? Promise.resolve(null) : segments.get(id)), [id]);
  // Membership is being built (or rebuilt after a new rule): follow its progress.
  usePolling(segment.data?.status === 'building', segment.reload);

  const schema = blockTypes.data ? ruleSchemaOf(blockTypes.data) : null;
  const error = blockTypes.error ?? segment.error;
  if (error) return <ErrorNotice error={error} onRetry={() => (blockTypes.error ? blockTypes.reload() : segment.reload())} />;
  // After "Create", the URL names the new segment while the last answer (none) is still shown: wait for it.
  const current = isNew ? segment.data === null : segment.data?.id === Number(id);
  if (!blockTypes.data || segment.data === undefined || !current) return <Loading />;
  if (!schema) return <ErrorNotice error={new Error(t('segment.noRuleSchema'))} />;
  return (
    <SegmentEditor
      key={id}
      segment={segment.data}
      preset={preset}
      schema={schema}
      ruleBlock={blockTypes.data.find((b) => b.type === RULE_BLOCK && b.latest)}
      vocabulary={vocabulary.data ?? null}
      onSaved={segment.reload}
      reloadSegment={segment.reload}
    />
  );
}

interface EditorProps {
  segment: Segment | null;
  preset: { rule?: Record<string, unknown>; name?: string } | null;
  schema: JsonSchema;
  /** The condition block: its own rule messages come translated with it. */
  ruleBlock: BlockType | undefined;
  vocabulary: Vocabulary | null;
  onSaved(): void;
  reloadSegment(): void;
}

function SegmentEditor({ segment, preset, schema, ruleBlock, vocabulary, onSaved, reloadSegment }: EditorProps) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const readOnly = useIsViewer();
  const initial: Draft = useMemo(
    () => ({ name: segment?.name ?? preset?.name ?? '', description: segment?.description ?? '', rule: segment?.rule ?? preset?.rule ?? NEW_RULE }),
    // Only the first load fills the form; later reloads (build progress) must not undo the user's edits.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [segment?.id],
  );
  const [draft, setDraft] = useState<Draft>(initial);
  const [saved, setSaved] = useState<Draft>(initial);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const dirty = !segment || JSON.stringify(draft) !== JSON.stringify(saved);

  const preview = useLivePreview(draft.rule);
  const problems = useMemo(
    () => splitProblems(saveError ?? preview.error, FIELDS, (p) => problemText(t, p, ruleBlock)),
    [saveError, preview.error, t, ruleBlock],
  );

  const save = async () => {
    if (!draft.name.trim() || !draft.rule) return;
    setSaving(true);
    setSaveError(null);
    try {
      const body = { name: draft.name.trim(), description: draft.description, rule: draft.rule };
      const result = segment ? await segments.update(segment.id, body) : await segments.create(body);
      const next = { name: result.name, description: result.description, rule: result.rule };
      setSaved(next);
      setDraft(next);
      toast(t('segment.saved', { name: result.name }));
      if (!segment) navigate(`/segments/${result.id}`, { replace: true });
      else onSaved();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  };

  return (
    <main className="page segment-page" data-testid="segment-page" data-segment-id={segment?.id ?? ''}>
      <Link to="/segments" className="back-link">
        <Icon name="arrow-left" />
        {t('segments.title')}
      </Link>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <div className="page-header">
          <div className="page-title">
            <h1>{segment ? saved.name : t('segment.new')}</h1>
            {segment && <BuildState status={segment.status} progress={segment.progress} testId="segment-status" />}
          </div>
          {!readOnly && (
            <div className="page-actions">
              {segment && (
                <a className="button" href={exportUrl({ segment: segment.key })} download data-testid="segment-export">
                  {t('contacts.export')}
                </a>
              )}
              {segment && (
                <button type="button" className="button danger" onClick={() => setConfirmDelete(true)} data-testid="segment-delete">
                  <Icon name="trash" />
                  {t('common.delete')}
                </button>
              )}
              <button type="submit" className="button primary" disabled={saving || !dirty || !draft.name.trim() || !draft.rule} data-testid="segment-save">
                {segment ? t('common.save') : t('segment.createSave')}
              </button>
            </div>
          )}
        </div>
        {problems.other.length > 0 && saveError !== null && (
          <ul className="problem-box" role="alert" data-testid="segment-problems">
            {problems.other.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        )}
        <div className="segment-layout">
          <div className="segment-main">
            <section className="card section">
              <fieldset className="plain-fieldset" disabled={readOnly}>
                <div className="field">
                  <label className="field-label" htmlFor="segment-name">
                    {t('segment.name')}
                    <span className="required" aria-hidden="true">
                      {' '}
                      *
                    </span>
                  </label>
                  <input
                    id="segment-name"
                    className="input"
                    value={draft.name}
                    maxLength={200}
                    required
                    onChange={(e) => setDraft({ ...draft, name: e.target.value })}
                    data-testid="segment-name"
                  />
                  {problems.byPath.get('name')?.map((m) => (
                    <p key={m} className="field-error" role="alert">
                      {m}
                    </p>
                  ))}
                  {segment && (
                    <p className="field-hint" data-testid="segment-key">
                      {t('segment.keyHint')} <code>{segment.key}</code>
                    </p>
                  )}
                </div>
                <div className="field">
                  <label className="field-label" htmlFor="segment-description">
                    {t('segment.description')}
                  </label>
                  <textarea
                    id="segment-description"
                    className="input textarea"
                    rows={2}
                    maxLength={2000}
                    value={draft.description}
                    onChange={(e) => setDraft({ ...draft, description: e.target.value })}
                    data-testid="segment-description"
                  />
                </div>
              </fieldset>
            </section>
            <section className="card section" aria-labelledby="segment-rule-title">
              <h2 id="segment-rule-title">{t('segment.rule')}</h2>
              <p className="muted small">{t('segment.ruleHint')}</p>
              <fieldset className="plain-fieldset" disabled={readOnly}>
                <RuleEditor schema={schema} value={draft.rule} onChange={(rule) => setDraft({ ...draft, rule })} problems={problems.byPath} vocabulary={vocabulary} />
              </fieldset>
            </section>
          </div>
          <aside className="segment-side">
            <LiveCount preview={preview} otherProblems={saveError === null ? problems.other : []} />
            {segment && <SizeCard segment={segment} />}
            {segment && <JourneysCard segment={segment} />}
          </aside>
        </div>
      </form>
      {segment && <Members segment={segment} />}
      {confirmDelete && segment && (
        <DeleteDialog
          segment={segment}
          onClose={() => setConfirmDelete(false)}
          onDeleted={() => {
            toast(t('segment.deleted', { name: segment.name }));
            navigate('/segments');
          }}
          onRefresh={reloadSegment}
        />
      )}
    </main>
  );
}

export interface LivePreview {
  data: SegmentPreview | null;
  error: unknown;
  loading: boolean;
}

/** `POST /api/segments/preview` for the rule being written, 400 ms after the last change; late answers
 * (for an older version of the rule) are dropped. */
function useLivePreview(rule: Record<string, unknown> | undefined): LivePreview {
  const text = useDebounced(JSON.stringify(rule ?? null), 400);
  const [state, setState] = useState<LivePreview>({ data: null, error: null, loading: true });
  useEffect(() => {
    const current = JSON.parse(text) as Record<string, unknown> | null;
    if (!current) return undefined;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    segments.preview(current).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error: unknown) => live && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [text]);
  return state;
}

export function LiveCount({ preview, otherProblems }: { preview: LivePreview; otherProblems: string[] }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const { data, error, loading } = preview;
  const stale = Boolean(error) || loading;
  return (
    <section
      className="card section live-count"
      aria-labelledby="live-count-title"
      data-testid="segment-preview"
      data-count={data && !error ? data.count : ''}
      data-estimated={data?.estimated ? 'true' : 'false'}
      data-loading={loading ? 'true' : 'false'}
    >
      <h2 id="live-count-title">{t('segment.liveCount')}</h2>
      <div className={stale ? 'big-number stale' : 'big-number'} aria-live="polite" aria-atomic="true" data-testid="segment-preview-count">
        {data ? (
          <>
            {data.estimated && <span title={t('segment.estimated')}>≈ </span>}
            {fmt.number(data.count)}
            <span className="visually-hidden"> {t('segment.contactsMatch', { count: data.count })}</span>
          </>
        ) : (
          '—'
        )}
        {loading && <span className="spinner inline" aria-hidden="true" />}
      </div>
      {data && (
        <p className="muted small" data-testid="segment-preview-basis">
          {data.estimated
            ? t('segment.estimatedFrom', { count: data.evaluated, evaluated: fmt.number(data.evaluated), total: fmt.number(data.total) })
            : t('segment.ofTotal', { count: data.total, total: fmt.number(data.total) })}
        </p>
      )}
      {Boolean(error) && (
        <p className="form-error" role="alert" data-testid="segment-preview-error">
          {t('segment.previewProblem')}
          {otherProblems.length > 0 && `: ${otherProblems.join('; ')}`}
        </p>
      )}
      {data && data.sample.length > 0 && (
        <>
          <h3 className="sample-title">{t('segment.sample')}</h3>
          <ul className="plain-list sample-list" data-testid="segment-sample">
            {data.sample.map((c) => (
              <li key={c.id}>
                <Link to={`/contacts/${c.id}`} data-testid={`segment-sample-${c.id}`}>
                  {c.external_id || c.email || t('contacts.anonymous', { id: c.id })}
                </Link>
                {c.email && c.external_id && <span className="muted small"> · {c.email}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function SizeCard({ segment }: { segment: Segment }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const days = segment.trend.map((p) => p.day);
  const sizes = segment.trend.map((p) => p.size);
  const first = segment.trend[0];
  const last = segment.trend[segment.trend.length - 1];
  const entered = segment.trend.reduce((sum, p) => sum + p.entered, 0);
  const left = segment.trend.reduce((sum, p) => sum + p.left, 0);
  const series = useMemo(() => [{ name: t('segment.size'), values: sizes, area: true }], [t, sizes.join(',')]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <section className="card section" aria-labelledby="segment-size-title" data-testid="segment-size-card">
      <h2 id="segment-size-title">{t('segment.sizeTitle')}</h2>
      <div className="big-number" data-testid="segment-size" data-size={segment.size}>
        {fmt.number(segment.size)}
      </div>
      <p className="muted small">
        {t('segment.last30', { entered: fmt.number(entered), left: fmt.number(left) })}
        {segment.built_at && <> · {t('segment.builtAt', { when: fmt.relative(segment.built_at) })}</>}
      </p>
      {segment.trend.length > 0 && first && last && (
        <Suspense fallback={<div className="chart-placeholder" />}>
          <Chart
            days={days}
            series={series}
            height={180}
            testId="segment-trend"
            summary={t('segment.trendSummary', { from: fmt.number(first.size), to: fmt.number(last.size), start: fmt.date(first.day), end: fmt.date(last.day) })}
          />
        </Suspense>
      )}
    </section>
  );
}

function JourneysCard({ segment }: { segment: Segment }) {
  const { t } = useTranslation();
  return (
    <section className="card section" aria-labelledby="segment-journeys-title" data-testid="segment-journeys">
      <h2 id="segment-journeys-title">{t('segment.journeys')}</h2>
      {segment.journeys.length === 0 ? (
        <p className="muted small">{t('segment.noJourneys')}</p>
      ) : (
        <ul className="plain-list">
          {segment.journeys.map((j) => (
            <li key={j.id} className="journey-ref">
              <Link to={`/journeys/${j.id}`} className="strong" data-testid={`segment-journey-${j.id}`}>
                {j.name}
              </Link>
              <StatusBadge status={j.status} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Members({ segment }: { segment: Segment }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  // A finished (re)build or a new size shows the new members.
  const list = usePaged((cursor) => segments.members(segment.id, cursor), [segment.id, segment.built_at, segment.size]);
  return (
    <section className="card section members" aria-labelledby="segment-members-title" data-testid="segment-members">
      <div className="section-header">
        <h2 id="segment-members-title">{t('segment.members')}</h2>
        <Link to={`/contacts?segment=${encodeURIComponent(segment.key)}`} className="small">
          {t('segment.openInContacts')}
        </Link>
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {list.loading && list.items.length === 0 ? (
        <Loading />
      ) : list.items.length === 0 ? (
        <Empty message={segment.status === 'building' ? t('segment.membersBuilding') : t('segment.noMembers')} />
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th>{t('contacts.col.contact')}</th>
              <th>{t('contacts.col.email')}</th>
              <th>{t('segment.memberSince')}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((member) => (
              <tr key={member.id} data-testid={`segment-member-${member.id}`}>
                <td className="cell-text">
                  <Link to={`/contacts/${member.id}`}>{member.external_id || member.email || t('contacts.anonymous', { id: member.id })}</Link>
                </td>
                <td className="cell-text">{member.email ?? '—'}</td>
                <td title={fmt.dateTime(member.entered_at)}>{fmt.dateTime(member.entered_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={list} />
    </section>
  );
}

function DeleteDialog({ segment, onClose, onDeleted, onRefresh }: { segment: Segment; onClose(): void; onDeleted(): void; onRefresh(): void }) {
  const { t } = useTranslation();
  return (
    <ConfirmDeleteDialog
      title={t('segment.deleteTitle', { name: segment.name })}
      body={t('segment.deleteBody')}
      testId="segment-delete"
      remove={() => segments.remove(segment.id)}
      onClose={onClose}
      onDeleted={onDeleted}
      onRefused={onRefresh}
    />
  );
}
