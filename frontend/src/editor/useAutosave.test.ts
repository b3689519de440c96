import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { abandonedRegistration, blockTypes } from '../test/fixtures';
import { toCanvas } from './graph';
import { editorStore } from './store';
import { AUTOSAVE_DELAY_MS, useAutosave } from './useAutosave';

function respond(status: number, body: unknown) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
}

let fetchMock: ReturnType<typeof vi.fn>;
const sentBodies = () => fetchMock.mock.calls.map(([, init]) => JSON.parse((init as RequestInit).body as string));

beforeEach(() => {
  vi.useFakeTimers();
  fetchMock = vi.fn();
  vi.stubGlobal('fetch', fetchMock);
  editorStore.getState().setBlockTypes(blockTypes);
  editorStore.getState().load(toCanvas(abandonedRegistration()));
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function settle() {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(AUTOSAVE_DELAY_MS + 10);
  });
}

describe('autosave', () => {
  it('saves shortly after a change with the last revision and takes in the problems', async () => {
    fetchMock
      .mockReturnValueOnce(respond(200, { revision: 4, problems: [{ pointer: '/nodes/1/config/duration', message: 'bad' }] }))
      .mockReturnValueOnce(respond(200, { revision: 5, problems: [] }));
    const { result } = renderHook(() => useAutosave('7', 3));
    expect(result.current.state).toBe('saved');

    act(() => editorStore.getState().updateLabel('wait1', 'Two hours'));
    expect(result.current.state).toBe('pending');
    expect(fetchMock).not.toHaveBeenCalled();
    await settle();

    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe('/api/journeys/7/draft');
    expect((init as RequestInit).method).toBe('PUT');
    expect(sentBodies()[0]).toMatchObject({ revision: 3, graph: { nodes: expect.arrayContaining([expect.objectContaining({ id: 'wait1', label: 'Two hours' })]) } });
    expect(result.current.state).toBe('saved');
    expect(editorStore.getState().problemsByNode).toEqual({ wait1: [{ path: 'config.duration', message: 'bad' }] });

    act(() => editorStore.getState().updateConfig('wait1', { duration: 'PT3H' }));
    await settle();
    expect(sentBodies()[1]).toMatchObject({ revision: 4 });
    expect(editorStore.getState().problemCount).toBe(0);
  });

  it('makes one request for a burst of changes', async () => {
    fetchMock.mockReturnValue(respond(200, { revision: 4, problems: [] }));
    renderHook(() => useAutosave('7', 3));
    act(() => {
      editorStore.getState().updateLabel('wait1', 'a');
      editorStore.getState().updateLabel('wait1', 'ab');
      editorStore.getState().updateLabel('wait1', 'abc');
    });
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it('stops on an edit conflict instead of overwriting', async () => {
    fetchMock.mockReturnValue(respond(409, { status: 409, title: 'Stale revision' }));
    const { result } = renderHook(() => useAutosave('7', 3));
    act(() => editorStore.getState().updateLabel('wait1', 'x'));
    await settle();
    expect(result.current.state).toBe('conflict');
    act(() => editorStore.getState().updateLabel('wait1', 'y'));
    await settle();
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(result.current.state).toBe('conflict');
  });

  it('does not save selection changes', async () => {
    renderHook(() => useAutosave('7', 3));
    act(() => editorStore.getState().select(['wait1']));
    await settle();
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
