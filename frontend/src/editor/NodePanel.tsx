import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Vocabulary } from '../api/types';
import { Icon } from '../components/Icon';
import { InlineText } from '../components/InlineText';
import { SchemaForm } from '../schema-form/SchemaForm';
import { NodeContacts } from './NodeContacts';
import { problemsByPath } from './problems';
import { problemText } from './problemText';
import { useEditor } from './store';

const NO_PROBLEMS: never[] = [];

/** The side panel for one selected block: its label, its generated config form, its contacts. */
export function NodePanel({
  nodeId,
  journeyId,
  vocabulary,
  readOnly = false,
}: {
  nodeId: string;
  journeyId: string;
  vocabulary: Vocabulary | null;
  readOnly?: boolean;
}) {
  const { t } = useTranslation();
  // Only the node's data: dragging the selected block must not re-render its form.
  const data = useEditor((s) => s.nodes.find((n) => n.id === nodeId)?.data);
  const spec = useEditor((s) => (data ? s.blockTypes[data.blockType] : undefined));
  const problems = useEditor((s) => s.problemsByNode[nodeId] ?? NO_PROBLEMS);
  const updateConfig = useEditor((s) => s.updateConfig);
  const updateLabel = useEditor((s) => s.updateLabel);
  const deleteSelection = useEditor((s) => s.deleteSelection);
  const [tab, setTab] = useState<'config' | 'contacts'>('config');
  const byPath = useMemo(() => problemsByPath(problems, (p) => problemText(t, p, spec)), [problems, t, spec]);
  if (!data) return null;
  const general = problems.filter((p) => !p.path.startsWith('config.'));

  return (
    <div className="panel-content" data-testid="node-panel" data-node-id={nodeId}>
      <div className="panel-header">
        <span className="block-icon large">
          <Icon name={spec?.icon ?? 'box'} size={18} />
        </span>
        <div className="panel-title">
          <h2>{data.label || spec?.label || data.blockType}</h2>
          <span className="muted small">
            {spec?.label ?? data.blockType} · <code>{nodeId}</code>
          </span>
        </div>
        {!readOnly && (
          <button type="button" className="icon-button" onClick={deleteSelection} aria-label={t('editor.deleteBlock')} data-testid="node-delete">
            <Icon name="trash" />
          </button>
        )}
      </div>
      {spec?.description && (
        <p className="muted small">
          <InlineText text={spec.description} />
        </p>
      )}
      <div className="tabs small" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'config'} className={tab === 'config' ? 'tab active' : 'tab'} onClick={() => setTab('config')} data-testid="node-tab-config">
          {t('editor.tabConfig')}
        </button>
        <button type="button" role="tab" aria-selected={tab === 'contacts'} className={tab === 'contacts' ? 'tab active' : 'tab'} onClick={() => setTab('contacts')} data-testid="node-tab-contacts">
          {t('editor.tabContacts')}
        </button>
      </div>
      {tab === 'contacts' ? (
        <NodeContacts journeyId={journeyId} nodeId={nodeId} />
      ) : (
        <fieldset className="plain-fieldset" disabled={readOnly} data-testid="node-config">
          {general.length > 0 && (
            <ul className="problem-list" data-testid="node-panel-problems">
              {general.map((p) => (
                <li key={`${p.path}:${p.message}`}>
                  <Icon name="alert" size={14} />
                  {problemText(t, p, spec)}
                </li>
              ))}
            </ul>
          )}
          <div className="field">
            <label className="field-label" htmlFor="block-label">
              {t('editor.label')}
            </label>
            <input
              id="block-label"
              className="input"
              value={data.label ?? ''}
              placeholder={spec?.label}
              onChange={(e) => updateLabel(nodeId, e.target.value)}
              data-testid="field-label"
            />
          </div>
          {spec ? (
            <SchemaForm
              key={nodeId}
              schema={spec.config_schema}
              value={data.config}
              onChange={(config) => updateConfig(nodeId, config)}
              path="config"
              problems={byPath}
              vocabulary={vocabulary}
            />
          ) : (
            <>
              <p className="form-error">{t('editor.unknownBlock', { type: data.blockType })}</p>
              <pre className="code">{JSON.stringify(data.config, null, 2)}</pre>
            </>
          )}
        </fieldset>
      )}
    </div>
  );
}
