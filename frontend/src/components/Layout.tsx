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
  const signOutEverywhere = useSession((s) => s.signOutEverywhere);
  const nav = [
    { to: '/journeys', icon: 'route', label: t('nav.journeys'), testId: 'nav-journeys' },
    { to: '/contacts', icon: 'users', label: t('nav.contacts'), testId: 'nav-contacts' },
    { to: '/segments', icon: 'pie-chart', label: t('nav.segments'), testId: 'nav-segments' },
    { to: '/computed-properties', icon: 'sigma', label: t('nav.computed'), testId: 'nav-computed', title: t('computed.title') },
    { to: '/scores', icon: 'gauge', label: t('nav.scores'), testId: 'nav-scores' },
    { to: '/templates', icon: 'mail', label: t('nav.templates'), testId: 'nav-templates' },
    { to: '/messages', icon: 'send', label: t('nav.messages'), testId: 'nav-messages' },
    { to: '/settings/providers', icon: 'settings', label: t('nav.providers'), testId: 'nav-providers' },
  ];
  return (
    <div className="app">
      <header className="topbar">
        <Logo />
        <nav className="nav" aria-label={t('nav.main')}>
          {nav.map((item) => (
            <NavLink key={item.to} to={item.to} data-testid={item.testId} title={'title' in item ? item.title : undefined}>
              <Icon name={item.icon} />
              {item.label}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-end">
          {session?.workspace.role === 'viewer' && (
            <span className="badge status-paused" title={t('nav.readOnlyHint')} data-testid="read-only">
              {t('nav.readOnly')}
            </span>
          )}
          {session && (
            <details className="account-menu" data-testid="account-menu">
              <summary className="muted small" title={session.user.email}>
                {session.workspace.name} · {session.user.name || session.user.email}
              </summary>
              <div className="account-menu-panel">
                <div className="small">{session.user.email}</div>
                <button
                  type="button"
                  className="button ghost"
                  onClick={() => void signOutEverywhere()}
                  data-testid="sign-out-everywhere"
                >
                  {t('nav.signOutEverywhere')}
                </button>
                <p className="muted small">{t('nav.signOutEverywhereHint')}</p>
              </div>
            </details>
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
