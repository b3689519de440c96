import { useEffect } from 'react';
import { editorStore } from './store';

/** Typing in a form field keeps its own keys (Backspace, Ctrl+Z …). */
function typingInField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

export interface ShortcutHandlers {
  onCopied(count: number): void;
  onPasted(ids: string[]): void;
  /** Only the keys that change nothing: Escape, copy, select all. */
  readOnly?: boolean;
}

/** Editor keyboard shortcuts: Delete/Backspace, Ctrl/⌘ + Z, Shift+Z or Y, C, V, A, and Escape. */
export function useShortcuts({ onCopied, onPasted, readOnly = false }: ShortcutHandlers): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (typingInField(event.target) || document.querySelector('dialog[open]')) return;
      const store = editorStore.getState();
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (readOnly && !(event.key === 'Escape' || (mod && (key === 'c' || key === 'a')))) return;
      if (!mod && (event.key === 'Delete' || event.key === 'Backspace')) store.deleteSelection();
      else if (!mod && event.key === 'Escape') store.select([]);
      else if (mod && key === 'z' && !event.shiftKey) store.undo();
      else if (mod && (key === 'y' || (key === 'z' && event.shiftKey))) store.redo();
      else if (mod && key === 'c') onCopied(store.copySelection());
      else if (mod && key === 'v') onPasted(store.paste());
      else if (mod && key === 'a') store.selectAll();
      else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCopied, onPasted, readOnly]);
}
