/** Messages that did not go out — failed, unknown (the provider may or may not have delivered) and
 * skipped (no consent, no address) — with their reasons; filter by channel and status, select, retry. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { messages } from '../api/endpoints';
import type { Message, MessageStatus } from '../api/types';
import { Icon } from '../components/Icon';
import { PagedTable } from '../components/PagedTable';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { usePaged } from '../components/usePaged';
import { useFormat } from '../i18n/format';
import '../templates/templates.css';

const PROBLEM_STATUSES: MessageStatus[] = ['failed', 'unknown', 'skipped'];
const ALL_STATUSES: MessageStatus[] = ['failed', 'unknown', 'skipped', 'pending', 'sending', 'sent'];
const CHANNELS = ['', 'email', 'sms', 'wechat', 'push', 'webhook'] as const;
const RETRYABLE = new Set<string>(PROBLEM_STATUSES);
/** The default filter: every status that did not go out. */
const PROBLEMS = PROBLEM_STATUSES.join(',');

export function contactText(m: Message): string {
  const c = m.contact;
  if (typeof c === 'string') return c;
  return c?.email || c?.phone || c?.external_id || (m.contact_id ? `#${m.contact_id}` : '—');
}

export default function MessagesPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const [status, setStatus] = useState<string>(PROBLEMS);
  const [channel, setChannel] = useState<string>('');
  const list = usePaged((cursor) => messages.list({ status, channel, cursor }), [status, channel]);
  const counts = useAsync(() => messages.counts(), [list.items.length]);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState(false);

  const retryable = list.items.filter((m) => RETRYABLE.has(m.status));
  const allSelected = retryable.length > 0 && retryable.every((m) => selected.has(m.id));
  const toggle = (id: number) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const retry = async (ids: number[]) => {
    if (!ids.length) return;
    setBusy(true);
    try {
      const result = await messages.retry(ids);
      toast(t('messages.retried', { count: result.retried.length }));
      for (const r of result.not_retried) toast(t('messages.notRetried', { id: r.id, reason: r.reason }), 'error');
      setSelected(new Set());
      list.reload();
      counts.reload();
    } catch (err) {
      toast((err as Error).message, 'error');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="page messages-page" data-testid="messages-page">
      <div className="page-header">
        <h1>{t('messages.title')}</h1>
        <button type="button" className="button" onClick={list.reload} data-testid="messages-refresh">
          <Icon name="history" />
          {t('common.refresh')}
        </button>
      </div>
      <p className="muted">{t('messages.intro')}</p>
      <div className="filters">
        <div className="tabs small" role="tablist" aria-label={t('messages.status')}>
          <button type="button" role="tab" aria-selected={status === PROBLEMS} className={`tab${status === PROBLEMS ? ' active' : ''}`} onClick={() => setStatus(PROBLEMS)} data-testid="messages-filter-problems">
            {t('messages.problems')}
          </button>
          {ALL_STATUSES.map((s) => (
            <button key={s} type="button" role="tab" aria-selected={status === s} className={`tab${status === s ? ' active' : ''}`} onClick={() => setStatus(s)} data-testid={`messages-filter-${s}`}>
              {t(`messages.statuses.${s}`)}
              {counts.data && counts.data[s] !== undefined && <span className="badge-count neutral">{fmt.number(counts.data[s])}</span>}
            </button>
          ))}
        </div>
        <label className="mini-field inline">
          <span>{t('messages.channel')}</span>
          <select className="select" value={channel} onChange={(e) => setChannel(e.target.value)} data-testid="messages-channel">
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {c ? t(`providers.channel.${c}`) : t('messages.allChannels')}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="bulk-bar">
        <span className="small muted">{t('messages.selected', { count: selected.size })}</span>
        <button type="button" className="button small primary" disabled={busy || selected.size === 0} onClick={() => void retry([...selected])} data-testid="messages-retry-selected">
          <Icon name="redo" size={14} />
          {t('messages.retrySelected')}
        </button>
      </div>
      <PagedTable
        list={list}
        empty={status === PROBLEMS && !channel ? t('messages.empty') : t('messages.emptyFilter')}
        head={
          <>
            <th>
              <input
                type="checkbox"
                checked={allSelected}
                disabled={retryable.length === 0}
                onChange={() => setSelected(allSelected ? new Set() : new Set(retryable.map((m) => m.id)))}
                aria-label={t('messages.selectAll')}
                data-testid="messages-select-all"
              />
            </th>
            <th>{t('messages.col.status')}</th>
            <th>{t('messages.col.channel')}</th>
            <th>{t('messages.col.contact')}</th>
            <th>{t('messages.col.template')}</th>
            <th>{t('messages.col.reason')}</th>
            <th className="num">{t('messages.col.attempts')}</th>
            <th>{t('messages.col.created')}</th>
            <th />
          </>
        }
        row={(m) => (
          <tr key={m.id} data-testid={`message-row-${m.id}`} data-status={m.status}>
            <td>
              <input type="checkbox" checked={selected.has(m.id)} disabled={!RETRYABLE.has(m.status)} onChange={() => toggle(m.id)} aria-label={t('messages.select', { id: m.id })} data-testid={`message-select-${m.id}`} />
            </td>
            <td>
              <span className={`badge message-${m.status}`}>{t(`messages.statuses.${m.status}`, { defaultValue: m.status })}</span>
              {m.test && <span className="chip small">{t('messages.test')}</span>}
            </td>
            <td>{t(`providers.channel.${m.channel}`, { defaultValue: m.channel })}</td>
            <td>{m.contact_id ? <Link to={`/contacts/${m.contact_id}`}>{contactText(m)}</Link> : contactText(m)}</td>
            <td>{m.template ? <Link to={`/templates/key/${encodeURIComponent(m.template)}`}>{m.template}</Link> : m.journey_id ? <Link to={`/journeys/${m.journey_id}`}>{m.node_id ?? '—'}</Link> : '—'}</td>
            <td className="reason" data-testid={`message-reason-${m.id}`}>
              {m.reason ?? '—'}
              {m.next_attempt_at && m.status === 'pending' && <div className="small muted">{t('messages.nextAttempt', { when: fmt.relative(m.next_attempt_at) })}</div>}
            </td>
            <td className="num">{fmt.number(m.attempts)}</td>
            <td title={fmt.dateTime(m.created_at)}>{fmt.relative(m.created_at)}</td>
            <td className="row-actions">
              {RETRYABLE.has(m.status) && (
                <button type="button" className="button small" disabled={busy} onClick={() => void retry([m.id])} data-testid={`message-retry-${m.id}`}>
                  {t('messages.retry')}
                </button>
              )}
            </td>
          </tr>
        )}
      />
    </main>
  );
}
