/** The MJML code view (CodeMirror 6, loaded on demand). The server's problems show at their line and
 * column; variables from the panel go in at the cursor. */
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { xml } from '@codemirror/lang-xml';
import { bracketMatching, defaultHighlightStyle, foldGutter, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import { useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import type { TemplateProblem } from '../api/types';
import { setInsertTarget } from './insert';
import { ProblemList } from './JinjaField';
import { templateStore, useTemplateEditor } from './store';

const POINTER = '/draft/email/mjml';

function diagnostics(view: EditorView, problems: TemplateProblem[]): Diagnostic[] {
  const doc = view.state.doc;
  return problems
    .filter((p) => p.pointer === POINTER)
    .map((p) => {
      const line = doc.line(Math.min(Math.max(1, p.line ?? 1), doc.lines));
      const from = Math.min(line.from + Math.max(0, (p.column ?? 1) - 1), line.to);
      const to = from < line.to ? Math.min(line.to, from + 2) : from;
      return { from, to, severity: 'error', message: p.message };
    });
}

export default function CodeView() {
  const { t } = useTranslation();
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const problems = useTemplateEditor((s) => s.problems);
  const mjml = useTemplateEditor((s) => s.draft.email?.mjml ?? '');

  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: templateStore.getState().draft.email?.mjml ?? '',
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          foldGutter(),
          lintGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          xml(),
          EditorView.lineWrapping,
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ 'aria-label': t('tpl.mjmlCode'), 'data-testid': 'code-editor' }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) templateStore.getState().setMjml(update.state.doc.toString());
            if (update.focusChanged && update.view.hasFocus) {
              setInsertTarget({
                insert: (text) => {
                  const { from, to } = update.view.state.selection.main;
                  update.view.dispatch({ changes: { from, to, insert: text }, selection: { anchor: from + text.length } });
                  update.view.focus();
                },
              });
            }
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- one editor per mount; `t` only labels it
  }, []);

  // The store changed the MJML from outside (discard, restore a version): show it.
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== mjml) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: mjml } });
    }
  }, [mjml]);

  useEffect(() => {
    const editor = view.current;
    if (editor) editor.dispatch(setDiagnostics(editor.state, diagnostics(editor, problems)));
  }, [problems, mjml]);

  return (
    <div className="code-view">
      <div ref={host} className="code-host" />
      <ProblemList problems={problems.filter((p) => p.pointer === POINTER)} testId="code-problems" />
    </div>
  );
}
