/** Import contacts from a CSV file: upload → map each column (guessed by the server) → dry run of the
 * first rows → import with a progress bar → the report, with the refused rows and their CSV download. */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { imports } from '../api/endpoints';
import type { ContactImport, ImportMapping, ImportPreviewRow } from '../api/types';
import { usePolling } from '../audiences/shared';
import { Icon } from '../components/Icon';
import { PagedTable } from '../components/PagedTable';
import { ErrorNotice, Loading } from '../components/States';
import { useAsync } from '../components/useAsync';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';
import './import.css';

const FIXED = ['external_id', 'email', 'phone', 'wechat_openid', 'timezone', 'locale', 'tags'];
const CONSENT = ['email', 'sms', 'push', 'wechat'].map((c) => `consent.${c}`);
const SUBSCRIPTION = ['id', 'name', 'status', 'start_at', 'end_at', 'duration', 'auto_renew'].map((p) => `subscription.${p}`);
const TYPES = ['auto', 'text', 'number', 'boolean', 'date'] as const;

function problemText(error: unknown): string {
  if (error instanceof ApiError) {
    const details = error.problems.map((p) => p.message).join('; ');
    return details ? `${error.message}: ${details}` : error.message;
  }
  return (error as Error).message;
}

export default function ImportPage() {
  const { id } = useParams();
  return id ? <ImportJob key={id} id={id} /> : <Upload />;
}

function Upload() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <main className="page import-page" data-testid="import-page">
      <div className="page-header">
        <h1>{t('imports.title')}</h1>
      </div>
      <p className="muted">{t('imports.intro')}</p>
      <form
        className="import-upload"
        onSubmit={async (event) => {
          event.preventDefault();
          if (!file) return;
          setBusy(true);
          setError(null);
          try {
            const job = await imports.upload(file);
            navigate(`/contacts/import/${job.id}`);
          } catch (err) {
            setError(problemText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label className="field">
          <span className="field-label">{t('imports.file')}</span>
          <input
            type="file"
            accept=".csv,.tsv,.txt,text/csv"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            data-testid="import-file"
          />
          <span className="small muted">{t('imports.fileHint')}</span>
        </label>
        <button type="submit" className="button primary" disabled={!file || busy} data-testid="import-upload">
          {busy ? t('imports.uploading') : t('imports.upload')}
        </button>
        {error && (
          <p className="field-error" role="alert" data-testid="import-upload-error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function ImportJob({ id }: { id: string }) {
  const { t } = useTranslation();
  const job = useAsync(() => imports.get(id), [id]);
  const active = job.data?.status === 'queued' || job.data?.status === 'running';
  usePolling(active, job.reload, 700);
  if (job.error) return <ErrorNotice error={job.error} onRetry={job.reload} />;
  if (!job.data) return <Loading />;
  const data = job.data;
  return (
    <main className="page import-page" data-testid="import-page">
      <div className="page-header">
        <h1>
          {t('imports.title')}: <span className="import-filename">{data.filename}</span>
        </h1>
        <div className="page-actions">
          <Link to="/contacts" className="button">
            {t('imports.backToContacts')}
          </Link>
        </div>
      </div>
      {data.status === 'uploaded' ? <Mapping job={data} onStarted={job.reload} /> : <Report job={data} />}
    </main>
  );
}

function Mapping({ job, onStarted }: { job: ContactImport; onStarted(): void }) {
  const { t } = useTranslation();
  const [mapping, setMapping] = useState<ImportMapping[]>(job.mapping);
  const [preview, setPreview] = useState<ImportPreviewRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const sampleOf = (n: number) => job.sample.map((row) => row[n] ?? '').filter(Boolean).slice(0, 2).join(', ');
  const change = (n: number, patch: Partial<ImportMapping>) => {
    setMapping((current) => current.map((m, i) => (i === n ? { ...m, ...patch } : m)));
    setPreview(null);
  };
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(problemText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <section className="card" aria-labelledby="import-mapping-title">
        <h2 id="import-mapping-title">{t('imports.mappingTitle')}</h2>
        <p className="muted small">{t('imports.mappingHint')}</p>
        <div className="import-scroll">
          <table className="table import-mapping" data-testid="import-mapping">
            <thead>
              <tr>
                <th>{t('imports.column')}</th>
                <th>{t('imports.example')}</th>
                <th>{t('imports.target')}</th>
                <th>{t('imports.type')}</th>
              </tr>
            </thead>
            <tbody>
              {mapping.map((entry, n) => {
                const trait = `trait.${entry.column}`;
                const options = [...new Set(['ignore', ...FIXED, trait, ...CONSENT, ...SUBSCRIPTION, entry.target])];
                const label = (target: string) =>
                  target === 'ignore'
                    ? t('imports.targets.ignore')
                    : target.startsWith('trait.')
                      ? t('imports.targets.trait', { name: target.slice(6) })
                      : target.startsWith('consent.')
                        ? t('imports.targets.consent', { channel: target.slice(8) })
                        : target.startsWith('subscription.')
                          ? t('imports.targets.subscription', { part: target.slice(13) })
                          : t(`imports.targets.${target}`);
                return (
                  <tr key={entry.column} data-testid={`import-map-${n}`}>
                    <th scope="row" className="cell-text">
                      {entry.column}
                    </th>
                    <td className="cell-text muted">{sampleOf(n) || '—'}</td>
                    <td>
                      <select
                        className="select"
                        value={entry.target}
                        aria-label={t('imports.targetFor', { column: entry.column })}
                        onChange={(e) => change(n, { target: e.target.value })}
                        data-testid={`import-target-${n}`}
                      >
                        {options.map((target) => (
                          <option key={target} value={target}>
                            {label(target)}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      {entry.target.startsWith('trait.') ? (
                        <select
                          className="select"
                          value={entry.type ?? 'auto'}
                          aria-label={t('imports.typeFor', { column: entry.column })}
                          onChange={(e) => change(n, { type: e.target.value as ImportMapping['type'] })}
                        >
                          {TYPES.map((type) => (
                            <option key={type} value={type}>
                              {t(`imports.types.${type}`)}
                            </option>
                          ))}
                        </select>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {error && (
          <p className="field-error" role="alert" data-testid="import-error">
            {error}
          </p>
        )}
        <div className="import-actions">
          <button
            type="button"
            className="button"
            disabled={busy}
            onClick={() => run(async () => setPreview((await imports.preview(job.id, mapping)).rows))}
            data-testid="import-preview"
          >
            {t('imports.preview')}
          </button>
          <button
            type="button"
            className="button primary"
            disabled={busy}
            onClick={() =>
              run(async () => {
                await imports.start(job.id, mapping);
                onStarted();
              })
            }
            data-testid="import-start"
          >
            {t('imports.start')}
          </button>
        </div>
      </section>
      {preview && <Preview rows={preview} />}
    </>
  );
}

function describe(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' · ');
}

function Preview({ rows }: { rows: ImportPreviewRow[] }) {
  const { t } = useTranslation();
  return (
    <section className="card" aria-labelledby="import-preview-title" data-testid="import-preview-rows">
      <h2 id="import-preview-title">{t('imports.previewTitle')}</h2>
      <p className="muted small">{t('imports.previewHint')}</p>
      <div className="import-scroll">
        <table className="table">
          <thead>
            <tr>
              <th>{t('imports.row')}</th>
              <th>{t('imports.action')}</th>
              <th>{t('imports.stored')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.row} data-testid={`import-preview-${row.row}`} data-action={row.action}>
                <td>{row.row}</td>
                <td>
                  <span className={`badge ${row.action === 'error' ? 'status-failed' : 'status-published'}`}>
                    {t(`imports.actions.${row.action}`)}
                  </span>
                </td>
                <td className="cell-text import-values">
                  {row.action === 'error'
                    ? row.problems.map((p) => `${p.column || t('imports.wholeRow')}: ${p.value ? `“${p.value}” ` : ''}${p.reason}`).join('; ')
                    : describe(row.values)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Report({ job }: { job: ContactImport }) {
  const { t, i18n } = useTranslation();
  const fmt = useFormat();
  const over = job.status === 'done' || job.status === 'failed' || job.status === 'cancelled';
  const share = job.progress.percent / 100;
  const percent = new Intl.NumberFormat(i18n.language, { style: 'percent' }).format(share);
  const errors = usePaged((cursor) => imports.errors(job.id, cursor), [job.id, over]);
  const [announced, setAnnounced] = useState(false);
  useEffect(() => {
    if (over) setAnnounced(true);
  }, [over]);
  return (
    <>
      <section className="card" aria-labelledby="import-progress-title">
        <h2 id="import-progress-title">{t(`imports.status.${job.status}`)}</h2>
        <div className="import-progress">
          <progress
            value={job.progress.percent}
            max={100}
            aria-label={t('imports.progress', { percent })}
            data-testid="import-progress"
            data-status={job.status}
          />
          <span className="small">{percent}</span>
        </div>
        <dl className="import-counts" aria-live="polite" data-testid="import-counts">
          <div>
            <dt>{t('imports.rowsRead')}</dt>
            <dd data-testid="import-rows">{fmt.number(job.rows_done)}</dd>
          </div>
          <div>
            <dt>{t('imports.created')}</dt>
            <dd data-testid="import-created">{fmt.number(job.created)}</dd>
          </div>
          <div>
            <dt>{t('imports.updated')}</dt>
            <dd data-testid="import-updated">{fmt.number(job.updated)}</dd>
          </div>
          <div>
            <dt>{t('imports.refused')}</dt>
            <dd data-testid="import-failed">{fmt.number(job.failed)}</dd>
          </div>
        </dl>
        {job.message && (
          <p className="field-error" role="alert">
            {job.message}
          </p>
        )}
        {announced && <span className="visually-hidden" role="status">{t(`imports.status.${job.status}`)}</span>}
      </section>
      {over && job.failed > 0 && (
        <section className="card" aria-labelledby="import-errors-title" data-testid="import-errors">
          <div className="import-section-header">
            <h2 id="import-errors-title">{t('imports.errorsTitle')}</h2>
            <a className="button" href={imports.errorsUrl(job.id)} download data-testid="import-errors-download">
              {t('imports.downloadErrors')}
            </a>
          </div>
          <PagedTable
            list={errors}
            empty={t('imports.noErrors')}
            head={
              <>
                <th>{t('imports.row')}</th>
                <th>{t('imports.column')}</th>
                <th>{t('imports.value')}</th>
                <th>{t('imports.reason')}</th>
              </>
            }
            row={(error) => (
              <tr key={`${error.row}-${error.column}-${error.reason}`} data-testid={`import-error-${error.row}`}>
                <td>{error.row}</td>
                <td className="cell-text">{error.column || t('imports.wholeRow')}</td>
                <td className="cell-text">{error.value || '—'}</td>
                <td className="cell-text">{error.reason}</td>
              </tr>
            )}
          />
        </section>
      )}
      {over && (
        <p>
          <Link to="/contacts" data-testid="import-to-contacts">
            <Icon name="users" /> {t('imports.seeContacts')}
          </Link>
        </p>
      )}
    </>
  );
}
