import { memo, useMemo, useState, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { BlockType } from '../api/types';
import { Icon } from '../components/Icon';
import { matchesQuery, normaliseQuery } from '../components/search';
import { SearchBox } from '../components/SearchBox';
import { humanize } from '../schema-form/schema';

export const DRAG_TYPE = 'application/x-waymark-block';
const CATEGORY_ORDER = ['trigger', 'flow', 'action', 'exit'];

function groupByCategory(types: readonly BlockType[]): [string, BlockType[]][] {
  const groups = new Map<string, BlockType[]>();
  for (const type of types) {
    if (!type.latest) continue;
    groups.set(type.category, [...(groups.get(type.category) ?? []), type]);
  }
  const rank = (category: string) => {
    const i = CATEGORY_ORDER.indexOf(category);
    return i < 0 ? CATEGORY_ORDER.length : i;
  };
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

interface PaletteProps {
  blockTypes: readonly BlockType[];
  /** Click or Enter on an item: add the block in the middle of the view. */
  onAdd(type: string): void;
}

export const Palette = memo(function Palette({ blockTypes, onAdd }: PaletteProps) {
  const { t } = useTranslation();
  const [query, setQuery] = useState('');
  const groups = useMemo(() => {
    const q = normaliseQuery(query);
    return groupByCategory(blockTypes.filter((b) => matchesQuery(q, b.label, b.description, b.type)));
  }, [blockTypes, query]);

  const startDrag = (event: DragEvent, type: string) => {
    event.dataTransfer.setData(DRAG_TYPE, type);
    event.dataTransfer.setData('text/plain', type);
    event.dataTransfer.effectAllowed = 'copy';
  };

  return (
    <aside className="palette" aria-label={t('palette.title')}>
      <SearchBox className="palette-search" iconSize={14} value={query} onChange={setQuery} label={t('palette.search')} testId="palette-search" id="palette-search" />
      <div className="palette-groups">
        {groups.length === 0 && <p className="muted small">{t('palette.noMatch')}</p>}
        {groups.map(([category, types]) => (
          <section key={category} className="palette-group">
            <h3>{t(`category.${category}`, { defaultValue: humanize(category) })}</h3>
            <ul>
              {types.map((type) => (
                <li key={type.type}>
                  <button
                    type="button"
                    className={`palette-item category-${category}`}
                    draggable
                    onDragStart={(e) => startDrag(e, type.type)}
                    onClick={() => onAdd(type.type)}
                    title={t('palette.hint')}
                    data-testid={`palette-item-${type.type}`}
                  >
                    <span className="block-icon">
                      <Icon name={type.icon} size={15} />
                    </span>
                    <span className="palette-text">
                      <span className="palette-label">{type.label}</span>
                      <span className="palette-description">{type.description}</span>
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </aside>
  );
});
