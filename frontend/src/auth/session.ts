import { create } from 'zustand';
import { ApiError, setCsrfToken, setUnauthorizedHandler } from '../api/client';
import { auth } from '../api/endpoints';
import type { Session } from '../api/types';
import { adoptAccountLanguage } from '../i18n';

interface SessionState {
  /** undefined while we ask the server, null when signed out. */
  session: Session | null | undefined;
  check(): Promise<void>;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** Ends every session of the user (other browsers and devices too). */
  signOutEverywhere(): Promise<void>;
}

/** Viewers look at everything and change nothing (the server refuses their changes with 403). */
export const useIsViewer = (): boolean => useSession((s) => s.session?.workspace.role === 'viewer');

export const useSession = create<SessionState>()((set) => {
  const apply = (session: Session | null) => {
    setCsrfToken(session?.csrf_token ?? null);
    set({ session });
    adoptAccountLanguage(session?.user.locale);
  };
  setUnauthorizedHandler(() => apply(null));
  return {
    session: undefined,
    async check() {
      try {
        apply(await auth.me());
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) apply(null);
        else throw error;
      }
    },
    async signIn(email, password) {
      apply(await auth.login(email, password));
    },
    async signOut() {
      try {
        await auth.logout();
      } finally {
        apply(null);
      }
    },
    async signOutEverywhere() {
      await auth.logoutEverywhere();
      apply(null);
    },
  };
});
