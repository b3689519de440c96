/** The visual e-mail composer: sections of 1–3 columns holding text, image, button, divider and spacer
 * blocks. Click a block to edit it in place; arrows move it (across sections too). Every change goes
 * through the store, which regenerates the MJML. */
import { Fragment, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { TemplateProblem } from '../api/types';
import {
  addBlock,
  addSection,
  type Align,
  type Block,
  BLOCK_TYPES,
  type BlockType,
  type ComposerDoc,
  duplicateBlock,
  duplicateSection,
  FONTS,
  MAX_COLUMNS,
  moveBlock,
  moveSection,
  removeBlock,
  removeSection,
  type Section,
  setColumns,
  setStyle,
  updateBlock,
  updateSection,
} from './composer/doc';
import { ownerOfLine } from './composer/mjml';
import { TIcon } from './TIcon';
import { JinjaField, type JinjaFieldHandle, ProblemList } from './JinjaField';
import { templateStore, useTemplateEditor } from './store';

const BLOCK_ICONS: Record<BlockType, string> = { text: 'type', image: 'image', button: 'pointer', divider: 'minus', spacer: 'spacer' };

/** Problems of the MJML by the block (or section) whose lines they point at. */
function useProblemsByOwner(problems: TemplateProblem[]): { byOwner: Map<string, TemplateProblem[]>; loose: TemplateProblem[] } {
  const generated = useTemplateEditor((s) => s.generated);
  const byOwner = new Map<string, TemplateProblem[]>();
  const loose: TemplateProblem[] = [];
  for (const p of problems) {
    if (p.pointer !== '/draft/email/mjml') continue;
    const owner = ownerOfLine(generated, p.line);
    if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), p]);
    else loose.push(p);
  }
  return { byOwner, loose };
}

export function Composer() {
  const { t } = useTranslation();
  const doc = useTemplateEditor((s) => s.doc);
  const problems = useTemplateEditor((s) => s.problems);
  const { byOwner, loose } = useProblemsByOwner(problems);
  const edit = templateStore.getState().edit;

  return (
    <div className="composer" data-testid="composer">
      <StyleBar doc={doc} />
      <ProblemList problems={loose} testId="composer-problems" />
      {doc.sections.length === 0 && <p className="composer-empty muted">{t('composer.empty')}</p>}
      {doc.sections.map((section, index) => (
        <SectionView key={section.id} section={section} index={index} count={doc.sections.length} doc={doc} byOwner={byOwner} />
      ))}
      <div className="composer-add-section">
        <span className="muted small">{t('composer.addSection')}</span>
        {Array.from({ length: MAX_COLUMNS }, (_, i) => i + 1).map((n) => (
          <button key={n} type="button" className="button small" onClick={() => edit((d) => addSection(d, n))} data-testid={`composer-add-section-${n}`}>
            <ColumnsIcon n={n} />
            {t('composer.columns', { count: n })}
          </button>
        ))}
      </div>
    </div>
  );
}

function ColumnsIcon({ n }: { n: number }) {
  return (
    <span className="columns-icon" aria-hidden="true">
      {Array.from({ length: n }, (_, i) => (
        <span key={i} />
      ))}
    </span>
  );
}

function StyleBar({ doc }: { doc: ComposerDoc }) {
  const { t } = useTranslation();
  const edit = templateStore.getState().edit;
  const set = (patch: Partial<ComposerDoc['style']>, key: string) => edit((d) => setStyle(d, patch), `style.${key}`);
  return (
    <details className="composer-style" data-testid="composer-style">
      <summary>{t('composer.style')}</summary>
      <div className="style-grid">
        <ColorField label={t('composer.background')} value={doc.style.background} onChange={(v) => set({ background: v }, 'background')} testId="style-background" />
        <ColorField label={t('composer.content')} value={doc.style.content} onChange={(v) => set({ content: v }, 'content')} testId="style-content" />
        <ColorField label={t('composer.textColor')} value={doc.style.text} onChange={(v) => set({ text: v }, 'text')} testId="style-text" />
        <ColorField label={t('composer.linkColor')} value={doc.style.link} onChange={(v) => set({ link: v }, 'link')} testId="style-link" />
        <label className="mini-field">
          <span>{t('composer.font')}</span>
          <select className="select" value={doc.style.font} onChange={(e) => set({ font: e.target.value }, 'font')} data-testid="style-font">
            {FONTS.map((f) => (
              <option key={f} value={f}>
                {f.split(',')[0]}
              </option>
            ))}
            {!(FONTS as readonly string[]).includes(doc.style.font) && <option value={doc.style.font}>{doc.style.font}</option>}
          </select>
        </label>
      </div>
    </details>
  );
}

interface SectionViewProps {
  section: Section;
  index: number;
  count: number;
  doc: ComposerDoc;
  byOwner: Map<string, TemplateProblem[]>;
}

function SectionView({ section, index, count, doc, byOwner }: SectionViewProps) {
  const { t } = useTranslation();
  const edit = templateStore.getState().edit;
  const sectionProblems = byOwner.get(section.id) ?? [];
  return (
    <section className="composer-section" data-testid={`section-${section.id}`} aria-label={t('composer.sectionN', { n: index + 1 })}>
      <header className="composer-section-bar">
        <span className="strong small">{t('composer.sectionN', { n: index + 1 })}</span>
        <select
          className="select small"
          value={section.columns.length}
          onChange={(e) => edit((d) => setColumns(d, section.id, Number(e.target.value)))}
          aria-label={t('composer.columnsLabel')}
          data-testid={`section-${section.id}-columns`}
        >
          {Array.from({ length: MAX_COLUMNS }, (_, i) => i + 1).map((n) => (
            <option key={n} value={n}>
              {t('composer.columns', { count: n })}
            </option>
          ))}
        </select>
        <ColorField
          label={t('composer.background')}
          value={section.background || doc.style.content}
          onChange={(v) => edit((d) => updateSection(d, section.id, { background: v }), `${section.id}.background`)}
          testId={`section-${section.id}-background`}
          compact
        />
        <span className="spacer" />
        <IconButton icon="chevron-up" label={t('composer.moveUp')} disabled={index === 0} onClick={() => edit((d) => moveSection(d, section.id, -1))} testId={`section-${section.id}-up`} />
        <IconButton icon="chevron-down" label={t('composer.moveDown')} disabled={index === count - 1} onClick={() => edit((d) => moveSection(d, section.id, 1))} testId={`section-${section.id}-down`} />
        <IconButton icon="copy" label={t('composer.duplicate')} onClick={() => edit((d) => duplicateSection(d, section.id))} testId={`section-${section.id}-duplicate`} />
        <IconButton icon="trash" label={t('composer.deleteSection')} onClick={() => edit((d) => removeSection(d, section.id))} testId={`section-${section.id}-delete`} danger />
      </header>
      <ProblemList problems={sectionProblems} />
      <div className="composer-columns" style={{ gridTemplateColumns: `repeat(${section.columns.length}, minmax(0, 1fr))`, background: section.background || doc.style.content }}>
        {section.columns.map((column) => (
          <div key={column.id} className="composer-column" data-testid={`column-${column.id}`}>
            {column.blocks.map((block) => (
              <BlockView key={block.id} block={block} doc={doc} problems={byOwner.get(block.id) ?? []} />
            ))}
            <AddBlock columnId={column.id} />
          </div>
        ))}
      </div>
    </section>
  );
}

function AddBlock({ columnId }: { columnId: string }) {
  const { t } = useTranslation();
  const add = (type: BlockType) => {
    const store = templateStore.getState();
    store.edit((d) => addBlock(d, columnId, type));
    const added = templateStore.getState().doc.sections.flatMap((s) => s.columns).find((c) => c.id === columnId)?.blocks.at(-1);
    if (added) store.select(added.id);
  };
  return (
    <div className="add-block" role="group" aria-label={t('composer.addBlock')}>
      {BLOCK_TYPES.map((type) => (
        <button key={type} type="button" className="add-block-button" onClick={() => add(type)} title={t(`composer.block.${type}`)} data-testid={`column-${columnId}-add-${type}`}>
          <TIcon name={BLOCK_ICONS[type]} size={14} />
          <span>{t(`composer.block.${type}`)}</span>
        </button>
      ))}
    </div>
  );
}

function BlockView({ block, doc, problems }: { block: Block; doc: ComposerDoc; problems: TemplateProblem[] }) {
  const { t } = useTranslation();
  const selected = useTemplateEditor((s) => s.selected === block.id);
  const { edit, select } = templateStore.getState();
  return (
    <div className={`composer-block${selected ? ' selected' : ''}${problems.length ? ' invalid' : ''}`} data-testid={`block-${block.id}`} data-type={block.type}>
      <div
        className="composer-block-preview"
        role="button"
        tabIndex={0}
        aria-expanded={selected}
        aria-label={t('composer.editBlock', { type: t(`composer.block.${block.type}`) })}
        onClick={() => select(selected ? null : block.id)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            select(selected ? null : block.id);
          }
        }}
        data-testid={`block-${block.id}-select`}
      >
        <BlockPreview block={block} doc={doc} />
      </div>
      <div className="composer-block-tools">
        <span className="block-type small muted">{t(`composer.block.${block.type}`)}</span>
        <IconButton icon="chevron-up" label={t('composer.moveUp')} onClick={() => edit((d) => moveBlock(d, block.id, -1))} testId={`block-${block.id}-up`} />
        <IconButton icon="chevron-down" label={t('composer.moveDown')} onClick={() => edit((d) => moveBlock(d, block.id, 1))} testId={`block-${block.id}-down`} />
        <IconButton icon="copy" label={t('composer.duplicate')} onClick={() => edit((d) => duplicateBlock(d, block.id))} testId={`block-${block.id}-duplicate`} />
        <IconButton
          icon="trash"
          label={t('composer.deleteBlock')}
          onClick={() => {
            if (selected) select(null);
            edit((d) => removeBlock(d, block.id));
          }}
          testId={`block-${block.id}-delete`}
          danger
        />
      </div>
      <ProblemList problems={problems} testId={`block-${block.id}-problems`} />
      {selected && <BlockForm block={block} />}
    </div>
  );
}

// --- what a block looks like in the composer (React elements only: template text is never HTML here) --

const INLINE = /(\*\*[^\n]+?\*\*|\*[^*\n]+?\*|\[[^\]\n]+\]\([^)\s]+\)|\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/g;

function inline(text: string, linkColor: string): ReactNode[] {
  return text.split(INLINE).map((part, i) => {
    if (i % 2 === 0) return <Fragment key={i}>{part}</Fragment>;
    if (part.startsWith('**')) return <strong key={i}>{inline(part.slice(2, -2), linkColor)}</strong>;
    if (part.startsWith('{')) return <span key={i} className="var-chip">{part}</span>;
    if (part.startsWith('*')) return <em key={i}>{inline(part.slice(1, -1), linkColor)}</em>;
    const label = part.slice(1, part.indexOf(']('));
    return (
      <span key={i} className="fake-link" style={{ color: linkColor }}>
        {inline(label, linkColor)}
      </span>
    );
  });
}

function BlockPreview({ block, doc }: { block: Block; doc: ComposerDoc }) {
  const { t } = useTranslation();
  switch (block.type) {
    case 'text':
      return (
        <div className="bp-text" style={{ textAlign: block.align, fontSize: block.size, color: block.color || doc.style.text, fontFamily: doc.style.font }}>
          {block.text.trim() ? (
            block.text
              .trim()
              .split(/\n{2,}/)
              .map((p, i) => (
                <p key={i}>
                  {p.split('\n').map((line, j) => (
                    <Fragment key={j}>
                      {j > 0 && <br />}
                      {inline(line, doc.style.link)}
                    </Fragment>
                  ))}
                </p>
              ))
          ) : (
            <span className="muted">{t('composer.emptyText')}</span>
          )}
        </div>
      );
    case 'image':
      return (
        <div className="bp-image" style={{ textAlign: block.align }}>
          {block.src && /^https?:\/\//.test(block.src) && !block.src.includes('{') ? (
            <img src={block.src} alt={block.alt} style={{ maxWidth: block.width > 0 ? block.width : '100%' }} referrerPolicy="no-referrer" />
          ) : (
            <span className="bp-image-empty">
              <TIcon name="image" size={20} />
              {block.src || t('composer.noImage')}
            </span>
          )}
        </div>
      );
    case 'button':
      return (
        <div style={{ textAlign: block.align }}>
          <span className="bp-button" style={{ background: block.background, color: block.color, fontFamily: doc.style.font }}>
            {block.label ? inline(block.label, block.color) : t('composer.buttonLabelEmpty')}
          </span>
        </div>
      );
    case 'divider':
      return <hr className="bp-divider" style={{ borderTopColor: block.color, borderTopWidth: block.thickness }} />;
    case 'spacer':
      return (
        <div className="bp-spacer" style={{ height: block.height }}>
          <span className="small muted">{t('composer.spacerHeight', { height: block.height })}</span>
        </div>
      );
  }
}

// --- editing a block ------------------------------------------------------------------------------------

function BlockForm({ block }: { block: Block }) {
  const { t } = useTranslation();
  const edit = templateStore.getState().edit;
  const set = (patch: Partial<Block>, key: string) => edit((d) => updateBlock(d, block.id, patch), `${block.id}.${key}`);
  const textRef = useRef<JinjaFieldHandle>(null);
  const field = (name: string) => `block-field-${name}`;

  switch (block.type) {
    case 'text': {
      const wrap = (before: string, after: string, fallback: string) => {
        const el = textRef.current?.element;
        if (!el) return;
        const start = el.selectionStart ?? el.value.length;
        const end = el.selectionEnd ?? start;
        const chosen = el.value.slice(start, end) || fallback;
        const value = el.value.slice(0, start) + before + chosen + after + el.value.slice(end);
        set({ text: value }, 'text');
        requestAnimationFrame(() => {
          el.focus();
          el.setSelectionRange(start + before.length, start + before.length + chosen.length);
        });
      };
      return (
        <div className="block-form" data-testid="block-form">
          <JinjaField
            ref={textRef}
            label={t('composer.text')}
            value={block.text}
            onChange={(v) => set({ text: v }, 'text')}
            multiline
            rows={5}
            testId={field('text')}
            hint={t('composer.textHint')}
            extra={
              <span className="text-toolbar">
                <button type="button" className="icon-button small strong" onMouseDown={(e) => e.preventDefault()} onClick={() => wrap('**', '**', t('composer.boldSample'))} title={t('composer.bold')} aria-label={t('composer.bold')} data-testid="text-bold">
                  B
                </button>
                <button type="button" className="icon-button small" onMouseDown={(e) => e.preventDefault()} onClick={() => wrap('*', '*', t('composer.italicSample'))} title={t('composer.italic')} aria-label={t('composer.italic')} data-testid="text-italic">
                  <em>I</em>
                </button>
                <button
                  type="button"
                  className="icon-button small"
                  onMouseDown={(e) => e.preventDefault()}
                  onClick={() => {
                    const url = window.prompt(t('composer.linkPrompt'), 'https://');
                    if (url) wrap('[', `](${url.trim()})`, t('composer.linkSample'));
                  }}
                  title={t('composer.link')}
                  aria-label={t('composer.link')}
                  data-testid="text-link"
                >
                  <TIcon name="link" size={14} />
                </button>
              </span>
            }
          />
          <div className="mini-row">
            <AlignField value={block.align} onChange={(v) => set({ align: v }, 'align')} />
            <NumberField label={t('composer.fontSize')} value={block.size} min={10} max={48} onChange={(v) => set({ size: v }, 'size')} testId={field('size')} />
            <ColorField label={t('composer.textColor')} value={block.color} placeholder={t('composer.default')} onChange={(v) => set({ color: v }, 'color')} testId={field('color')} />
          </div>
        </div>
      );
    }
    case 'image':
      return (
        <div className="block-form" data-testid="block-form">
          <JinjaField label={t('composer.imageUrl')} value={block.src} placeholder="https://…" onChange={(v) => set({ src: v }, 'src')} testId={field('src')} />
          <JinjaField label={t('composer.alt')} value={block.alt} onChange={(v) => set({ alt: v }, 'alt')} testId={field('alt')} hint={t('composer.altHint')} />
          <JinjaField label={t('composer.linkUrl')} value={block.href} placeholder="https://…" onChange={(v) => set({ href: v }, 'href')} testId={field('href')} />
          <div className="mini-row">
            <AlignField value={block.align} onChange={(v) => set({ align: v }, 'align')} />
            <NumberField label={t('composer.width')} value={block.width} min={0} max={600} onChange={(v) => set({ width: v }, 'width')} testId={field('width')} hint={t('composer.widthHint')} />
          </div>
        </div>
      );
    case 'button':
      return (
        <div className="block-form" data-testid="block-form">
          <JinjaField label={t('composer.buttonLabel')} value={block.label} onChange={(v) => set({ label: v }, 'label')} testId={field('label')} />
          <JinjaField label={t('composer.linkUrl')} value={block.href} placeholder="https://…" onChange={(v) => set({ href: v }, 'href')} testId={field('href')} />
          <div className="mini-row">
            <AlignField value={block.align} onChange={(v) => set({ align: v }, 'align')} />
            <ColorField label={t('composer.buttonColor')} value={block.background} onChange={(v) => set({ background: v }, 'background')} testId={field('background')} />
            <ColorField label={t('composer.textColor')} value={block.color} onChange={(v) => set({ color: v }, 'color')} testId={field('color')} />
          </div>
        </div>
      );
    case 'divider':
      return (
        <div className="block-form mini-row" data-testid="block-form">
          <ColorField label={t('composer.lineColor')} value={block.color} onChange={(v) => set({ color: v }, 'color')} testId={field('color')} />
          <NumberField label={t('composer.thickness')} value={block.thickness} min={1} max={10} onChange={(v) => set({ thickness: v }, 'thickness')} testId={field('thickness')} />
        </div>
      );
    case 'spacer':
      return (
        <div className="block-form mini-row" data-testid="block-form">
          <NumberField label={t('composer.height')} value={block.height} min={4} max={200} onChange={(v) => set({ height: v }, 'height')} testId={field('height')} />
        </div>
      );
  }
}

// --- small controls ---------------------------------------------------------------------------------------

function IconButton({ icon, label, onClick, disabled, testId, danger }: { icon: string; label: string; onClick(): void; disabled?: boolean; testId: string; danger?: boolean }) {
  return (
    <button type="button" className={`icon-button small${danger ? ' danger' : ''}`} onClick={onClick} disabled={disabled} aria-label={label} title={label} data-testid={testId}>
      <TIcon name={icon} size={14} />
    </button>
  );
}

const HEX = /^#[0-9a-fA-F]{6}$/;

function ColorField({ label, value, onChange, testId, placeholder, compact }: { label: string; value: string; onChange(v: string): void; testId: string; placeholder?: string; compact?: boolean }) {
  return (
    <label className={`mini-field color-field${compact ? ' compact' : ''}`}>
      {!compact && <span>{label}</span>}
      <span className="color-input">
        <input type="color" value={HEX.test(value) ? value : '#000000'} onChange={(e) => onChange(e.target.value)} aria-label={label} title={label} data-testid={`${testId}-picker`} />
        {!compact && <input className="input mono" value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value.trim())} aria-label={label} data-testid={testId} />}
      </span>
    </label>
  );
}

function NumberField({ label, value, onChange, min, max, testId, hint }: { label: string; value: number; onChange(v: number): void; min: number; max: number; testId: string; hint?: string }) {
  return (
    <label className="mini-field" title={hint}>
      <span>{label}</span>
      <input
        className="input"
        type="number"
        min={min}
        max={max}
        value={value}
        onChange={(e) => {
          const n = Number(e.target.value);
          if (Number.isFinite(n)) onChange(Math.min(max, Math.max(min, n)));
        }}
        data-testid={testId}
      />
    </label>
  );
}

function AlignField({ value, onChange }: { value: Align; onChange(v: Align): void }) {
  const { t } = useTranslation();
  return (
    <div className="mini-field">
      <span>{t('composer.align')}</span>
      <div className="segmented compact" role="radiogroup" aria-label={t('composer.align')}>
        {(['left', 'center', 'right'] as const).map((a) => (
          <button key={a} type="button" role="radio" aria-checked={value === a} className={value === a ? 'active' : ''} onClick={() => onChange(a)} data-testid={`block-field-align-${a}`}>
            {t(`composer.alignments.${a}`)}
          </button>
        ))}
      </div>
    </div>
  );
}
