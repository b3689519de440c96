import { act, renderHook, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { Page } from '../api/types';
import { usePaged } from './usePaged';

/** A page load that answers when the test says so. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const page = (items: number[], next_cursor: string | null = null): Page<number> => ({ items, next_cursor });

describe('usePaged', () => {
  it('loads the first page, then appends the next one from the cursor until there is no more', async () => {
    const load = vi.fn((cursor: string | null) => Promise.resolve(cursor === null ? page([1, 2], 'c2') : page([3])));
    const { result } = renderHook(() => usePaged(load, []));
    expect(result.current.loading).toBe(true);
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(result.current.items).toEqual([1, 2]);
    expect(result.current.hasMore).toBe(true);

    act(() => result.current.more());
    expect(result.current.loading).toBe(true);
    await waitFor(() => expect(result.current.loading).toBe(false));
    expect(load.mock.calls.map(([cursor]) => cursor)).toEqual([null, 'c2']);
    expect(result.current.items).toEqual([1, 2, 3]);
    expect(result.current.hasMore).toBe(false);

    act(() => result.current.more());
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('starts over when the deps change and drops the answer of the search it replaced', async () => {
    const answers = new Map<string, ReturnType<typeof deferred<Page<number>>>>();
    const load = (q: string) => () => {
      const answer = deferred<Page<number>>();
      answers.set(q, answer);
      return answer.promise;
    };
    const { result, rerender } = renderHook(({ q }) => usePaged(load(q), [q]), { initialProps: { q: 'a' } });
    rerender({ q: 'ab' });
    await act(async () => answers.get('ab')!.resolve(page([2])));
    await act(async () => answers.get('a')!.resolve(page([1], 'late')));
    expect(result.current.items).toEqual([2]);
    expect(result.current.hasMore).toBe(false);
    expect(result.current.loading).toBe(false);
  });

  it('keeps the items it has when a page fails, and clears the error on reload', async () => {
    const load = vi
      .fn<(cursor: string | null) => Promise<Page<number>>>()
      .mockResolvedValueOnce(page([1], 'c2'))
      .mockRejectedValueOnce(new Error('offline'))
      .mockRejectedValueOnce('not an Error')
      .mockResolvedValueOnce(page([1, 2]));
    const { result } = renderHook(() => usePaged(load, []));
    await waitFor(() => expect(result.current.items).toEqual([1]));

    act(() => result.current.more());
    await waitFor(() => expect(result.current.error?.message).toBe('offline'));
    expect(result.current.items).toEqual([1]);
    expect(result.current.loading).toBe(false);
    expect(result.current.hasMore).toBe(true);

    act(() => result.current.reload());
    await waitFor(() => expect(result.current.error?.message).toBe('not an Error'));

    act(() => result.current.reload());
    await waitFor(() => expect(result.current.error).toBeNull());
    expect(load.mock.calls.map(([cursor]) => cursor)).toEqual([null, 'c2', null, null]);
    expect(result.current.items).toEqual([1, 2]);
  });

  it('uses the latest load function without restarting when only it changes', async () => {
    const first = vi.fn(() => Promise.resolve(page([1], 'c2')));
    const second = vi.fn(() => Promise.resolve(page([2])));
    const { result, rerender } = renderHook(({ load }) => usePaged(load, []), { initialProps: { load: first } });
    await waitFor(() => expect(result.current.items).toEqual([1]));
    rerender({ load: second });
    expect(second).not.toHaveBeenCalled();
    act(() => result.current.more());
    await waitFor(() => expect(result.current.items).toEqual([1, 2]));
    expect(second).toHaveBeenCalledWith('c2');
  });
});
