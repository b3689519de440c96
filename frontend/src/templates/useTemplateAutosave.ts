/** Saves the template draft shortly after every change (`PUT /api/templates/{id}/draft`), one request
 * at a time, and feeds the server's problems (with line and column) back into the store. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { templates } from '../api/endpoints';
import type { SmsSegments } from '../api/types';
import type { SaveState } from '../components/SaveIndicator';
import { templateStore } from './store';

export const AUTOSAVE_DELAY_MS = 700;
const RETRY_MS = 5000;

export function useTemplateAutosave(templateId: string) {
  const [state, setState] = useState<SaveState>('saved');
  /** Bumps after every successful save: the preview re-renders then. */
  const [savedCount, setSavedCount] = useState(0);
  const [smsSource, setSmsSource] = useState<SmsSegments | null>(null);
  const savedSeq = useRef(templateStore.getState().changeSeq);
  const inFlight = useRef<Promise<void> | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const save = useCallback(async (): Promise<void> => {
    clearTimeout(timer.current);
    if (inFlight.current) {
      await inFlight.current;
      return save();
    }
    const { draft, changeSeq } = templateStore.getState();
    if (changeSeq === savedSeq.current) {
      setState('saved');
      return;
    }
    setState('saving');
    const run = (async () => {
      try {
        const result = await templates.save(templateId, { draft });
        savedSeq.current = changeSeq;
        templateStore.getState().setProblems(result.problems);
        setSmsSource(result.sms ?? null);
        setSavedCount((n) => n + 1);
        const more = templateStore.getState().changeSeq !== changeSeq;
        setState(more ? 'pending' : 'saved');
        if (more) timer.current = setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
      } catch (error) {
        setState('error');
        const problems = (error as { problems?: unknown }).problems;
        if (Array.isArray(problems) && problems.length) templateStore.getState().setProblems(problems);
        timer.current = setTimeout(() => void save(), RETRY_MS);
      }
    })();
    inFlight.current = run;
    try {
      await run;
    } finally {
      inFlight.current = null;
    }
  }, [templateId]);

  useEffect(() => {
    savedSeq.current = templateStore.getState().changeSeq;
    const unsubscribe = templateStore.subscribe((s, previous) => {
      if (s.changeSeq === previous.changeSeq) return;
      setState((current) => (current === 'saving' ? current : 'pending'));
      clearTimeout(timer.current);
      timer.current = setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    });
    const warn = (event: BeforeUnloadEvent) => {
      if (templateStore.getState().changeSeq !== savedSeq.current) event.preventDefault();
    };
    window.addEventListener('beforeunload', warn);
    return () => {
      unsubscribe();
      window.removeEventListener('beforeunload', warn);
      if (templateStore.getState().changeSeq !== savedSeq.current) void save();
      clearTimeout(timer.current);
    };
  }, [save]);

  return { state, flush: save, savedCount, smsSource };
}
