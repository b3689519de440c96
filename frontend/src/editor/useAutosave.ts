/** Saves the draft shortly after every change (`PUT /api/journeys/{id}/draft` with the revision the
 * server last gave us), one request at a time, and feeds the server's problems back into the store. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import { journeys } from '../api/endpoints';
import { toGraph } from './graph';
import { editorStore } from './store';

import type { SaveState } from '../components/SaveIndicator';

export type { SaveState };

export const AUTOSAVE_DELAY_MS = 800;
const RETRY_MS = 5000;

export function useAutosave(journeyId: string, initialRevision: number) {
  const [state, setState] = useState<SaveState>('saved');
  const revision = useRef(initialRevision);
  const savedSeq = useRef(editorStore.getState().changeSeq);
  const inFlight = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const stopped = useRef(false);

  const save = useCallback(async () => {
    clearTimeout(timer.current);
    if (inFlight.current || stopped.current) return;
    const { nodes, edges, meta, changeSeq, setProblems } = editorStore.getState();
    if (changeSeq === savedSeq.current) {
      setState('saved');
      return;
    }
    const graph = toGraph(nodes, edges, meta);
    inFlight.current = true;
    setState('saving');
    try {
      const result = await journeys.saveDraft(journeyId, graph, revision.current);
      revision.current = result.revision;
      savedSeq.current = changeSeq;
      setProblems(result.problems, graph.nodes.map((n) => n.id));
      const more = editorStore.getState().changeSeq !== changeSeq;
      setState(more ? 'pending' : 'saved');
      if (more) timer.current = setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        stopped.current = true;
        setState('conflict');
      } else {
        setState('error');
        timer.current = setTimeout(() => void save(), RETRY_MS);
      }
    } finally {
      inFlight.current = false;
    }
  }, [journeyId]);

  useEffect(() => {
    const unsubscribe = editorStore.subscribe((s, previous) => {
      if (s.changeSeq === previous.changeSeq || stopped.current) return;
      setState((current) => (current === 'saving' ? current : 'pending'));
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    });
    const warn = (event: BeforeUnloadEvent) => {
      if (editorStore.getState().changeSeq !== savedSeq.current && !stopped.current) event.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => {
      unsubscribe();
      window.removeEventListener('beforeunload', warn);
      // Leaving the editor: write what is still unsaved.
      if (editorStore.getState().changeSeq !== savedSeq.current) void save();
      clearTimeout(timer.current);
    };
  }, [save]);

  return { state, flush: save, revision };
}
