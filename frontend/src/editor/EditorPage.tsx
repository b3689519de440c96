/** The journey editor: palette, canvas and side panel, with autosave, validation, publishing, versions
 * and live counts. Loaded lazily with React Flow and dagre, so the rest of the app starts small. */
import { ReactFlowProvider, useReactFlow } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { catalog, journeys } from '../api/endpoints';
import type { BlockType, Journey, JourneyStats, Vocabulary } from '../api/types';
import { useIsViewer } from '../auth/session';
import { PromptDialog } from '../components/Dialog';
import { Icon } from '../components/Icon';
import { ErrorNotice, Loading } from '../components/States';
import { StatusBadge } from '../components/StatusBadge';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { VersionsDialog } from '../components/VersionsDialog';
import { useFormat } from '../i18n/format';
import { Canvas } from './Canvas';
import { toCanvas, toGraph } from './graph';
import { JourneyPanel } from './JourneyPanel';
import { freeSpot, layoutNodes, NODE_HEIGHT, NODE_WIDTH } from './layout';
import { NodePanel } from './NodePanel';
import { Palette } from './Palette';
import { editorStore, useEditor } from './store';
import { SaveIndicator, type SaveState } from '../components/SaveIndicator';
import { useAutosave } from './useAutosave';
import { useShortcuts } from './useShortcuts';
import { useStatsPolling } from './useStatsPolling';
import './editor.css';

export default function EditorPage() {
  const { id = '' } = useParams();
  const { i18n } = useTranslation();
  const journey = useAsync(() => journeys.get(id), [id]);
  const blockTypes = useAsync(() => catalog.blockTypes(i18n.language), [i18n.language]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  const [loadedId, setLoadedId] = useState<string | null>(null);

  useEffect(() => {
    if (blockTypes.data) editorStore.getState().setBlockTypes(blockTypes.data);
  }, [blockTypes.data]);

  useEffect(() => {
    const draft = journey.data?.draft;
    if (!draft || loadedId === id) return;
    const canvas = toCanvas(draft);
    if (canvas.needsLayout) canvas.nodes = layoutNodes(canvas.nodes, canvas.edges);
    editorStore.getState().load(canvas);
    setLoadedId(id);
    // The draft's problems as the server sees them now, so Publish is right from the start.
    journeys.validate(id).then(
      (result) => editorStore.getState().setProblems(result.problems, draft.nodes.map((n) => n.id)),
      () => undefined,
    );
  }, [journey.data, id, loadedId]);

  const error = journey.error ?? blockTypes.error;
  if (error) return <ErrorNotice error={error} onRetry={() => (journey.error ? journey.reload() : blockTypes.reload())} />;
  if (!journey.data || !blockTypes.data || loadedId !== id) return <Loading />;
  return (
    <ReactFlowProvider>
      <Editor journey={journey.data} blockTypes={blockTypes.data} vocabulary={vocabulary.data ?? null} onJourneyChanged={journey.reload} />
    </ReactFlowProvider>
  );
}

/** Keyboard users land on the new block (arrow keys move it, Delete removes it) once React Flow has drawn it. */
function focusNode(id: string, attempts = 20): void {
  const element = document.querySelector<HTMLElement>(`.react-flow__node[data-id="${CSS.escape(id)}"]`);
  // React Flow keeps a node hidden (and so unfocusable) until it has measured it.
  if (element && getComputedStyle(element).visibility !== 'hidden') element.focus();
  else if (attempts > 0) requestAnimationFrame(() => focusNode(id, attempts - 1));
}

interface EditorProps {
  journey: Journey;
  blockTypes: BlockType[];
  vocabulary: Vocabulary | null;
  onJourneyChanged(): void;
}

function Editor({ journey, blockTypes, vocabulary, onJourneyChanged }: EditorProps) {
  const { t } = useTranslation();
  const journeyId = String(journey.id);
  const save = useAutosave(journeyId, journey.revision);
  const totals = useStatsPolling(journeyId);
  const selectedIds = useEditor((s) => s.selectedIds);
  const { screenToFlowPosition, fitView } = useReactFlow();
  const [dialog, setDialog] = useState<'publish' | 'versions' | null>(null);
  const readOnly = useIsViewer();

  const addAtCentre = useCallback(
    (type: string) => {
      const canvas = document.querySelector('[data-testid="canvas"]')?.getBoundingClientRect();
      const centre = canvas ? screenToFlowPosition({ x: canvas.left + canvas.width / 2, y: canvas.top + canvas.height / 2 }) : { x: 0, y: 0 };
      const store = editorStore.getState();
      const spot = freeSpot(store.nodes, { x: Math.round(centre.x - NODE_WIDTH / 2), y: Math.round(centre.y - NODE_HEIGHT / 2) });
      const id = store.addBlock(type, spot);
      if (id) focusNode(id);
    },
    [screenToFlowPosition],
  );

  useShortcuts({
    onCopied: useCallback((count: number) => count && toast(t('editor.copied', { count })), [t]),
    onPasted: useCallback((ids: string[]) => ids.length && toast(t('editor.pasted', { count: ids.length })), [t]),
    readOnly,
  });

  const publish = async (note: string) => {
    await save.flush();
    try {
      const version = await journeys.publish(journeyId, note || undefined);
      toast(t('editor.published', { n: version.number }));
      onJourneyChanged();
    } catch (err) {
      if (err instanceof ApiError && err.problems.length) {
        const { nodes, edges, meta, setProblems } = editorStore.getState();
        setProblems(err.problems, toGraph(nodes, edges, meta).nodes.map((n) => n.id));
      }
      throw err;
    }
  };

  return (
    <div className="editor" data-testid="editor">
      <Toolbar
        journey={journey}
        saveState={save.state}
        totals={totals}
        readOnly={readOnly}
        onFit={() => void fitView({ padding: 0.2, maxZoom: 1, duration: 200 })}
        onPublish={() => setDialog('publish')}
        onVersions={() => setDialog('versions')}
      />
      <div className={readOnly ? 'editor-body read-only' : 'editor-body'}>
        {!readOnly && <Palette blockTypes={blockTypes} onAdd={addAtCentre} />}
        <Canvas readOnly={readOnly} />
        <aside className="side-panel" aria-label={t('editor.panel')}>
          {selectedIds.length === 1 && selectedIds[0] ? (
            <NodePanel nodeId={selectedIds[0]} journeyId={journeyId} vocabulary={vocabulary} readOnly={readOnly} />
          ) : (
            <JourneyPanel vocabulary={vocabulary} readOnly={readOnly} />
          )}
        </aside>
      </div>
      {dialog === 'publish' && (
        <PromptDialog
          title={t('editor.publishTitle', { name: journey.name })}
          label={t('editor.publishNote')}
          confirm={t('editor.publish')}
          required={false}
          testId="publish-dialog"
          onClose={() => setDialog(null)}
          onConfirm={publish}
        />
      )}
      {dialog === 'versions' && <JourneyVersionsDialog journeyId={journeyId} onClose={() => setDialog(null)} />}
    </div>
  );
}

interface ToolbarProps {
  journey: Journey;
  saveState: SaveState;
  totals: JourneyStats | null;
  readOnly: boolean;
  onFit(): void;
  onPublish(): void;
  onVersions(): void;
}

function Toolbar({ journey, saveState, totals, readOnly, onFit, onPublish, onVersions }: ToolbarProps) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const canUndo = useEditor((s) => s.past.length > 0);
  const canRedo = useEditor((s) => s.future.length > 0);
  const problemCount = useEditor((s) => s.problemCount);
  const empty = useEditor((s) => s.nodes.length === 0);
  const undo = useEditor((s) => s.undo);
  const redo = useEditor((s) => s.redo);
  const layout = useEditor((s) => s.layout);
  const select = useEditor((s) => s.select);
  const publishBlocked = problemCount > 0 || empty || saveState !== 'saved';

  return (
    <div className="toolbar">
      <Link to="/journeys" className="icon-button" aria-label={t('editor.back')}>
        <Icon name="arrow-left" />
      </Link>
      <div className="toolbar-title">
        <h1>{journey.name}</h1>
        <StatusBadge status={journey.status} />
        {journey.version !== null && <span className="muted small">{t('journeys.versionN', { n: journey.version })}</span>}
      </div>
      <SaveIndicator state={saveState} />
      {totals && (
        <span className="totals muted small" data-testid="journey-totals">
          {t('editor.totals', { entered: fmt.number(totals.entered), active: fmt.number(totals.active), completed: fmt.number(totals.completed) })}
          {totals.failed > 0 && (
            <span className="totals-failed" data-testid="journey-totals-failed">
              {' · '}
              {t('editor.totalsFailed', { failed: fmt.number(totals.failed) })}
            </span>
          )}
        </span>
      )}
      <div className="toolbar-group">
        {!readOnly && (
          <>
            <button type="button" className="icon-button" onClick={undo} disabled={!canUndo} aria-label={t('editor.undo')} title={t('editor.undo')} data-testid="undo">
              <Icon name="undo" />
            </button>
            <button type="button" className="icon-button" onClick={redo} disabled={!canRedo} aria-label={t('editor.redo')} title={t('editor.redo')} data-testid="redo">
              <Icon name="redo" />
            </button>
            <button type="button" className="icon-button" onClick={layout} aria-label={t('editor.autoLayout')} title={t('editor.autoLayout')} data-testid="auto-layout">
              <Icon name="layout" />
            </button>
          </>
        )}
        <button type="button" className="icon-button" onClick={onFit} aria-label={t('editor.fit')} title={t('editor.fit')} data-testid="zoom-fit">
          <Icon name="maximize" />
        </button>
      </div>
      {problemCount > 0 && (
        <button type="button" className="button small warn" onClick={() => select([])} data-testid="problem-count">
          <Icon name="alert" size={14} />
          {t('editor.problems', { count: problemCount })}
        </button>
      )}
      <button type="button" className="button" onClick={onVersions} data-testid="versions-button">
        <Icon name="history" />
        {t('editor.versions')}
      </button>
      {!readOnly && (
        <button
          type="button"
          className="button primary"
          onClick={onPublish}
          disabled={publishBlocked}
          title={problemCount > 0 ? t('editor.publishBlocked') : undefined}
          data-testid="publish-button"
        >
          {t('editor.publish')}
        </button>
      )}
    </div>
  );
}

/** Who published which version, when, and why. */
function JourneyVersionsDialog({ journeyId, onClose }: { journeyId: string; onClose(): void }) {
  const { t } = useTranslation();
  const versions = useAsync(() => journeys.versions(journeyId), [journeyId]);
  return (
    <VersionsDialog
      versions={versions}
      publishedAt={(v) => v.published_at}
      columns={
        <>
          <th>{t('versions.publishedBy')}</th>
          <th>{t('versions.note')}</th>
        </>
      }
      cells={(v) => (
        <>
          <td>{v.published_by ?? '—'}</td>
          <td>{v.note || '—'}</td>
        </>
      )}
      onClose={onClose}
    />
  );
}
