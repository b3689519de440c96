/** The canvas node for every block type. Memoised, and subscribed only to its own slices of the store
 * (its block type, problems and counts), so dragging one node re-renders only that node. */
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { memo, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { Icon } from '../components/Icon';
import { useFormat, type Formatter } from '../i18n/format';
import type { TFunction } from 'i18next';
import type { BlockType } from '../api/types';
import { parseDuration } from '../schema-form/duration';
import { enumLabel } from '../schema-form/labels';
import { shapeOf, type JsonSchema } from '../schema-form/schema';
import { outputPorts } from './ports';
import { problemText } from './problemText';
import { useEditor } from './store';
import type { BlockNode } from './types';

const NO_PROBLEMS: never[] = [];

export const BlockNodeView = memo(function BlockNodeView({ id, data, selected }: NodeProps<BlockNode>) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const spec = useEditor((s) => s.blockTypes[data.blockType]);
  const problems = useEditor((s) => s.problemsByNode[id] ?? NO_PROBLEMS);
  const stats = useEditor((s) => s.stats[id]);
  const ports = useMemo(() => outputPorts(spec, data.config), [spec, data.config]);
  const summary = useMemo(() => summarize(data.config, spec, fmt, t), [data.config, spec, fmt, t]);
  const title = data.label || spec?.label || data.blockType;
  const waiting = stats?.waiting ?? 0;
  const passed = stats?.passed ?? 0;
  const failed = stats?.failed ?? 0;
  const lastError = stats?.last_error;

  return (
    <div
      className={`block-node category-${spec?.category ?? 'unknown'}${selected ? ' selected' : ''}${problems.length ? ' has-problems' : ''}`}
      data-testid={`node-${id}`}
      data-block-type={data.blockType}
    >
      {!spec?.trigger && <Handle type="target" position={Position.Top} id="in" className="port-in" data-testid={`handle-${id}-in`} />}
      <div className="block-node-head">
        <span className="block-icon">
          <Icon name={spec?.icon ?? 'box'} size={15} />
        </span>
        <span className="block-title" title={title}>
          {title}
        </span>
        {problems.length > 0 && (
          <span className="block-problems" title={problems.map((p) => problemText(t, p, spec)).join('\n')} data-testid={`node-problems-${id}`}>
            <Icon name="alert" size={13} />
            {fmt.number(problems.length)}
          </span>
        )}
      </div>
      <div className="block-node-body">
        {data.label && spec && <div className="block-kind">{spec.label}</div>}
        {!spec && <div className="block-kind warn">{t('editor.unknownBlock', { type: data.blockType })}</div>}
        {summary && <div className="block-summary">{summary}</div>}
      </div>
      <div
        className="block-counts"
        data-testid={`node-count-${id}`}
        data-waiting={waiting}
        data-passed={passed}
        title={t('editor.countsTitle', { waiting: fmt.number(waiting), passed: fmt.number(passed) })}
      >
        <span className={waiting ? 'count waiting active' : 'count waiting'}>
          <Icon name="hourglass" size={11} />
          {fmt.number(waiting)}
        </span>
        <span className="count passed">
          <Icon name="check" size={11} />
          {fmt.number(passed)}
        </span>
        {failed > 0 && (
          <span
            className="count failed"
            data-testid={`node-failed-${id}`}
            data-failed={failed}
            title={[
              t('editor.failed', { count: failed }),
              lastError ? t('editor.lastError', { when: fmt.dateTime(lastError.at), error: `${lastError.type}: ${lastError.message}` }) : '',
            ]
              .filter(Boolean)
              .join('\n')}
          >
            <Icon name="alert" size={11} />
            {fmt.number(failed)}
          </span>
        )}
      </div>
      {ports.map((port, i) => (
        <Handle
          key={port}
          type="source"
          position={Position.Bottom}
          id={port}
          className="port-out"
          style={{ left: `${((i + 1) / (ports.length + 1)) * 100}%` }}
          data-testid={`handle-${id}-${port}`}
          aria-label={t('editor.port', { port: t(`ports.${port}`, { defaultValue: port }) })}
        >
          {(ports.length > 1 || port !== 'next') && <span className="port-label">{t(`ports.${port}`, { defaultValue: port })}</span>}
        </Handle>
      ))}
    </div>
  );
});

/** One line saying what the block does: its first few set scalar values, in the order of its form, with
 * choices by their labels. */
function summarize(config: Record<string, unknown>, spec: BlockType | undefined, fmt: Formatter, t: TFunction): string {
  const root = spec?.config_schema;
  const properties = root?.properties ?? {};
  const keys = [...Object.keys(properties).filter((key) => key in config), ...Object.keys(config).filter((key) => !(key in properties))];
  const choice = (schema: JsonSchema | undefined, value: string, field?: string): string => {
    const shape = schema && root ? shapeOf(schema, root) : null;
    return shape?.kind === 'enum' && shape.values.includes(value) ? enumLabel(t, value, shape.labels, field) : value;
  };
  const parts: string[] = [];
  for (const key of keys) {
    if (parts.length === 2) break;
    const value = config[key];
    const schema = properties[key];
    if (typeof value === 'string' && value) parts.push(parseDuration(value) !== null && /^-?P/.test(value) ? fmt.duration(value) : choice(schema, value, key));
    else if (typeof value === 'number') parts.push(fmt.number(value));
    else if (Array.isArray(value) && value.length && value.every((v) => typeof v === 'string')) {
      parts.push(fmt.list((value as string[]).map((v) => choice(schema?.items, v))));
    }
  }
  return parts.join(' · ');
}
