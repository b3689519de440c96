import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink } from 'react-router';
import { useSession } from '../auth/session';
import { Icon } from './Icon';
import { LanguageSwitcher } from './LanguageSwitcher';
import { Logo } from './Logo';
import { Toasts } from './Toasts';

export function Layout({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const session = useSession((s) => s.session);
  const signOut = useSession((s) => s.signOut);
  return (
    <div className="app">
      <header className="topbar">
        <Logo />
        <nav className="nav" aria-label={t('nav.main')}>
          <NavLink to="/journeys" data-testid="nav-journeys">
            <Icon name="route" />
            {t('nav.journeys')}
          </NavLink>
          <NavLink to="/contacts" data-testid="nav-contacts">
            <Icon name="users" />
            {t('nav.contacts')}
          </NavLink>
          <NavLink to="/templates" data-testid="nav-templates">
            <Icon name="mail" />
            {t('nav.templates')}
          </NavLink>
          <NavLink to="/messages" data-testid="nav-messages">
            <Icon name="send" />
            {t('nav.messages')}
          </NavLink>
          <NavLink to="/settings/providers" data-testid="nav-providers">
            <Icon name="settings" />
            {t('nav.providers')}
          </NavLink>
        </nav>
        <div className="topbar-end">
          {session && (
            <span className="muted small" title={session.user.email}>
              {session.workspace.name} · {session.user.name || session.user.email}
            </span>
          )}
          <LanguageSwitcher />
          <button type="button" className="button ghost" onClick={() => void signOut()} data-testid="sign-out">
            {t('nav.signOut')}
          </button>
        </div>
      </header>
      <div className="app-body">{children}</div>
      <Toasts />
    </div>
  );
}
