/** The template editor's store: the draft (one body per channel), the email composer's document with
 * undo/redo, the view (visual or code) and the server's problems. The composer's document is the
 * source of the email MJML while the visual view is open; in the code view the MJML is edited directly
 * and the visual view opens again only when the MJML is still what the composer makes (`readMjml`). */
import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import type { Channel, TemplateDraft, TemplateProblem } from '../api/types';
import { type ComposerDoc, emptyDoc } from './composer/doc';
import { readMjml, toMjml, type Generated } from './composer/mjml';

export const HISTORY_LIMIT = 100;
/** Edits of the same field within this many ms make one undo step (typing). */
export const COALESCE_MS = 1000;

export type EmailView = 'visual' | 'code';

export interface TemplateEditorState {
  draft: TemplateDraft;
  doc: ComposerDoc;
  generated: Generated;
  view: EmailView;
  /** The stored MJML is not one the composer can open (hand-written or edited in the code view). */
  codeOnly: boolean;
  selected: string | null;
  past: ComposerDoc[];
  future: ComposerDoc[];
  coalesce: { key: string; at: number } | null;
  changeSeq: number;
  problems: TemplateProblem[];

  load(draft: TemplateDraft): void;
  /** Change the composer document (visual view): the MJML follows. `key` coalesces typing into one undo step. */
  edit(fn: (doc: ComposerDoc) => ComposerDoc, key?: string): void;
  undo(): void;
  redo(): void;
  select(id: string | null): void;
  /** Change a channel's body (any field but the composer-owned MJML in the visual view). */
  setChannel<C extends Channel>(channel: C, body: NonNullable<TemplateDraft[C]> | null): void;
  setMjml(mjml: string): void;
  /** Switch views; to `visual` only when the MJML is understood (returns false otherwise). */
  setView(view: EmailView): boolean;
  /** Leave the code view by dropping the hand edits: the MJML goes back to the composer's. */
  discardCode(): void;
  /** Start the composer from scratch (replacing hand-written MJML). */
  startVisual(doc: ComposerDoc): void;
  setProblems(problems: TemplateProblem[]): void;
}

const changed = { changeSeq: 0 };

export const templateStore = createStore<TemplateEditorState>()((set, get) => {
  const bump = () => get().changeSeq + 1;
  const withMjml = (draft: TemplateDraft, mjml: string): TemplateDraft => ({ ...draft, email: { ...(draft.email ?? {}), mjml } });
  return {
    draft: {},
    doc: emptyDoc(),
    generated: toMjml(emptyDoc()),
    view: 'visual',
    codeOnly: false,
    selected: null,
    past: [],
    future: [],
    coalesce: null,
    ...changed,
    problems: [],

    load(draft) {
      const mjml = draft.email?.mjml ?? '';
      const read = mjml.trim() ? readMjml(mjml) : null;
      const doc = read?.doc ?? emptyDoc();
      const codeOnly = Boolean(mjml.trim()) && !read?.understood;
      set({
        draft,
        doc,
        generated: toMjml(doc),
        view: codeOnly ? 'code' : 'visual',
        codeOnly,
        selected: null,
        past: [],
        future: [],
        coalesce: null,
        changeSeq: 0,
        problems: [],
      });
    },

    edit(fn, key) {
      const s = get();
      const doc = fn(s.doc);
      if (doc === s.doc) return;
      const now = Date.now();
      const merge = key !== undefined && s.coalesce?.key === key && now - s.coalesce.at < COALESCE_MS;
      const generated = toMjml(doc);
      set({
        doc,
        generated,
        draft: withMjml(s.draft, generated.mjml),
        codeOnly: false,
        past: merge ? s.past : [...s.past, s.doc].slice(-HISTORY_LIMIT),
        future: [],
        coalesce: key === undefined ? null : { key, at: now },
        changeSeq: bump(),
      });
    },

    undo() {
      const s = get();
      const previous = s.past[s.past.length - 1];
      if (!previous || s.view !== 'visual') return;
      const generated = toMjml(previous);
      set({
        doc: previous,
        generated,
        draft: withMjml(s.draft, generated.mjml),
        past: s.past.slice(0, -1),
        future: [s.doc, ...s.future],
        coalesce: null,
        changeSeq: bump(),
      });
    },

    redo() {
      const s = get();
      const next = s.future[0];
      if (!next || s.view !== 'visual') return;
      const generated = toMjml(next);
      set({
        doc: next,
        generated,
        draft: withMjml(s.draft, generated.mjml),
        past: [...s.past, s.doc],
        future: s.future.slice(1),
        coalesce: null,
        changeSeq: bump(),
      });
    },

    select(id) {
      set({ selected: id });
    },

    setChannel(channel, body) {
      const draft = { ...get().draft };
      if (body === null) delete draft[channel];
      else draft[channel] = body;
      set({ draft, changeSeq: bump() });
    },

    setMjml(mjml) {
      const s = get();
      if ((s.draft.email?.mjml ?? '') === mjml) return;
      const read = readMjml(mjml);
      // Pasting composer MJML (or undoing a hand edit) makes the visual view available again.
      const understood = Boolean(read?.understood);
      set({
        draft: withMjml(s.draft, mjml),
        codeOnly: !understood,
        ...(understood && read ? { doc: read.doc, generated: toMjml(read.doc) } : {}),
        changeSeq: bump(),
      });
    },

    setView(view) {
      const s = get();
      if (view === s.view) return true;
      if (view === 'visual' && s.codeOnly) return false;
      set({ view, coalesce: null });
      return true;
    },

    discardCode() {
      const s = get();
      set({ draft: withMjml(s.draft, s.generated.mjml), codeOnly: false, view: 'visual', changeSeq: bump() });
    },

    startVisual(doc) {
      const s = get();
      const generated = toMjml(doc);
      set({
        doc,
        generated,
        draft: withMjml(s.draft, generated.mjml),
        codeOnly: false,
        view: 'visual',
        past: [],
        future: [],
        changeSeq: bump(),
      });
    },

    setProblems(problems) {
      set({ problems });
    },
  };
});

export function useTemplateEditor<T>(selector: (s: TemplateEditorState) => T): T {
  return useStore(templateStore, selector);
}
