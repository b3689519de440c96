/** The visual composer's document: an email as sections of 1–3 columns holding simple blocks. It is
 * what the marketer edits; `toMjml` turns it into the MJML the server stores and compiles, and the
 * document travels inside that MJML (see `mjml.ts`) so the composer can open it again. */

export type Align = 'left' | 'center' | 'right';

export interface TextBlock {
  id: string;
  type: 'text';
  /** Light markup: **bold**, *italic*, [label](https://…), blank line = new paragraph. Jinja allowed. */
  text: string;
  align: Align;
  size: number;
  color: string;
}

export interface ImageBlock {
  id: string;
  type: 'image';
  src: string;
  alt: string;
  href: string;
  /** Pixels; 0 = the column's width. */
  width: number;
  align: Align;
}

export interface ButtonBlock {
  id: string;
  type: 'button';
  label: string;
  href: string;
  background: string;
  color: string;
  align: Align;
}

export interface DividerBlock {
  id: string;
  type: 'divider';
  color: string;
  thickness: number;
}

export interface SpacerBlock {
  id: string;
  type: 'spacer';
  height: number;
}

export type Block = TextBlock | ImageBlock | ButtonBlock | DividerBlock | SpacerBlock;
export type BlockType = Block['type'];
export const BLOCK_TYPES: BlockType[] = ['text', 'image', 'button', 'divider', 'spacer'];

export interface Column {
  id: string;
  blocks: Block[];
}

export interface Section {
  id: string;
  background: string;
  columns: Column[];
}

export interface EmailStyle {
  /** Around the message. */
  background: string;
  /** Default section background. */
  content: string;
  text: string;
  link: string;
  font: string;
}

export interface ComposerDoc {
  version: 1;
  style: EmailStyle;
  sections: Section[];
}

export const FONTS = [
  'Helvetica, Arial, sans-serif',
  'Georgia, Times New Roman, serif',
  'Verdana, Geneva, sans-serif',
  'Trebuchet MS, sans-serif',
  'Courier New, monospace',
] as const;

export const DEFAULT_STYLE: EmailStyle = {
  background: '#f4f4f5',
  content: '#ffffff',
  text: '#1f2937',
  link: '#2563eb',
  font: FONTS[0],
};

export const MAX_COLUMNS = 3;

/** Ids are short and unique inside one document (`b7`, `s2`, `c3`). */
export function nextId(doc: ComposerDoc, prefix: 's' | 'c' | 'b'): string {
  let max = 0;
  const see = (id: string) => {
    if (id.startsWith(prefix)) {
      const n = Number(id.slice(1));
      if (Number.isInteger(n) && n > max) max = n;
    }
  };
  for (const section of doc.sections) {
    see(section.id);
    for (const column of section.columns) {
      see(column.id);
      column.blocks.forEach((b) => see(b.id));
    }
  }
  return `${prefix}${max + 1}`;
}

export function emptyDoc(): ComposerDoc {
  return { version: 1, style: { ...DEFAULT_STYLE }, sections: [] };
}

/** A first document that already looks like an email: a heading text, a line and a button. */
export function starterDoc(texts: { heading: string; body: string; button: string }): ComposerDoc {
  let doc = emptyDoc();
  doc = addSection(doc, 1);
  const column = doc.sections[0]!.columns[0]!.id;
  doc = addBlock(doc, column, 'text');
  doc = updateBlock(doc, doc.sections[0]!.columns[0]!.blocks[0]!.id, { text: `**${texts.heading}**\n\n${texts.body}` });
  doc = addBlock(doc, column, 'button');
  doc = updateBlock(doc, doc.sections[0]!.columns[0]!.blocks[1]!.id, { label: texts.button });
  return doc;
}

export function newBlock(type: BlockType, id: string): Block {
  switch (type) {
    case 'text':
      return { id, type, text: '', align: 'left', size: 16, color: '' };
    case 'image':
      return { id, type, src: '', alt: '', href: '', width: 0, align: 'center' };
    case 'button':
      return { id, type, label: '', href: 'https://', background: '#2563eb', color: '#ffffff', align: 'center' };
    case 'divider':
      return { id, type, color: '#e5e7eb', thickness: 1 };
    case 'spacer':
      return { id, type, height: 24 };
  }
}

// --- operations: pure, each returns a new document (unchanged parts shared) --------------------------

function mapSections(doc: ComposerDoc, fn: (s: Section) => Section): ComposerDoc {
  return { ...doc, sections: doc.sections.map(fn) };
}

function mapColumns(doc: ComposerDoc, fn: (c: Column) => Column): ComposerDoc {
  return mapSections(doc, (s) => ({ ...s, columns: s.columns.map(fn) }));
}

function move<T>(list: T[], from: number, to: number): T[] {
  if (from < 0 || to < 0 || from >= list.length || to >= list.length || from === to) return list;
  const copy = [...list];
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item as T);
  return copy;
}

function counter(doc: ComposerDoc, prefix: 's' | 'c' | 'b'): () => string {
  let n = Number(nextId(doc, prefix).slice(1));
  return () => `${prefix}${n++}`;
}

export function addSection(doc: ComposerDoc, columns: number, at = doc.sections.length): ComposerDoc {
  const count = Math.min(Math.max(1, Math.round(columns)), MAX_COLUMNS);
  const columnId = counter(doc, 'c');
  const section: Section = { id: nextId(doc, 's'), background: '', columns: Array.from({ length: count }, () => ({ id: columnId(), blocks: [] })) };
  const sections = [...doc.sections];
  sections.splice(at, 0, section);
  return { ...doc, sections };
}

/** Change a section's number of columns; blocks of removed columns move into the last one kept. */
export function setColumns(doc: ComposerDoc, sectionId: string, columns: number): ComposerDoc {
  const count = Math.min(Math.max(1, Math.round(columns)), MAX_COLUMNS);
  const section = doc.sections.find((s) => s.id === sectionId);
  if (!section || section.columns.length === count) return doc;
  if (count < section.columns.length) {
    const kept = section.columns.slice(0, count);
    const moved = section.columns.slice(count).flatMap((c) => c.blocks);
    const last = kept[count - 1]!;
    kept[count - 1] = { ...last, blocks: [...last.blocks, ...moved] };
    return mapSections(doc, (s) => (s.id === sectionId ? { ...s, columns: kept } : s));
  }
  let next = doc;
  for (let i = section.columns.length; i < count; i++) {
    const id = nextId(next, 'c');
    next = mapSections(next, (s) => (s.id === sectionId ? { ...s, columns: [...s.columns, { id, blocks: [] }] } : s));
  }
  return next;
}

export function updateSection(doc: ComposerDoc, sectionId: string, patch: Partial<Omit<Section, 'id' | 'columns'>>): ComposerDoc {
  return mapSections(doc, (s) => (s.id === sectionId ? { ...s, ...patch } : s));
}

export function moveSection(doc: ComposerDoc, sectionId: string, delta: -1 | 1): ComposerDoc {
  const index = doc.sections.findIndex((s) => s.id === sectionId);
  return { ...doc, sections: move(doc.sections, index, index + delta) };
}

export function removeSection(doc: ComposerDoc, sectionId: string): ComposerDoc {
  return { ...doc, sections: doc.sections.filter((s) => s.id !== sectionId) };
}

/** A copy right below, with fresh ids. */
export function duplicateSection(doc: ComposerDoc, sectionId: string): ComposerDoc {
  const index = doc.sections.findIndex((s) => s.id === sectionId);
  const section = doc.sections[index];
  if (!section) return doc;
  const columnId = counter(doc, 'c');
  const blockId = counter(doc, 'b');
  const copy: Section = {
    ...section,
    id: nextId(doc, 's'),
    columns: section.columns.map((c) => ({ id: columnId(), blocks: c.blocks.map((b) => ({ ...b, id: blockId() })) })),
  };
  const sections = [...doc.sections];
  sections.splice(index + 1, 0, copy);
  return { ...doc, sections };
}

export function addBlock(doc: ComposerDoc, columnId: string, type: BlockType, at?: number): ComposerDoc {
  const block = newBlock(type, nextId(doc, 'b'));
  return mapColumns(doc, (c) => {
    if (c.id !== columnId) return c;
    const blocks = [...c.blocks];
    blocks.splice(at ?? blocks.length, 0, block);
    return { ...c, blocks };
  });
}

export function updateBlock(doc: ComposerDoc, blockId: string, patch: Partial<Block>): ComposerDoc {
  return mapColumns(doc, (c) =>
    c.blocks.some((b) => b.id === blockId)
      ? { ...c, blocks: c.blocks.map((b) => (b.id === blockId ? ({ ...b, ...patch, id: b.id, type: b.type } as Block) : b)) }
      : c,
  );
}

export function removeBlock(doc: ComposerDoc, blockId: string): ComposerDoc {
  return mapColumns(doc, (c) => (c.blocks.some((b) => b.id === blockId) ? { ...c, blocks: c.blocks.filter((b) => b.id !== blockId) } : c));
}

export function duplicateBlock(doc: ComposerDoc, blockId: string): ComposerDoc {
  const id = nextId(doc, 'b');
  return mapColumns(doc, (c) => {
    const index = c.blocks.findIndex((b) => b.id === blockId);
    if (index < 0) return c;
    const blocks = [...c.blocks];
    blocks.splice(index + 1, 0, { ...c.blocks[index]!, id });
    return { ...c, blocks };
  });
}

/** Up or down inside its column; past the column's end it moves into the neighbouring section's
 * first column (so a block can travel through the whole email with the two arrows). */
export function moveBlock(doc: ComposerDoc, blockId: string, delta: -1 | 1): ComposerDoc {
  const found = locate(doc, blockId);
  if (!found) return doc;
  const { sectionIndex, columnIndex, blockIndex } = found;
  const column = doc.sections[sectionIndex]!.columns[columnIndex]!;
  const target = blockIndex + delta;
  if (target >= 0 && target < column.blocks.length) {
    return mapColumns(doc, (c) => (c.id === column.id ? { ...c, blocks: move(c.blocks, blockIndex, target) } : c));
  }
  const neighbour = doc.sections[sectionIndex + delta];
  if (!neighbour) return doc;
  const block = column.blocks[blockIndex]!;
  const destination = neighbour.columns[Math.min(columnIndex, neighbour.columns.length - 1)]!;
  const removed = removeBlock(doc, blockId);
  return mapColumns(removed, (c) =>
    c.id === destination.id ? { ...c, blocks: delta > 0 ? [block, ...c.blocks] : [...c.blocks, block] } : c,
  );
}

export function locate(doc: ComposerDoc, blockId: string): { sectionIndex: number; columnIndex: number; blockIndex: number } | null {
  for (const [sectionIndex, section] of doc.sections.entries()) {
    for (const [columnIndex, column] of section.columns.entries()) {
      const blockIndex = column.blocks.findIndex((b) => b.id === blockId);
      if (blockIndex >= 0) return { sectionIndex, columnIndex, blockIndex };
    }
  }
  return null;
}

export function findBlock(doc: ComposerDoc, blockId: string): Block | undefined {
  const at = locate(doc, blockId);
  return at ? doc.sections[at.sectionIndex]!.columns[at.columnIndex]!.blocks[at.blockIndex] : undefined;
}

export function setStyle(doc: ComposerDoc, patch: Partial<EmailStyle>): ComposerDoc {
  return { ...doc, style: { ...doc.style, ...patch } };
}

// --- reading a document back (from the MJML comment): trust nothing -----------------------------------

const str = (v: unknown, fallback = '') => (typeof v === 'string' ? v : fallback);
const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
const align = (v: unknown, fallback: Align): Align => (v === 'left' || v === 'center' || v === 'right' ? v : fallback);
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A well-formed document from parsed JSON, or null when it is not one. */
export function normaliseDoc(raw: unknown): ComposerDoc | null {
  if (!isObj(raw) || raw.version !== 1 || !Array.isArray(raw.sections)) return null;
  const style = isObj(raw.style) ? raw.style : {};
  const sections: Section[] = [];
  for (const s of raw.sections) {
    if (!isObj(s) || !Array.isArray(s.columns) || s.columns.length < 1 || s.columns.length > MAX_COLUMNS) return null;
    const columns: Column[] = [];
    for (const c of s.columns) {
      if (!isObj(c) || !Array.isArray(c.blocks)) return null;
      const blocks: Block[] = [];
      for (const b of c.blocks) {
        const block = normaliseBlock(b);
        if (!block) return null;
        blocks.push(block);
      }
      columns.push({ id: str(c.id), blocks });
    }
    sections.push({ id: str(s.id), background: str(s.background), columns });
  }
  return {
    version: 1,
    style: {
      background: str(style.background, DEFAULT_STYLE.background),
      content: str(style.content, DEFAULT_STYLE.content),
      text: str(style.text, DEFAULT_STYLE.text),
      link: str(style.link, DEFAULT_STYLE.link),
      font: str(style.font, DEFAULT_STYLE.font),
    },
    sections,
  };
}

function normaliseBlock(b: unknown): Block | null {
  if (!isObj(b) || typeof b.id !== 'string') return null;
  const base = newBlock(b.type as BlockType, b.id);
  if (!BLOCK_TYPES.includes(b.type as BlockType)) return null;
  switch (base.type) {
    case 'text':
      return { ...base, text: str(b.text), align: align(b.align, 'left'), size: num(b.size, 16), color: str(b.color) };
    case 'image':
      return { ...base, src: str(b.src), alt: str(b.alt), href: str(b.href), width: num(b.width, 0), align: align(b.align, 'center') };
    case 'button':
      return { ...base, label: str(b.label), href: str(b.href), background: str(b.background, base.background), color: str(b.color, base.color), align: align(b.align, 'center') };
    case 'divider':
      return { ...base, color: str(b.color, base.color), thickness: num(b.thickness, 1) };
    case 'spacer':
      return { ...base, height: num(b.height, 24) };
  }
}
