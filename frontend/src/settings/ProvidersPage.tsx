/** Settings → Providers: per channel, the providers that deliver it, each with a form generated from its
 * kind's JSON Schema. Secrets are write-only: the page shows whether one is set and offers to change it,
 * never its value. "Test connection" connects and authenticates without sending. */
import { useEffect, useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client';
import { providers } from '../api/endpoints';
import { type Provider, type ProviderChannel, type ProviderKind, type ProviderTest, SECRET_PLACEHOLDER } from '../api/types';
import { Icon } from '../components/Icon';
import { ErrorNotice, Loading } from '../components/States';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { useFormat } from '../i18n/format';
import { SchemaForm } from '../schema-form/SchemaForm';
import type { JsonSchema } from '../schema-form/schema';
import { pointerToPath } from '../schema-form/schema';
import '../templates/templates.css';

const CHANNEL_ORDER: ProviderChannel[] = ['email', 'sms', 'wechat', 'push', 'webhook'];

/** The kind's schema without its secret properties (those get their own write-only fields). */
export function publicSchema(kind: ProviderKind): JsonSchema {
  const schema = kind.config_schema;
  const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([name]) => !kind.secrets.includes(name)));
  return { ...schema, properties, required: (schema.required ?? []).filter((r) => !kind.secrets.includes(r)) };
}

/** What to PATCH/POST: the public settings, plus only the secrets that were typed (or cleared). */
export function configToSend(config: Record<string, unknown>, kind: ProviderKind, secrets: Record<string, string | null>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!kind.secrets.includes(k) && v !== SECRET_PLACEHOLDER) out[k] = v;
  // '' is "typed nothing": keep the stored value; null clears it.
  for (const [k, v] of Object.entries(secrets)) if (v !== '') out[k] = v;
  return out;
}

export default function ProvidersPage() {
  const { t } = useTranslation();
  const kinds = useAsync(() => providers.kinds(), []);
  const list = useAsync(() => providers.list(), []);
  const [adding, setAdding] = useState<ProviderChannel | null>(null);

  const error = kinds.error ?? list.error;
  if (error) return <ErrorNotice error={error} onRetry={() => (kinds.error ? kinds.reload() : list.reload())} />;
  if (!kinds.data || !list.data) return <Loading />;
  const kindsById = new Map(kinds.data.map((k) => [k.kind, k]));
  const channels = CHANNEL_ORDER.filter((c) => kinds.data!.some((k) => k.channel === c) || list.data!.some((p) => p.channel === c));

  return (
    <main className="page providers-page" data-testid="providers-page">
      <div className="page-header">
        <h1>{t('providers.title')}</h1>
      </div>
      <p className="muted">{t('providers.intro')}</p>
      {channels.map((channel) => {
        const mine = list.data!.filter((p) => p.channel === channel);
        const channelKinds = kinds.data!.filter((k) => k.channel === channel || k.channel === 'any' || k.channel === null);
        return (
          <section key={channel} className="section card provider-channel" data-testid={`providers-${channel}`}>
            <div className="provider-channel-head">
              <h2>{t(`providers.channel.${channel}`)}</h2>
              <button type="button" className="button small" onClick={() => setAdding(channel)} data-testid={`provider-add-${channel}`}>
                <Icon name="plus" size={14} />
                {t('providers.add')}
              </button>
            </div>
            {mine.length === 0 && adding !== channel && <p className="muted small">{channel === 'email' ? t('providers.noneEmail') : t('providers.none')}</p>}
            {mine.map((p, index) => (
              <ProviderCard
                key={p.id}
                provider={p}
                kind={kindsById.get(p.kind)}
                inUse={p.enabled && mine.findIndex((q) => q.enabled) === index}
                onChanged={list.reload}
              />
            ))}
            {adding === channel && (
              <NewProvider
                channel={channel}
                kinds={channelKinds}
                onCancel={() => setAdding(null)}
                onCreated={() => {
                  setAdding(null);
                  list.reload();
                }}
              />
            )}
          </section>
        );
      })}
    </main>
  );
}

function problemsOf(err: unknown): Map<string, string[]> {
  const map = new Map<string, string[]>();
  if (err instanceof ApiError) {
    for (const p of err.problems) {
      const path = pointerToPath(p.pointer);
      map.set(path, [...(map.get(path) ?? []), p.message]);
    }
  }
  return map;
}

function NewProvider({ channel, kinds, onCancel, onCreated }: { channel: ProviderChannel; kinds: ProviderKind[]; onCancel(): void; onCreated(): void }) {
  const { t } = useTranslation();
  const [kindName, setKindName] = useState(kinds.find((k) => k.kind !== 'null')?.kind ?? kinds[0]?.kind ?? '');
  const kind = kinds.find((k) => k.kind === kindName);
  const selectId = useId();
  return (
    <div className="provider-card new" data-testid={`provider-new-${channel}`}>
      <label className="field-label" htmlFor={selectId}>
        {t('providers.kind')}
      </label>
      <select id={selectId} className="select" value={kindName} onChange={(e) => setKindName(e.target.value)} data-testid="provider-kind">
        {kinds.map((k) => (
          <option key={k.kind} value={k.kind}>
            {k.label}
          </option>
        ))}
      </select>
      {kind && (
        <ProviderForm
          key={kind.kind}
          kind={kind}
          provider={null}
          onCancel={onCancel}
          onSave={async (body) => {
            await providers.create({ ...body, kind: kind.kind, channel: channel === 'webhook' || kind.channel !== 'any' ? undefined : channel });
            toast(t('providers.created'));
            onCreated();
          }}
        />
      )}
    </div>
  );
}

function ProviderCard({ provider, kind, inUse, onChanged }: { provider: Provider; kind: ProviderKind | undefined; inUse: boolean; onChanged(): void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [editing, setEditing] = useState(false);
  const [testing, setTesting] = useState(false);
  const [result, setResult] = useState<ProviderTest | null>(null);

  const test = async () => {
    setTesting(true);
    setResult(null);
    try {
      setResult(await providers.test(provider.id));
    } catch (err) {
      setResult({ ok: false, message: (err as Error).message });
    } finally {
      setTesting(false);
    }
  };

  const remove = async () => {
    if (!window.confirm(t('providers.deleteConfirm', { name: provider.name || kind?.label || provider.kind }))) return;
    try {
      await providers.remove(provider.id);
      onChanged();
    } catch (err) {
      toast((err as Error).message, 'error');
    }
  };

  const summary = Object.entries(provider.config)
    .filter(([k, v]) => !kind?.secrets.includes(k) && v !== null && v !== '' && typeof v !== 'object')
    .slice(0, 4);

  return (
    <div className={`provider-card${provider.enabled ? '' : ' disabled'}`} data-testid={`provider-${provider.id}`}>
      <div className="provider-head">
        <div>
          <strong>{provider.name || kind?.label || provider.kind}</strong>{' '}
          <span className="chip">{kind?.label ?? provider.kind}</span>{' '}
          {inUse && <span className="badge status-published">{t('providers.inUse')}</span>}
          {!provider.enabled && <span className="badge status-paused">{t('providers.disabled')}</span>}
          <div className="small muted">
            {summary.map(([k, v]) => `${k}: ${String(v)}`).join(' · ')}
            {provider.effective_rate_per_second ? ` · ${t('providers.rate', { n: provider.effective_rate_per_second })}` : ''}
          </div>
          <div className="small muted">
            {(kind?.secrets ?? []).map((s) => (
              <span key={s} className="secret-state" data-testid={`provider-${provider.id}-secret-${s}`} data-set={provider.secrets_set.includes(s)}>
                {s}: {provider.secrets_set.includes(s) ? t('providers.secretSet') : t('providers.secretNotSet')}
              </span>
            ))}
            {' · '}
            {t('providers.updated', { when: fmt.relative(provider.updated_at) })}
          </div>
        </div>
        <div className="row-actions">
          <button type="button" className="button small" onClick={() => void test()} disabled={testing} data-testid={`provider-${provider.id}-test`}>
            {testing ? t('providers.testing') : t('providers.test')}
          </button>
          <button type="button" className="button small" onClick={() => setEditing((e) => !e)} data-testid={`provider-${provider.id}-edit`}>
            {t('providers.edit')}
          </button>
          <button type="button" className="button small danger" onClick={() => void remove()} data-testid={`provider-${provider.id}-delete`}>
            {t('providers.delete')}
          </button>
        </div>
      </div>
      {result && (
        <p className={result.ok ? 'ok-text small' : 'form-error'} role="status" data-testid={`provider-${provider.id}-test-result`} data-ok={result.ok}>
          {result.ok ? t('providers.testOk') : t('providers.testFailed')} {result.message}
        </p>
      )}
      {editing && kind && (
        <ProviderForm
          kind={kind}
          provider={provider}
          onCancel={() => setEditing(false)}
          onSave={async (body) => {
            await providers.update(provider.id, body);
            toast(t('providers.saved'));
            setEditing(false);
            onChanged();
          }}
        />
      )}
    </div>
  );
}

interface FormBody {
  name: string | null;
  config: Record<string, unknown>;
  enabled: boolean;
  rate_per_second: number | null;
}

function ProviderForm({ kind, provider, onSave, onCancel }: { kind: ProviderKind; provider: Provider | null; onSave(body: FormBody): Promise<void>; onCancel(): void }) {
  const { t } = useTranslation();
  const schema = useMemo(() => publicSchema(kind), [kind]);
  const [name, setName] = useState(provider?.name ?? '');
  const [config, setConfig] = useState<Record<string, unknown>>(() => Object.fromEntries(Object.entries(provider?.config ?? {}).filter(([k]) => !kind.secrets.includes(k))));
  const [secrets, setSecrets] = useState<Record<string, string | null>>({});
  const [enabled, setEnabled] = useState(provider?.enabled ?? true);
  const [rate, setRate] = useState(provider?.rate_per_second === null || provider?.rate_per_second === undefined ? '' : String(provider.rate_per_second));
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<Map<string, string[]>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const nameId = useId();
  const rateId = useId();

  useEffect(() => setProblems(new Map()), [config]);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await onSave({ name: name.trim() || null, config: configToSend(config, kind, secrets), enabled, rate_per_second: rate === '' ? null : Number(rate) });
    } catch (err) {
      setProblems(problemsOf(err));
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="provider-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      data-testid="provider-form"
    >
      {kind.description && <p className="small muted">{kind.description}</p>}
      <label className="field-label" htmlFor={nameId}>
        {t('providers.name')}
      </label>
      <input id={nameId} className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder={kind.label} data-testid="provider-name" />
      <SchemaForm schema={schema} value={config} onChange={setConfig} path="config" problems={problems} />
      {kind.secrets.map((s) => (
        <SecretField
          key={s}
          name={s}
          title={String(kind.config_schema.properties?.[s]?.title ?? s)}
          isSet={Boolean(provider?.secrets_set.includes(s))}
          value={secrets[s]}
          onChange={(v) =>
            setSecrets((prev) => {
              const next = { ...prev };
              if (v === undefined) delete next[s];
              else next[s] = v;
              return next;
            })
          }
          problems={problems.get(`config.${s}`) ?? []}
        />
      ))}
      <div className="mini-row">
        <label className="checkbox-row">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} data-testid="provider-enabled" />
          <span>{t('providers.enabled')}</span>
        </label>
        <label className="mini-field" htmlFor={rateId}>
          <span>{t('providers.ratePerSecond')}</span>
          <input
            id={rateId}
            className="input"
            type="number"
            min={0}
            step="any"
            value={rate}
            placeholder={kind.default_rate_per_second ? String(kind.default_rate_per_second) : t('providers.unlimited')}
            onChange={(e) => setRate(e.target.value)}
            data-testid="provider-rate"
          />
        </label>
      </div>
      {error && <p className="form-error">{error}</p>}
      <div className="dialog-footer">
        <button type="button" className="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="button primary" disabled={busy} data-testid="provider-save">
          {t('common.save')}
        </button>
      </div>
    </form>
  );
}

/** A write-only setting: "set" / "not set", and a field to type a new value (never the old one). */
function SecretField({ name, title, isSet, value, onChange, problems }: { name: string; title: string; isSet: boolean; value: string | null | undefined; onChange(v: string | null | undefined): void; problems: string[] }) {
  const { t } = useTranslation();
  const id = useId();
  const changing = value !== undefined && value !== null;
  const cleared = value === null;
  return (
    <div className="field secret-field" data-testid={`secret-${name}`}>
      <label className="field-label" htmlFor={id}>
        {title}
      </label>
      {changing || (!isSet && !cleared) ? (
        <div className="inline-form">
          <input id={id} className="input" type="password" autoComplete="new-password" value={value ?? ''} onChange={(e) => onChange(e.target.value)} placeholder={isSet ? t('providers.secretNew') : ''} data-testid={`secret-${name}-input`} />
          {isSet && (
            <button type="button" className="button small" onClick={() => onChange(undefined)}>
              {t('providers.keep')}
            </button>
          )}
        </div>
      ) : (
        <div className="inline-form">
          <span className={`secret-state${cleared ? ' cleared' : ''}`} data-testid={`secret-${name}-state`}>
            {cleared ? t('providers.secretWillClear') : t('providers.secretSet')}
          </span>
          <button type="button" className="button small" onClick={() => onChange('')} data-testid={`secret-${name}-change`}>
            {t('providers.change')}
          </button>
          {!cleared ? (
            <button type="button" className="button small ghost danger" onClick={() => onChange(null)} data-testid={`secret-${name}-clear`}>
              {t('providers.clear')}
            </button>
          ) : (
            <button type="button" className="button small" onClick={() => onChange(undefined)}>
              {t('providers.keep')}
            </button>
          )}
        </div>
      )}
      {problems.map((p) => (
        <p key={p} className="field-error">
          {p}
        </p>
      ))}
    </div>
  );
}
