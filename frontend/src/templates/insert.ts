/** Where a variable clicked in the variables panel goes: the text field (or code editor) that had the
 * focus last. Fields register themselves when focused. */

export interface InsertTarget {
  insert(text: string): void;
}

let target: InsertTarget | null = null;
const listeners = new Set<() => void>();

export function setInsertTarget(next: InsertTarget | null): void {
  target = next;
  listeners.forEach((l) => l());
}

export function insertText(text: string): boolean {
  if (!target) return false;
  target.insert(text);
  return true;
}

/** Replace the selection of an input or textarea with `text` and put the caret after it. */
export function spliceInto(element: HTMLInputElement | HTMLTextAreaElement, text: string): string {
  const start = element.selectionStart ?? element.value.length;
  const end = element.selectionEnd ?? start;
  const value = element.value.slice(0, start) + text + element.value.slice(end);
  const caret = start + text.length;
  requestAnimationFrame(() => {
    element.focus();
    element.setSelectionRange(caret, caret);
  });
  return value;
}
