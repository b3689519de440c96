/** Message templates: search, create, duplicate, open. */
import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { ApiError } from '../api/client';
import { templates } from '../api/endpoints';
import type { TemplateSummary } from '../api/types';
import { Dialog } from '../components/Dialog';
import { Icon } from '../components/Icon';
import { PagedTable } from '../components/PagedTable';
import { SearchBox } from '../components/SearchBox';
import { Tags } from '../components/Tags';
import { toast } from '../components/toast';
import { useDebounced } from '../components/useDebounced';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';
import './templates.css';

/** `Welcome e-mail` → `welcome_e_mail`: a key suggestion from the name. */
export function keyFromName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 60);
}

/** The server's rule for keys (`backend/api/templates.py`: `Key`). */
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const KEY_MAX = 200;

type Prompt = { kind: 'create' } | { kind: 'duplicate'; template: TemplateSummary };

export default function TemplatesPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const navigate = useNavigate();
  const [query, setQuery] = useState('');
  const q = useDebounced(query.trim(), 250);
  const list = usePaged((cursor) => templates.list(q, cursor), [q]);
  const [prompt, setPrompt] = useState<Prompt | null>(null);

  return (
    <main className="page">
      <div className="page-header">
        <h1>{t('templates.title')}</h1>
        <button type="button" className="button primary" onClick={() => setPrompt({ kind: 'create' })} data-testid="template-create">
          <Icon name="plus" />
          {t('templates.create')}
        </button>
      </div>
      <SearchBox value={query} onChange={setQuery} label={t('templates.search')} testId="templates-search" />
      <PagedTable
        list={list}
        empty={q ? t('templates.noMatch', { q }) : t('templates.empty')}
        head={
          <>
            <th>{t('templates.col.name')}</th>
            <th>{t('templates.col.key')}</th>
            <th>{t('templates.col.channels')}</th>
            <th>{t('templates.col.tags')}</th>
            <th>{t('templates.col.version')}</th>
            <th>{t('templates.col.updated')}</th>
            <th>
              <span className="visually-hidden">{t('journeys.col.actions')}</span>
            </th>
          </>
        }
        row={(tpl) => (
          <tr key={tpl.id} data-testid={`template-row-${tpl.id}`}>
            <td>
              <Link to={`/templates/${tpl.id}`} className="strong" data-testid={`template-open-${tpl.id}`}>
                {tpl.name}
              </Link>
            </td>
            <td>
              <code className="key">{tpl.key}</code>
            </td>
            <td>
              <span className="channel-chips">
                {tpl.channels.map((c) => (
                  <span key={c} className={`chip channel-${c}`}>
                    {t(`channel.${c}`)}
                  </span>
                ))}
                {tpl.channels.length === 0 && <span className="muted">—</span>}
              </span>
            </td>
            <td>
              <Tags tags={tpl.tags} />
            </td>
            <td>{tpl.version === null ? <span className="muted">{t('templates.unpublished')}</span> : t('journeys.versionN', { n: tpl.version })}</td>
            <td title={fmt.dateTime(tpl.updated_at)}>{fmt.relative(tpl.updated_at)}</td>
            <td className="row-actions">
              <button type="button" className="button small" onClick={() => setPrompt({ kind: 'duplicate', template: tpl })} data-testid={`template-duplicate-${tpl.id}`}>
                {t('journeys.duplicate')}
              </button>
            </td>
          </tr>
        )}
      />
      {prompt?.kind === 'create' && (
        <CreateDialog
          title={t('templates.createTitle')}
          confirm={t('templates.create')}
          testId="template-create-dialog"
          onClose={() => setPrompt(null)}
          onConfirm={async (name, key) => {
            const saved = await templates.create({ key, name, draft: { email: {} } });
            navigate(`/templates/${saved.template.id}`);
          }}
        />
      )}
      {prompt?.kind === 'duplicate' && (
        <CreateDialog
          title={t('templates.duplicateTitle')}
          confirm={t('journeys.duplicate')}
          initialName={t('journeys.copyOf', { name: prompt.template.name })}
          initialKey={`${prompt.template.key}_copy`.slice(0, KEY_MAX)}
          testId="template-duplicate-dialog"
          onClose={() => setPrompt(null)}
          onConfirm={async (name, key) => {
            // The server copies the draft and the tags (not the versions) under the new key.
            await templates.duplicate(prompt.template.id, { key, name });
            toast(t('templates.duplicated', { name }));
            list.reload();
          }}
        />
      )}
    </main>
  );
}

interface CreateDialogProps {
  title: string;
  confirm: string;
  initialName?: string;
  initialKey?: string;
  testId: string;
  onClose(): void;
  onConfirm(name: string, key: string): Promise<void>;
}

/** Name and key; the key follows the name until edited by hand. */
function CreateDialog({ title, confirm, initialName = '', initialKey, testId, onClose, onConfirm }: CreateDialogProps) {
  const { t } = useTranslation();
  const [name, setName] = useState(initialName);
  const [key, setKey] = useState(initialKey ?? keyFromName(initialName));
  const [keyEdited, setKeyEdited] = useState(initialKey !== undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  /** The server refused the key: taken (409) or not a valid key (400 at `/key`). */
  const [refused, setRefused] = useState<{ key: string; reason: 'taken' | 'invalid' } | null>(null);
  const nameId = useId();
  const keyId = useId();
  const keyValid = KEY.test(key) && key.length <= KEY_MAX;
  const keyRefused = refused?.key === key ? refused.reason : null;
  const submit = async () => {
    if (!name.trim() || !keyValid) return;
    setBusy(true);
    setError(null);
    setRefused(null);
    try {
      await onConfirm(name.trim(), key);
      onClose();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setRefused({ key, reason: 'taken' });
      else if (err instanceof ApiError && err.status === 400 && err.problems.some((p) => p.pointer === '/key')) setRefused({ key, reason: 'invalid' });
      else setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <Dialog
      title={title}
      onClose={onClose}
      onSubmit={() => void submit()}
      testId={testId}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !name.trim() || !keyValid || keyRefused !== null} data-testid={`${testId}-confirm`}>
            {confirm}
          </button>
        </>
      }
    >
      <label className="field-label" htmlFor={nameId}>
        {t('templates.name')}
      </label>
      <input
        id={nameId}
        className="input"
        autoFocus
        value={name}
        onChange={(e) => {
          setName(e.target.value);
          if (!keyEdited) setKey(keyFromName(e.target.value));
        }}
        data-testid={`${testId}-name`}
      />
      <label className="field-label" htmlFor={keyId} style={{ marginTop: 12 }}>
        {t('templates.key')}
      </label>
      <input
        id={keyId}
        className="input mono"
        value={key}
        maxLength={KEY_MAX}
        aria-invalid={Boolean(key && !keyValid) || keyRefused !== null}
        onChange={(e) => {
          setKey(e.target.value);
          setKeyEdited(true);
        }}
        data-testid={`${testId}-key`}
      />
      {keyRefused === 'taken' ? (
        <p className="field-error" role="alert" data-testid={`${testId}-key-error`}>
          {t('templates.keyTaken', { key })}
        </p>
      ) : (
        <p className={(key && !keyValid) || keyRefused !== null ? 'field-error' : 'field-hint'}>{t('templates.keyHint')}</p>
      )}
      {error && <p className="form-error">{error}</p>}
    </Dialog>
  );
}
