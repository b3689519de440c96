import { describe, expect, it } from 'vitest';
import { addBlock, addSection, type ComposerDoc, emptyDoc, setColumns, updateBlock, updateSection } from './doc';
import { encodeDoc, ownerOfLine, readMjml, richText, toMjml } from './mjml';

function sample(): ComposerDoc {
  let doc = addSection(emptyDoc(), 1);
  const col = doc.sections[0]!.columns[0]!.id;
  doc = addBlock(doc, col, 'text');
  doc = updateBlock(doc, 'b1', { text: 'Hi **{{ contact.first_name | default("friend") }}**,\n\nyour plan ends {{ subscription.end_at | date }}.' });
  doc = addBlock(doc, col, 'button');
  doc = updateBlock(doc, 'b2', { label: 'Renew now', href: 'https://acme.test/renew?u={{ contact.id }}' });
  doc = addSection(doc, 2);
  doc = addBlock(doc, doc.sections[1]!.columns[0]!.id, 'image');
  doc = updateBlock(doc, 'b3', { src: 'https://acme.test/a.png', alt: 'A "quoted" <thing>', href: 'https://acme.test', width: 200 });
  doc = addBlock(doc, doc.sections[1]!.columns[1]!.id, 'divider');
  doc = addBlock(doc, doc.sections[1]!.columns[1]!.id, 'spacer');
  return doc;
}

describe('richText', () => {
  it('escapes HTML but keeps Jinja verbatim', () => {
    expect(richText('a < b & {{ x | default("<none>") }}', '#00f')).toBe('a &lt; b &amp; {{ x | default("<none>") }}');
    expect(richText('{% if a < b %}yes{% endif %}', '#00f')).toBe('{% if a < b %}yes{% endif %}');
  });

  it('formats bold, italic and links, also around variables', () => {
    expect(richText('**Hi {{ contact.first_name }}**', '#00f')).toBe('<strong>Hi {{ contact.first_name }}</strong>');
    expect(richText('*so* good', '#00f')).toBe('<em>so</em> good');
    expect(richText('see [our shop](https://x.test/?a=1&b={{ contact.id }})', '#00f')).toBe(
      'see <a href="https://x.test/?a=1&amp;b={{ contact.id }}" style="color:#00f;">our shop</a>',
    );
  });

  it('makes paragraphs from blank lines and breaks from newlines', () => {
    expect(richText('one\ntwo\n\nthree', '#000')).toBe('<p style="margin:0 0 12px;">one<br />two</p><p style="margin:0 0 0px;">three</p>');
  });

  it('leaves a Jinja multiplication alone', () => {
    expect(richText('{{ price * 2 }} and *this*', '#000')).toBe('{{ price * 2 }} and <em>this</em>');
  });
});

describe('toMjml', () => {
  it('writes sections, columns and every block type', () => {
    const { mjml } = toMjml(sample());
    expect(mjml.startsWith('<mjml>')).toBe(true);
    expect(mjml.trimEnd().endsWith('</mjml>')).toBe(true);
    expect(mjml).toContain('<mj-text align="left" font-size="16px">');
    expect(mjml).toContain('<strong>{{ contact.first_name | default("friend") }}</strong>');
    expect(mjml).toContain('<mj-button href="https://acme.test/renew?u={{ contact.id }}" background-color="#2563eb" color="#ffffff" align="center"');
    expect(mjml).toContain('Renew now');
    expect(mjml).toContain('<mj-image src="https://acme.test/a.png" alt="A &quot;quoted&quot; &lt;thing&gt;" href="https://acme.test" width="200px" align="center" />');
    expect(mjml).toContain('<mj-divider border-color="#e5e7eb" border-width="1px" />');
    expect(mjml).toContain('<mj-spacer height="24px" />');
    expect(mjml.match(/<mj-section/g)).toHaveLength(2);
    expect(mjml.match(/<mj-column>/g)).toHaveLength(3);
  });

  it('uses the section background, else the content colour', () => {
    const doc = updateSection(sample(), 's2', { background: '#fef3c7' });
    const { mjml } = toMjml(doc);
    expect(mjml).toContain('<mj-section background-color="#ffffff"');
    expect(mjml).toContain('<mj-section background-color="#fef3c7"');
  });

  it('maps each MJML line to the block that wrote it', () => {
    const generated = toMjml(sample());
    const lineOf = (needle: string) => generated.mjml.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(ownerOfLine(generated, lineOf('<strong>'))).toBe('b1');
    expect(ownerOfLine(generated, lineOf('Renew now'))).toBe('b2');
    expect(ownerOfLine(generated, lineOf('<mj-image'))).toBe('b3');
    expect(ownerOfLine(generated, lineOf('<mj-body'))).toBeNull();
    expect(ownerOfLine(generated, 9999)).toBeNull();
  });

  it('embeds the document where neither Jinja nor MJML will read it', () => {
    const { mjml } = toMjml(sample());
    const comment = mjml.split('\n').find((l) => l.includes('waymark-composer'))!;
    expect(comment.trim().startsWith('<!-- waymark-composer v1 {')).toBe(true);
    const inner = comment.trim().slice(4, -3);
    expect(inner).not.toMatch(/\{\{|\{%|\{#|--|<|>|&/);
    expect(encodeDoc(sample())).not.toContain('{{');
  });
});

describe('readMjml', () => {
  it('reads the document back, understood', () => {
    const doc = sample();
    const read = readMjml(toMjml(doc).mjml);
    expect(read?.understood).toBe(true);
    expect(read?.doc).toEqual(doc);
  });

  it('is not understood once the MJML was edited by hand', () => {
    const { mjml } = toMjml(sample());
    const read = readMjml(mjml.replace('Renew now', 'Renew today'));
    expect(read?.understood).toBe(false);
    expect(read?.doc).toEqual(sample());
  });

  it('ignores trailing whitespace and CRLF line ends', () => {
    const { mjml } = toMjml(sample());
    expect(readMjml(mjml.replace(/\n/g, '\r\n') + '\n\n')?.understood).toBe(true);
  });

  it('finds nothing in hand-written MJML or a broken comment', () => {
    expect(readMjml('<mjml><mj-body></mj-body></mjml>')).toBeNull();
    expect(readMjml('<mjml><!-- waymark-composer v1 {nope} --></mjml>')).toBeNull();
    expect(readMjml('<mjml><!-- waymark-composer v1 {"version":2,"sections":[]} --></mjml>')).toBeNull();
  });

  it('round-trips columns changes', () => {
    const doc = setColumns(sample(), 's2', 1);
    expect(doc.sections[1]!.columns[0]!.blocks.map((b) => b.type)).toEqual(['image', 'divider', 'spacer']);
    expect(readMjml(toMjml(doc).mjml)?.doc).toEqual(doc);
  });
});
