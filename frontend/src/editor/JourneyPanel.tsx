import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import type { TFunction } from 'i18next';
import type { Problem, Vocabulary } from '../api/types';
import { Icon } from '../components/Icon';
import { pointerToPath } from '../schema-form/schema';
import { SchemaForm } from '../schema-form/SchemaForm';
import { problemText } from './problemText';
import { settingsSchema } from './settingsSchema';
import { useEditor } from './store';

/** The side panel when no single block is selected: the selection, every problem, journey settings. */
export function JourneyPanel({ vocabulary, readOnly = false }: { vocabulary: Vocabulary | null; readOnly?: boolean }) {
  const { t } = useTranslation();
  const selectedCount = useEditor((s) => s.selectedIds.length);
  const copySelection = useEditor((s) => s.copySelection);
  const deleteSelection = useEditor((s) => s.deleteSelection);

  return (
    <div className="panel-content" data-testid="journey-panel">
      {selectedCount > 1 && (
        <div className="selection-bar" data-testid="selection-bar">
          <span>{t('editor.selected', { count: selectedCount })}</span>
          <button type="button" className="button small" onClick={() => copySelection()}>
            <Icon name="copy" size={14} />
            {t('editor.copy')}
          </button>
          {!readOnly && (
            <button type="button" className="button small danger" onClick={deleteSelection}>
              <Icon name="trash" size={14} />
              {t('editor.delete')}
            </button>
          )}
        </div>
      )}
      <ProblemsList />
      <fieldset className="plain-fieldset" disabled={readOnly} data-testid="journey-settings">
        <SettingsForm vocabulary={vocabulary} />
      </fieldset>
      <ShortcutsHelp />
    </div>
  );
}

function ProblemsList() {
  const { t } = useTranslation();
  const problemsByNode = useEditor((s) => s.problemsByNode);
  const graphProblems = useEditor((s) => s.graphProblems);
  // Titles of the blocks with problems only (a shallow-compared list), so dragging does not re-render this.
  const titles = useEditor(useShallow((s) => Object.keys(s.problemsByNode).map((id) => s.nodes.find((n) => n.id === id)?.data.label || id)));
  const kinds = useEditor(useShallow((s) => Object.keys(s.problemsByNode).map((id) => s.nodes.find((n) => n.id === id)?.data.blockType ?? '')));
  const blockTypes = useEditor((s) => s.blockTypes);
  const select = useEditor((s) => s.select);
  const entries = Object.entries(problemsByNode);
  if (entries.length === 0 && graphProblems.length === 0) {
    return (
      <>
        <p className="ok-note" data-testid="problems-none">
          <Icon name="check" size={14} />
          {t('editor.noProblems')}
        </p>
        <WarningsList />
      </>
    );
  }
  return (
    <>
    <section className="section-block">
      <h3>{t('editor.problemsTitle')}</h3>
      <ul className="problem-list" data-testid="problems-list">
        {graphProblems.map((p) => (
          <li key={`${p.pointer}:${p.message}`}>
            <Icon name="alert" size={14} />
            {problemText(t, p)}
          </li>
        ))}
        {entries.flatMap(([id, problems], i) =>
          problems.map((p) => (
            <li key={`${id}:${p.path}:${p.message}`}>
              <Icon name="alert" size={14} />
              <button type="button" className="link-button" onClick={() => select([id])}>
                {titles[i]}
              </button>
              {': '}
              {problemText(t, p, blockTypes[kinds[i] ?? ''])}
            </li>
          )),
        )}
      </ul>
    </section>
    <WarningsList />
    </>
  );
}

/** Problems that do not stop publishing, with the block they are on. */
function WarningsList() {
  const { t } = useTranslation();
  const warnings = useEditor((s) => s.warnings);
  const nodes = useEditor((s) => s.nodes);
  const select = useEditor((s) => s.select);
  if (warnings.length === 0) return null;
  return (
    <section className="section-block">
      <h3>{t('editor.warningsTitle')}</h3>
      <ul className="problem-list warning-list" data-testid="warnings-list">
        {warnings.map((p) => {
          const node = p.node_id ? nodes.find((n) => n.id === p.node_id) : undefined;
          return (
            <li key={`${p.pointer}:${p.message}`}>
              <Icon name="info" size={14} />
              {node && (
                <>
                  <button type="button" className="link-button" onClick={() => select([node.id])}>
                    {node.data.label || node.id}
                  </button>
                  {': '}
                </>
              )}
              {p.message}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function SettingsForm({ vocabulary }: { vocabulary: Vocabulary | null }) {
  const { t } = useTranslation();
  const settings = useEditor((s) => s.meta.settings);
  const updateSettings = useEditor((s) => s.updateSettings);
  const graphProblems = useEditor((s) => s.graphProblems);
  const schema = useMemo(() => settingsSchema(t), [t]);
  const problems = useMemo(() => settingsProblems(graphProblems, t), [graphProblems, t]);
  return (
    <section className="section-block">
      <h3>{t('editor.settingsTitle')}</h3>
      <SchemaForm schema={schema} value={settings} onChange={updateSettings} path="settings" problems={problems} vocabulary={vocabulary} />
    </section>
  );
}

function settingsProblems(problems: readonly Problem[], t: TFunction): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of problems) {
    if (!p.pointer.startsWith('/settings/')) continue;
    const path = pointerToPath(p.pointer);
    out.set(path, [...(out.get(path) ?? []), problemText(t, p)]);
  }
  return out;
}

function ShortcutsHelp() {
  const { t } = useTranslation();
  const rows: [string, string][] = [
    ['Delete', t('shortcuts.delete')],
    ['Ctrl / ⌘ + Z', t('shortcuts.undo')],
    ['Ctrl / ⌘ + Shift + Z', t('shortcuts.redo')],
    ['Ctrl / ⌘ + C · V', t('shortcuts.copyPaste')],
    ['Ctrl / ⌘ + A', t('shortcuts.selectAll')],
    ['Shift + drag', t('shortcuts.boxSelect')],
    ['Tab · Enter', t('shortcuts.focus')],
    ['← ↑ → ↓', t('shortcuts.move')],
  ];
  return (
    <details className="section-block shortcuts">
      <summary>{t('shortcuts.title')}</summary>
      <dl className="pairs">
        {rows.map(([keys, what]) => (
          <div key={keys}>
            <dt>
              <kbd>{keys}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
