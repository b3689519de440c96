import { beforeEach, describe, expect, it, vi } from 'vitest';
import { addBlock, addSection, updateBlock } from './composer/doc';
import { toMjml } from './composer/mjml';
import { COALESCE_MS, templateStore } from './store';

const s = () => templateStore.getState();

describe('template editor store', () => {
  beforeEach(() => s().load({ email: { subject: 'Hi' }, sms: { text: 'Hello' } }));

  it('opens an empty email in the visual view', () => {
    expect(s().view).toBe('visual');
    expect(s().codeOnly).toBe(false);
    expect(s().doc.sections).toEqual([]);
  });

  it('keeps the MJML in step with the composer and bumps the change counter', () => {
    s().edit((d) => addSection(d, 2));
    expect(s().changeSeq).toBe(1);
    expect(s().draft.email?.mjml).toBe(toMjml(s().doc).mjml);
    expect(s().draft.email?.subject).toBe('Hi');
    expect(s().draft.sms?.text).toBe('Hello');
  });

  it('undoes and redoes composer edits, typing in one field as one step', () => {
    vi.useFakeTimers();
    s().edit((d) => addSection(d, 1));
    s().edit((d) => addBlock(d, 'c1', 'text'));
    s().edit((d) => updateBlock(d, 'b1', { text: 'H' }), 'b1.text');
    s().edit((d) => updateBlock(d, 'b1', { text: 'He' }), 'b1.text');
    s().edit((d) => updateBlock(d, 'b1', { text: 'Hey' }), 'b1.text');
    expect(s().past).toHaveLength(3);
    vi.advanceTimersByTime(COALESCE_MS + 1);
    s().edit((d) => updateBlock(d, 'b1', { text: 'Hey!' }), 'b1.text');
    expect(s().past).toHaveLength(4);
    s().undo();
    expect(s().doc.sections[0]!.columns[0]!.blocks[0]).toMatchObject({ text: 'Hey' });
    s().undo();
    expect(s().doc.sections[0]!.columns[0]!.blocks[0]).toMatchObject({ text: '' });
    expect(s().draft.email?.mjml).toBe(toMjml(s().doc).mjml);
    s().redo();
    expect(s().doc.sections[0]!.columns[0]!.blocks[0]).toMatchObject({ text: 'Hey' });
    vi.useRealTimers();
  });

  it('goes to code and back while the code is unchanged', () => {
    s().edit((d) => addSection(d, 1));
    expect(s().setView('code')).toBe(true);
    expect(s().setView('visual')).toBe(true);
  });

  it('stays in code after a hand edit, until the edit is discarded', () => {
    s().edit((d) => addBlock(addSection(d, 1), 'c1', 'text'));
    const generated = s().draft.email!.mjml!;
    s().setView('code');
    s().setMjml(generated.replace('<mj-column>', '<mj-column width="50%">'));
    expect(s().codeOnly).toBe(true);
    expect(s().setView('visual')).toBe(false);
    expect(s().view).toBe('code');
    // Typing the change away again makes the visual view available again.
    s().setMjml(generated);
    expect(s().codeOnly).toBe(false);
    s().setMjml(generated + '\n<!-- mine -->');
    s().discardCode();
    expect(s().view).toBe('visual');
    expect(s().draft.email?.mjml).toBe(generated);
  });

  it('opens hand-written MJML in the code view', () => {
    s().load({ email: { mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>' } });
    expect(s().view).toBe('code');
    expect(s().codeOnly).toBe(true);
    expect(s().setView('visual')).toBe(false);
  });

  it('opens composer MJML in the visual view', () => {
    s().edit((d) => addBlock(addSection(d, 1), 'c1', 'button'));
    const draft = s().draft;
    s().load(draft);
    expect(s().view).toBe('visual');
    expect(s().doc.sections[0]!.columns[0]!.blocks[0]).toMatchObject({ type: 'button' });
  });

  it('adds and removes channels', () => {
    s().setChannel('push', { title: 'T' });
    expect(s().draft.push).toEqual({ title: 'T' });
    s().setChannel('sms', null);
    expect(s().draft.sms).toBeUndefined();
  });
});
