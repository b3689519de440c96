import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Channel, TemplateDraft } from '../api/types';
import { initI18n } from '../i18n';
import { PREVIEW_DEBOUNCE_MS, PreviewPane } from './PreviewPane';

beforeAll(() => initI18n());

let fetchMock: ReturnType<typeof vi.fn>;
const previewBodies = () =>
  fetchMock.mock.calls.filter(([url]) => String(url).endsWith('/preview')).map(([, init]) => JSON.parse((init as RequestInit).body as string));

beforeEach(() => {
  vi.useFakeTimers();
  fetchMock = vi.fn((_url: string, init: RequestInit) => {
    const body = JSON.parse(init.body as string) as { channel: Channel; draft?: TemplateDraft };
    const fields = body.channel === 'sms' ? { text: `rendered: ${body.draft?.sms?.text ?? 'stored'}` } : { subject: body.draft?.email?.subject ?? 'stored' };
    return Promise.resolve(
      new Response(JSON.stringify({ channel: body.channel, version: null, fields, missing: [], problems: [] }), { status: 200, headers: { 'Content-Type': 'application/json' } }),
    );
  });
  vi.stubGlobal('fetch', fetchMock);
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function pane(draft: TemplateDraft, { channel = 'sms' as Channel, version = null as number | null } = {}) {
  return <PreviewPane templateId="7" channel={channel} draft={draft} contact={null} onContact={() => undefined} onSendTest={() => undefined} smsSource={draft.sms?.text ?? ''} version={version} onVersion={() => undefined} />;
}

async function wait(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

describe('preview pane', () => {
  it('renders the unsaved draft, debounced, without waiting for a save', async () => {
    const { rerender } = render(pane({ sms: { text: 'Hi' }, email: { subject: 'S' } }));
    await wait(PREVIEW_DEBOUNCE_MS + 10);
    // Only the previewed channel's body is sent (the server compiles every body it gets).
    expect(previewBodies()).toEqual([{ channel: 'sms', contact_id: null, version: null, draft: { sms: { text: 'Hi' } } }]);
    expect(screen.getByTestId('sms-bubble').textContent).toBe('rendered: Hi');

    // Typing: one request ~300 ms after the last keystroke, with what is typed now.
    rerender(pane({ sms: { text: 'Hi {{' } }));
    await wait(PREVIEW_DEBOUNCE_MS - 100);
    rerender(pane({ sms: { text: 'Hi {{ contact.first_name }}' } }));
    await wait(PREVIEW_DEBOUNCE_MS - 100);
    expect(previewBodies()).toHaveLength(1);
    await wait(110);
    expect(previewBodies()).toHaveLength(2);
    expect(previewBodies()[1]).toMatchObject({ draft: { sms: { text: 'Hi {{ contact.first_name }}' } } });
    expect(screen.getByTestId('sms-bubble').textContent).toBe('rendered: Hi {{ contact.first_name }}');
    expect(fetchMock.mock.calls.filter(([url]) => String(url).endsWith('/draft'))).toHaveLength(0);
  });

  it('does not ask again when another channel changes', async () => {
    const draft = { sms: { text: 'Hi' } };
    const { rerender } = render(pane(draft));
    await wait(PREVIEW_DEBOUNCE_MS + 10);
    rerender(pane({ ...draft, push: { title: 'other channel' } }));
    await wait(PREVIEW_DEBOUNCE_MS + 10);
    expect(previewBodies()).toHaveLength(1);
  });

  it('previews a published version as published, without the draft', async () => {
    const { rerender } = render(pane({ email: { subject: 'typed' } }, { channel: 'email', version: 2 }));
    await wait(PREVIEW_DEBOUNCE_MS + 10);
    expect(previewBodies()).toEqual([{ channel: 'email', contact_id: null, version: 2 }]);
    rerender(pane({ email: { subject: 'typed more' } }, { channel: 'email', version: 2 }));
    await wait(PREVIEW_DEBOUNCE_MS + 10);
    expect(previewBodies()).toHaveLength(1);
  });
});
