/** Saves the journey draft shortly after every change (`PUT /api/journeys/{id}/draft` with the revision
 * the server last gave us) and feeds the server's problems back into the store; see `useDraftAutosave`. */
import { useCallback } from 'react';
import { journeys } from '../api/endpoints';
import { useDraftAutosave } from '../components/useDraftAutosave';
import { toGraph } from './graph';
import { editorStore } from './store';

export type { SaveState } from '../components/SaveIndicator';

export const AUTOSAVE_DELAY_MS = 800;

export function useAutosave(journeyId: string, initialRevision: number) {
  const send = useCallback(
    async (revision: number) => {
      const { nodes, edges, meta } = editorStore.getState();
      const graph = toGraph(nodes, edges, meta);
      const result = await journeys.saveDraft(journeyId, graph, revision);
      editorStore.getState().setProblems(result.problems, graph.nodes.map((n) => n.id));
      return result.revision;
    },
    [journeyId],
  );
  return useDraftAutosave({ store: editorStore, initialRevision, delayMs: AUTOSAVE_DELAY_MS, send });
}
