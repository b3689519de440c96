import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { templateStore } from './store';
import { AUTOSAVE_DELAY_MS, useTemplateAutosave } from './useTemplateAutosave';

function respond(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
}

/** What `PUT /api/templates/{id}/draft` answers (`TemplateSaved`). */
const saved = (revision: number, problems: unknown[] = []) => ({ template: { id: 7, key: 'welcome', draft: {}, revision }, problems, sms: null });

let fetchMock: ReturnType<typeof vi.fn>;
const sentBodies = () => fetchMock.mock.calls.map(([, init]) => JSON.parse((init as RequestInit).body as string));
const store = () => templateStore.getState();

beforeEach(() => {
  vi.useFakeTimers();
  fetchMock = vi.fn();
  vi.stubGlobal('fetch', fetchMock);
  store().load({ sms: { text: 'Hello' } });
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function settle(ms = AUTOSAVE_DELAY_MS + 10) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

describe('template autosave', () => {
  it('sends the revision it loaded, then the one each save answered', async () => {
    fetchMock
      .mockReturnValueOnce(respond(200, saved(4, [{ pointer: '/draft/sms/text', message: 'unexpected }', line: 1, column: 7 }])))
      .mockReturnValueOnce(respond(200, saved(5)));
    const { result } = renderHook(() => useTemplateAutosave('7', 3));
    expect(result.current.state).toBe('saved');

    act(() => store().setChannel('sms', { text: 'Hello {{ }' }));
    expect(result.current.state).toBe('pending');
    expect(fetchMock).not.toHaveBeenCalled();
    await settle();

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe('/api/templates/7/draft');
    expect((init as RequestInit).method).toBe('PUT');
    expect(sentBodies()[0]).toEqual({ draft: { sms: { text: 'Hello {{ }' } }, revision: 3 });
    expect(result.current.state).toBe('saved');
    expect(result.current.revision.current).toBe(4);
    expect(store().problems).toHaveLength(1);

    act(() => store().setChannel('sms', { text: 'Hello {{ contact.first_name }}' }));
    await settle();
    expect(sentBodies()[1]).toMatchObject({ revision: 4 });
    expect(result.current.revision.current).toBe(5);
    expect(store().problems).toEqual([]);
  });

  it('makes one request for a burst of typing', async () => {
    fetchMock.mockReturnValue(respond(200, saved(4)));
    renderHook(() => useTemplateAutosave('7', 3));
    act(() => {
      store().setChannel('sms', { text: 'H' });
      store().setChannel('sms', { text: 'Hi' });
      store().setChannel('sms', { text: 'Hi!' });
    });
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(sentBodies()[0]).toEqual({ draft: { sms: { text: 'Hi!' } }, revision: 3 });
  });

  it('stops on a 409 instead of overwriting, and flush refuses', async () => {
    fetchMock.mockReturnValue(respond(409, { status: 409, title: 'The template was changed elsewhere since you opened it' }));
    const { result } = renderHook(() => useTemplateAutosave('7', 3));
    act(() => store().setChannel('sms', { text: 'mine' }));
    await settle();
    expect(result.current.state).toBe('conflict');

    act(() => store().setChannel('sms', { text: 'mine, more' }));
    await settle(10_000);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(result.current.state).toBe('conflict');
    // A test send or publish after this would use someone else's draft.
    await act(async () => {
      await expect(result.current.flush()).rejects.toMatchObject({ status: 409 });
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('retries other failures with the same revision', async () => {
    fetchMock.mockReturnValueOnce(respond(500, { status: 500, title: 'Internal Server Error' })).mockReturnValueOnce(respond(200, saved(4)));
    const { result } = renderHook(() => useTemplateAutosave('7', 3));
    act(() => store().setChannel('sms', { text: 'x' }));
    await settle();
    expect(result.current.state).toBe('error');
    await settle(5000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(sentBodies().map((b) => b.revision)).toEqual([3, 3]);
    expect(result.current.state).toBe('saved');
  });

  it('flush waits for the save in flight and then saves what came after', async () => {
    let answer: (value: Response) => void = () => undefined;
    fetchMock
      .mockReturnValueOnce(new Promise<Response>((resolve) => (answer = resolve)))
      .mockReturnValueOnce(respond(200, saved(5)));
    const { result } = renderHook(() => useTemplateAutosave('7', 3));
    act(() => store().setChannel('sms', { text: 'one' }));
    await settle();
    expect(result.current.state).toBe('saving');
    act(() => store().setChannel('sms', { text: 'two' }));

    let flushed = false;
    let flush!: Promise<void>;
    act(() => {
      flush = result.current.flush().then(() => {
        flushed = true;
      });
    });
    await act(async () => {
      answer(new Response(JSON.stringify(saved(4)), { status: 200, headers: { 'Content-Type': 'application/json' } }));
      await flush;
    });
    expect(flushed).toBe(true);
    expect(sentBodies()).toEqual([
      { draft: { sms: { text: 'one' } }, revision: 3 },
      { draft: { sms: { text: 'two' } }, revision: 4 },
    ]);
    expect(result.current.state).toBe('saved');
  });
});
