/** Composer document → MJML, and back.
 *
 * The MJML is what the server stores (`draft.email.mjml`), compiles and sends. The document itself
 * rides along in an MJML comment (`<!-- waymark-composer v1 {…} -->`, dropped when the server compiles
 * with comments disabled), written so that it contains nothing Jinja or MJML would read: inside JSON
 * strings `{ } % # < > & -` are written as `\u…` escapes. Opening the MJML again, the composer
 * regenerates MJML from the embedded document: when that equals the stored MJML, the visual view can
 * open it; when someone changed the code by hand, it cannot (without dropping those changes). */
import { type Align, type Block, type ComposerDoc, normaliseDoc } from './doc';

export interface Generated {
  mjml: string;
  /** `lines[n]` = the block (or section) id that produced line n + 1, or null. Problems at a line are
   * shown on that block in the visual view. */
  lines: (string | null)[];
}

const MARK = 'waymark-composer v1';
const COMMENT = /<!-- waymark-composer v1 (.*?) -->/s;

// --- escaping -----------------------------------------------------------------------------------------

const JINJA = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g;
const PLACEHOLDER = /[\uE000-\uF8FF]/g;

/** Swap Jinja constructs for private-use characters while `fn` escapes and formats, then put them back
 * verbatim (the server renders them; HTML email bodies are autoescaped there). */
function aroundJinja(text: string, fn: (plain: string) => string): string {
  const constructs: string[] = [];
  const protectedText = text.replace(JINJA, (match) => {
    constructs.push(match);
    return String.fromCharCode(0xe000 + constructs.length - 1);
  });
  return fn(protectedText).replace(PLACEHOLDER, (ch) => constructs[ch.charCodeAt(0) - 0xe000] ?? '');
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, '&quot;');

/** An attribute value: Jinja kept as it is, the rest escaped. */
export function attr(value: string): string {
  return aroundJinja(value, escapeAttr);
}

const LINK = /\[([^\]\n]+)\]\(([^)\s]+)\)/g;

/** The text block's light markup → HTML: **bold**, *italic*, [label](url), blank line = paragraph,
 * single newline = line break. Everything else is text (escaped). */
export function richText(text: string, linkColor: string): string {
  return aroundJinja(text.replace(/\r\n/g, '\n').trim(), (plain) => {
    const paragraphs = escapeText(plain)
      .split(/\n{2,}/)
      .map((p) =>
        p
          .replace(LINK, (_, label: string, href: string) => `<a href="${href.replace(/"/g, '&quot;')}" style="color:${linkColor};">${label}</a>`)
          .replace(/\*\*([^\n]+?)\*\*/g, '<strong>$1</strong>')
          .replace(/\*([^*\n]+?)\*/g, '<em>$1</em>')
          .replace(/\n/g, '<br />'),
      );
    if (paragraphs.length === 1) return paragraphs[0]!;
    return paragraphs.map((p, i) => `<p style="margin:0 0 ${i === paragraphs.length - 1 ? 0 : 12}px;">${p}</p>`).join('');
  });
}

/** The document as JSON safe inside an MJML comment and a Jinja template. */
export function encodeDoc(doc: ComposerDoc): string {
  return JSON.stringify(doc).replace(/"(?:[^"\\]|\\.)*"/g, (literal) =>
    literal.replace(/[{}%#<>&-]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
}

// --- generation ---------------------------------------------------------------------------------------

const px = (n: number) => `${Math.max(0, Math.round(n))}px`;

function blockMjml(block: Block, doc: ComposerDoc): string[] {
  switch (block.type) {
    case 'text': {
      const color = block.color ? ` color="${attr(block.color)}"` : '';
      return [
        `<mj-text align="${block.align}" font-size="${px(block.size)}"${color}>`,
        `  ${richText(block.text, doc.style.link)}`,
        '</mj-text>',
      ];
    }
    case 'image': {
      const parts = [`src="${attr(block.src)}"`, `alt="${attr(block.alt)}"`];
      if (block.href) parts.push(`href="${attr(block.href)}"`);
      if (block.width > 0) parts.push(`width="${px(block.width)}"`);
      parts.push(`align="${block.align}"`);
      return [`<mj-image ${parts.join(' ')} />`];
    }
    case 'button':
      return [
        `<mj-button href="${attr(block.href)}" background-color="${attr(block.background)}" color="${attr(block.color)}" align="${block.align as Align}" border-radius="6px" font-weight="bold">`,
        `  ${aroundJinja(block.label.trim(), escapeText)}`,
        '</mj-button>',
      ];
    case 'divider':
      return [`<mj-divider border-color="${attr(block.color)}" border-width="${px(block.thickness)}" />`];
    case 'spacer':
      return [`<mj-spacer height="${px(block.height)}" />`];
  }
}

export function toMjml(doc: ComposerDoc): Generated {
  const out: string[] = [];
  const lines: (string | null)[] = [];
  const emit = (text: string, owner: string | null, indent: number) => {
    for (const line of text.split('\n')) {
      out.push(' '.repeat(indent) + line);
      lines.push(owner);
    }
  };
  const { style } = doc;
  emit('<mjml>', null, 0);
  emit('<mj-head>', null, 2);
  emit('<mj-attributes>', null, 4);
  emit(`<mj-all font-family="${attr(style.font)}" />`, null, 6);
  emit(`<mj-text color="${attr(style.text)}" line-height="1.5" />`, null, 6);
  emit('</mj-attributes>', null, 4);
  emit('</mj-head>', null, 2);
  emit(`<mj-body background-color="${attr(style.background)}" width="600px">`, null, 2);
  for (const section of doc.sections) {
    emit(`<mj-section background-color="${attr(section.background || style.content)}" padding="16px 8px">`, section.id, 4);
    for (const column of section.columns) {
      emit('<mj-column>', section.id, 6);
      for (const block of column.blocks) {
        for (const line of blockMjml(block, doc)) emit(line, block.id, 8);
      }
      emit('</mj-column>', section.id, 6);
    }
    emit('</mj-section>', section.id, 4);
  }
  emit('</mj-body>', null, 2);
  emit(`<!-- ${MARK} ${encodeDoc(doc)} -->`, null, 2);
  emit('</mjml>', null, 0);
  return { mjml: out.join('\n'), lines };
}

// --- reading back -------------------------------------------------------------------------------------

export interface ReadResult {
  doc: ComposerDoc;
  /** The MJML is exactly what the composer makes of `doc` (nobody edited the code by hand). */
  understood: boolean;
}

const normalise = (mjml: string) => mjml.replace(/\r\n/g, '\n').trim();

/** The composer document inside an MJML body, or null when there is none (hand-written MJML). */
export function readMjml(mjml: string): ReadResult | null {
  const match = COMMENT.exec(mjml);
  if (!match) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(match[1]!);
  } catch {
    return null;
  }
  const doc = normaliseDoc(raw);
  if (!doc) return null;
  return { doc, understood: normalise(toMjml(doc).mjml) === normalise(mjml) };
}

/** The block (or section) of the visual view that a problem at this MJML line belongs to. */
export function ownerOfLine(generated: Generated, line: number | null | undefined): string | null {
  if (!line || line < 1) return null;
  return generated.lines[line - 1] ?? null;
}
