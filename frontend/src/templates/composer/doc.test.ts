import { describe, expect, it } from 'vitest';
import {
  addBlock,
  addSection,
  duplicateBlock,
  duplicateSection,
  emptyDoc,
  findBlock,
  moveBlock,
  moveSection,
  normaliseDoc,
  removeBlock,
  removeSection,
  setColumns,
  starterDoc,
  updateBlock,
} from './doc';

const ids = (doc: ReturnType<typeof emptyDoc>) => doc.sections.map((s) => s.columns.map((c) => c.blocks.map((b) => b.id)));

describe('composer document operations', () => {
  it('adds sections with 1–3 columns and unique ids', () => {
    let doc = addSection(emptyDoc(), 3);
    doc = addSection(doc, 7);
    doc = addSection(doc, 0, 0);
    expect(doc.sections.map((s) => s.columns.length)).toEqual([1, 3, 3]);
    const all = doc.sections.flatMap((s) => [s.id, ...s.columns.map((c) => c.id)]);
    expect(new Set(all).size).toBe(all.length);
  });

  it('adds, updates, duplicates and removes blocks', () => {
    let doc = addSection(emptyDoc(), 1);
    const col = doc.sections[0]!.columns[0]!.id;
    doc = addBlock(doc, col, 'text');
    doc = addBlock(doc, col, 'button');
    doc = addBlock(doc, col, 'spacer', 0);
    expect(ids(doc)).toEqual([[['b3', 'b1', 'b2']]]);
    doc = updateBlock(doc, 'b1', { text: 'Hello', type: 'image' } as never);
    expect(findBlock(doc, 'b1')).toMatchObject({ type: 'text', text: 'Hello' });
    doc = duplicateBlock(doc, 'b1');
    expect(ids(doc)).toEqual([[['b3', 'b1', 'b4', 'b2']]]);
    expect(findBlock(doc, 'b4')).toMatchObject({ type: 'text', text: 'Hello' });
    doc = removeBlock(doc, 'b3');
    expect(ids(doc)).toEqual([[['b1', 'b4', 'b2']]]);
  });

  it('moves blocks within a column and across sections', () => {
    let doc = addSection(addSection(emptyDoc(), 1), 2);
    doc = addBlock(doc, doc.sections[0]!.columns[0]!.id, 'text');
    doc = addBlock(doc, doc.sections[0]!.columns[0]!.id, 'button');
    doc = addBlock(doc, doc.sections[1]!.columns[1]!.id, 'image');
    doc = moveBlock(doc, 'b2', -1);
    expect(ids(doc)).toEqual([[['b2', 'b1']], [[], ['b3']]]);
    expect(moveBlock(doc, 'b2', -1)).toEqual(doc); // already first of the first section
    doc = moveBlock(doc, 'b1', 1); // last of its column → first of the next section's first column
    expect(ids(doc)).toEqual([[['b2']], [['b1'], ['b3']]]);
    doc = moveBlock(doc, 'b3', -1); // first of column 2 → end of the previous section's (only) column
    expect(ids(doc)).toEqual([[['b2', 'b3']], [['b1'], []]]);
  });

  it('changes the number of columns, keeping the blocks', () => {
    let doc = addSection(emptyDoc(), 3);
    const [a, b, c] = doc.sections[0]!.columns.map((col) => col.id);
    doc = addBlock(doc, a!, 'text');
    doc = addBlock(doc, b!, 'image');
    doc = addBlock(doc, c!, 'button');
    doc = setColumns(doc, 's1', 1);
    expect(ids(doc)).toEqual([[['b1', 'b2', 'b3']]]);
    doc = setColumns(doc, 's1', 2);
    expect(ids(doc)).toEqual([[['b1', 'b2', 'b3'], []]]);
    expect(new Set(doc.sections[0]!.columns.map((col) => col.id)).size).toBe(2);
  });

  it('moves, duplicates and removes sections', () => {
    let doc = addSection(addSection(emptyDoc(), 1), 2);
    doc = addBlock(doc, doc.sections[0]!.columns[0]!.id, 'text');
    doc = duplicateSection(doc, 's1');
    expect(doc.sections.map((s) => s.id)).toEqual(['s1', 's3', 's2']);
    expect(ids(doc)).toEqual([[['b1']], [['b2']], [[], []]]);
    doc = moveSection(doc, 's2', -1);
    expect(doc.sections.map((s) => s.id)).toEqual(['s1', 's2', 's3']);
    doc = removeSection(doc, 's1');
    expect(doc.sections.map((s) => s.id)).toEqual(['s2', 's3']);
  });

  it('starts new emails with a heading, text and a button', () => {
    const doc = starterDoc({ heading: 'Hello', body: 'Body', button: 'Go' });
    expect(doc.sections[0]!.columns[0]!.blocks.map((b) => b.type)).toEqual(['text', 'button']);
    expect(findBlock(doc, 'b1')).toMatchObject({ text: '**Hello**\n\nBody' });
  });

  it('rejects documents it cannot show', () => {
    expect(normaliseDoc(null)).toBeNull();
    expect(normaliseDoc({ version: 1, sections: [{ id: 's1', columns: [] }] })).toBeNull();
    expect(normaliseDoc({ version: 1, sections: [{ id: 's1', columns: [{ id: 'c1', blocks: [{ id: 'b1', type: 'video' }] }] }] })).toBeNull();
    expect(normaliseDoc({ version: 1, sections: [{ id: 's1', columns: [{ id: 'c1', blocks: [{ id: 'b1', type: 'spacer', height: 'x' }] }] }] })).toMatchObject({
      sections: [{ columns: [{ blocks: [{ type: 'spacer', height: 24 }] }] }],
    });
  });
});
