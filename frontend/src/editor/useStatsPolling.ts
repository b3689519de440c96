import { useEffect, useState } from 'react';
import { journeys } from '../api/endpoints';
import type { JourneyStats } from '../api/types';
import { editorStore } from './store';

export const STATS_INTERVAL_MS = 5000;

/** Live counts while the editor is open and visible: per block into the store, totals returned. */
export function useStatsPolling(journeyId: string): JourneyStats | null {
  const [totals, setTotals] = useState<JourneyStats | null>(null);
  useEffect(() => {
    let live = true;
    const poll = async () => {
      if (document.visibilityState !== 'visible') return;
      try {
        const stats = await journeys.stats(journeyId);
        if (!live) return;
        editorStore.getState().setStats(stats.nodes);
        setTotals(stats);
      } catch {
        // Counts are a nicety: a failed poll leaves the last numbers up until the next one.
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), STATS_INTERVAL_MS);
    document.addEventListener('visibilitychange', poll);
    return () => {
      live = false;
      clearInterval(timer);
      document.removeEventListener('visibilitychange', poll);
    };
  }, [journeyId]);
  return totals;
}
