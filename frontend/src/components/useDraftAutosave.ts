/** Autosave for a revision-checked draft (journeys and templates): saves shortly after every change to a
 * store with a `changeSeq` counter, one request at a time, sending the revision the server last gave us.
 * A 409 means someone else saved meanwhile: autosave stops (state `conflict`) instead of overwriting,
 * and `SaveIndicator` offers a reload. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { StoreApi } from 'zustand/vanilla';
import { ApiError } from '../api/client';
import type { SaveState } from './SaveIndicator';

export type { SaveState };

const RETRY_MS = 5000;

interface DraftAutosaveOptions {
  store: StoreApi<{ changeSeq: number }>;
  /** The revision the draft was loaded at. */
  initialRevision: number;
  delayMs: number;
  /** Save the store's current document (read it synchronously, before the first `await`) with this
   * revision; resolve with the server's new revision. A rejection with `ApiError` 409 is a conflict. */
  send(revision: number): Promise<number>;
}

export interface DraftAutosave {
  state: SaveState;
  /** Save now (waiting for a save in flight first). Rejects when the draft could not be saved — an
   * edit conflict or a failed request — so that nothing goes on to use a stale stored draft. */
  flush(): Promise<void>;
  /** The revision of the last draft saved (or loaded). */
  revision: { readonly current: number };
}

export function useDraftAutosave({ store, initialRevision, delayMs, send }: DraftAutosaveOptions): DraftAutosave {
  const [state, setState] = useState<SaveState>('saved');
  const revision = useRef(initialRevision);
  const savedSeq = useRef(store.getState().changeSeq);
  const inFlight = useRef<Promise<void> | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const failure = useRef<unknown>(null);
  const sendRef = useRef(send);
  sendRef.current = send;

  /** Never rejects: the outcome is in `state` and `failure`. */
  const save = useCallback(async (): Promise<void> => {
    clearTimeout(timer.current);
    if (inFlight.current) {
      await inFlight.current;
      return save();
    }
    if (failure.current instanceof ApiError && failure.current.status === 409) return;
    const { changeSeq } = store.getState();
    if (changeSeq === savedSeq.current) {
      failure.current = null;
      setState('saved');
      return;
    }
    setState('saving');
    const run = (async () => {
      try {
        revision.current = await sendRef.current(revision.current);
        savedSeq.current = changeSeq;
        failure.current = null;
        const more = store.getState().changeSeq !== changeSeq;
        setState(more ? 'pending' : 'saved');
        if (more) timer.current = setTimeout(() => void save(), delayMs);
      } catch (error) {
        failure.current = error;
        if (error instanceof ApiError && error.status === 409) setState('conflict');
        else {
          setState('error');
          timer.current = setTimeout(() => void save(), RETRY_MS);
        }
      }
    })();
    inFlight.current = run;
    try {
      await run;
    } finally {
      inFlight.current = null;
    }
  }, [store, delayMs]);

  const flush = useCallback(async () => {
    await save();
    if (failure.current) throw failure.current;
  }, [save]);

  useEffect(() => {
    const conflict = () => failure.current instanceof ApiError && failure.current.status === 409;
    const unsubscribe = store.subscribe((s, previous) => {
      if (s.changeSeq === previous.changeSeq || conflict()) return;
      setState((current) => (current === 'saving' ? current : 'pending'));
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void save(), delayMs);
    });
    const warn = (event: BeforeUnloadEvent) => {
      if (store.getState().changeSeq !== savedSeq.current && !conflict()) event.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => {
      unsubscribe();
      window.removeEventListener('beforeunload', warn);
      // Leaving the editor: write what is still unsaved.
      if (store.getState().changeSeq !== savedSeq.current) void save();
      clearTimeout(timer.current);
    };
  }, [store, save, delayMs]);

  return { state, flush, revision };
}
