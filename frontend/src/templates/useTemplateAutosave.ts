/** Saves the template draft shortly after every change (`PUT /api/templates/{id}/draft` with the
 * revision the server last gave us) and feeds the server's problems (with line and column) back into
 * the store; a 409 stops autosaving with a reload offer, as in the journey editor (`useDraftAutosave`). */
import { useCallback } from 'react';
import { ApiError } from '../api/client';
import { templates } from '../api/endpoints';
import { useDraftAutosave } from '../components/useDraftAutosave';
import { templateStore } from './store';

export const AUTOSAVE_DELAY_MS = 700;

export function useTemplateAutosave(templateId: string, initialRevision: number) {
  const send = useCallback(
    async (revision: number) => {
      const { draft } = templateStore.getState();
      try {
        const result = await templates.save(templateId, { draft, revision });
        templateStore.getState().setProblems(result.problems);
        return result.template.revision;
      } catch (error) {
        if (error instanceof ApiError && error.problems.length) templateStore.getState().setProblems(error.problems);
        throw error;
      }
    },
    [templateId],
  );
  return useDraftAutosave({ store: templateStore, initialRevision, delayMs: AUTOSAVE_DELAY_MS, send });
}
