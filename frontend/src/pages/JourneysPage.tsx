import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { journeys, type JourneyAction } from '../api/endpoints';
import { useIsViewer } from '../auth/session';
import type { JourneyStatus, JourneySummary } from '../api/types';
import { PromptDialog } from '../components/Dialog';
import { Icon } from '../components/Icon';
import { PagedTable } from '../components/PagedTable';
import { StatusBadge } from '../components/StatusBadge';
import { toast } from '../components/toast';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';

const FILTERS: (JourneyStatus | '')[] = ['', 'draft', 'published', 'paused', 'archived'];

type Prompt = { kind: 'create' } | { kind: 'rename' | 'duplicate'; journey: JourneySummary };

export function JourneysPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const navigate = useNavigate();
  const [status, setStatus] = useState<JourneyStatus | ''>('');
  const list = usePaged((cursor) => journeys.list(status, cursor), [status]);
  const [prompt, setPrompt] = useState<Prompt | null>(null);
  const readOnly = useIsViewer();

  const act = async (journey: JourneySummary, action: JourneyAction) => {
    try {
      await journeys.act(journey.id, action);
      toast(t(`journeys.done.${action}`, { name: journey.name }));
      list.reload();
    } catch (err) {
      toast((err as Error).message, 'error');
    }
  };

  return (
    <main className="page">
      <div className="page-header">
        <h1>{t('journeys.title')}</h1>
        {!readOnly && (
          <button type="button" className="button primary" onClick={() => setPrompt({ kind: 'create' })} data-testid="journey-create">
            <Icon name="plus" />
            {t('journeys.create')}
          </button>
        )}
      </div>
      <div className="tabs" role="tablist" aria-label={t('journeys.filter')}>
        {FILTERS.map((value) => (
          <button
            key={value || 'all'}
            type="button"
            role="tab"
            aria-selected={status === value}
            className={status === value ? 'tab active' : 'tab'}
            onClick={() => setStatus(value)}
            data-testid={`journey-filter-${value || 'all'}`}
          >
            {value ? t(`status.${value}`) : t('journeys.all')}
          </button>
        ))}
      </div>
      <PagedTable
        list={list}
        empty={t('journeys.empty')}
        head={
          <>
            <th>{t('journeys.col.name')}</th>
            <th>{t('journeys.col.status')}</th>
            <th>{t('journeys.col.version')}</th>
            <th className="num">{t('journeys.col.entered')}</th>
            <th className="num">{t('journeys.col.active')}</th>
            <th className="num">{t('journeys.col.completed')}</th>
            <th>{t('journeys.col.updated')}</th>
            <th>
              <span className="visually-hidden">{t('journeys.col.actions')}</span>
            </th>
          </>
        }
        row={(journey) => (
          <tr key={journey.id} data-testid={`journey-row-${journey.id}`}>
            <td>
              <Link to={`/journeys/${journey.id}`} className="strong" data-testid={`journey-open-${journey.id}`}>
                {journey.name}
              </Link>
              {journey.description && <div className="muted small">{journey.description}</div>}
            </td>
            <td>
              <StatusBadge status={journey.status} />
            </td>
            <td>{journey.version === null ? '—' : t('journeys.versionN', { n: journey.version })}</td>
            <td className="num">{fmt.number(journey.entered)}</td>
            <td className="num">{fmt.number(journey.active)}</td>
            <td className="num">{fmt.number(journey.completed)}</td>
            <td title={fmt.dateTime(journey.updated_at)}>
              {fmt.relative(journey.updated_at)}
              {journey.updated_by && <div className="muted small">{journey.updated_by}</div>}
            </td>
            <td className="row-actions">
              {!readOnly && (
                <>
                  <button type="button" className="button small" onClick={() => setPrompt({ kind: 'rename', journey })} data-testid={`journey-rename-${journey.id}`}>
                    {t('journeys.rename')}
                  </button>
                  <button type="button" className="button small" onClick={() => setPrompt({ kind: 'duplicate', journey })} data-testid={`journey-duplicate-${journey.id}`}>
                    {t('journeys.duplicate')}
                  </button>
                  {journey.status === 'published' && (
                    <button type="button" className="button small" onClick={() => void act(journey, 'pause')} data-testid={`journey-pause-${journey.id}`}>
                      {t('journeys.pause')}
                    </button>
                  )}
                  {journey.status === 'paused' && (
                    <button type="button" className="button small" onClick={() => void act(journey, 'resume')} data-testid={`journey-resume-${journey.id}`}>
                      {t('journeys.resume')}
                    </button>
                  )}
                  {journey.status !== 'archived' && (
                    <button type="button" className="button small danger" onClick={() => void act(journey, 'archive')} data-testid={`journey-archive-${journey.id}`}>
                      {t('journeys.archive')}
                    </button>
                  )}
                </>
              )}
            </td>
          </tr>
        )}
      />
      {prompt?.kind === 'create' && (
        <PromptDialog
          title={t('journeys.createTitle')}
          label={t('journeys.name')}
          confirm={t('journeys.create')}
          testId="journey-create-dialog"
          onClose={() => setPrompt(null)}
          onConfirm={async (name) => {
            const created = await journeys.create(name);
            navigate(`/journeys/${created.id}`);
          }}
        />
      )}
      {prompt?.kind === 'rename' && (
        <PromptDialog
          title={t('journeys.renameTitle')}
          label={t('journeys.name')}
          initial={prompt.journey.name}
          confirm={t('common.save')}
          testId="journey-rename-dialog"
          onClose={() => setPrompt(null)}
          onConfirm={async (name) => {
            await journeys.rename(prompt.journey.id, name);
            list.reload();
          }}
        />
      )}
      {prompt?.kind === 'duplicate' && (
        <PromptDialog
          title={t('journeys.duplicateTitle')}
          label={t('journeys.name')}
          initial={t('journeys.copyOf', { name: prompt.journey.name })}
          confirm={t('journeys.duplicate')}
          testId="journey-duplicate-dialog"
          onClose={() => setPrompt(null)}
          onConfirm={async (name) => {
            await journeys.duplicate(prompt.journey.id, name);
            toast(t('journeys.done.duplicate', { name }));
            list.reload();
          }}
        />
      )}
    </main>
  );
}
