import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { LanguageSwitcher } from '../components/LanguageSwitcher';
import { Logo } from '../components/Logo';
import { useSession } from './session';

export function SignIn() {
  const { t } = useTranslation();
  const signIn = useSession((s) => s.signIn);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? t('signIn.wrong') : (err as Error).message);
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form className="sign-in-card" onSubmit={submit} data-testid="sign-in-form">
        <Logo />
        <h1>{t('signIn.title')}</h1>
        <p className="muted">{t('signIn.subtitle')}</p>
        <label className="field-label" htmlFor="sign-in-email">
          {t('signIn.email')}
        </label>
        <input
          id="sign-in-email"
          className="input"
          type="email"
          autoComplete="username"
          required
          autoFocus
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          data-testid="sign-in-email"
        />
        <label className="field-label" htmlFor="sign-in-password">
          {t('signIn.password')}
        </label>
        <input
          id="sign-in-password"
          className="input"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          data-testid="sign-in-password"
        />
        {error && (
          <p className="form-error" role="alert" data-testid="sign-in-error">
            {error}
          </p>
        )}
        <button type="submit" className="button primary wide" disabled={busy} data-testid="sign-in-submit">
          {busy ? t('signIn.busy') : t('signIn.submit')}
        </button>
        <div className="sign-in-footer">
          <LanguageSwitcher />
        </div>
      </form>
    </main>
  );
}
