import { useCallback, useEffect, useRef, useState } from 'react';
import type { Page } from '../api/types';

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: Error | null;
  hasMore: boolean;
  more(): void;
  reload(): void;
}

/** A cursor-paginated list (`{items, next_cursor}`): first page when `deps` change, "load more" after. */
export function usePaged<T>(load: (cursor: string | null) => Promise<Page<T>>, deps: readonly unknown[]): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error | null>(null);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const fetchPage = useCallback((from: string | null) => {
    const mine = ++generation.current;
    setLoading(true);
    loadRef.current(from).then(
      (page) => {
        if (mine !== generation.current) return;
        setItems((previous) => (from === null ? page.items : [...previous, ...page.items]));
        setCursor(page.next_cursor);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(err instanceof Error ? err : new Error(String(err)));
        setLoading(false);
      },
    );
  }, []);

  // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller's deps decide when to start over
  useEffect(() => fetchPage(null), [fetchPage, ...deps]);

  return {
    items,
    loading,
    error,
    hasMore: cursor !== null,
    more: () => cursor !== null && fetchPage(cursor),
    reload: () => fetchPage(null),
  };
}
