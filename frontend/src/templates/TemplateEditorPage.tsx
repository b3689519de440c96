/** The template editor: one tab per channel, autosaved draft, variables, live server preview for a
 * contact, test sends, publishing (problems at their line and column) and versions. */
import { useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { catalog, templates } from '../api/endpoints';
import { type Channel, CHANNELS, type ContactSummary, type Template, type TemplateDraft, type TemplateProblem, type TestSendResult, type Vocabulary } from '../api/types';
import { Dialog } from '../components/Dialog';
import { SaveIndicator } from '../components/SaveIndicator';
import { Empty, ErrorNotice, Loading } from '../components/States';
import { toast } from '../components/toast';
import { useAsync } from '../components/useAsync';
import { VersionsDialog } from '../components/VersionsDialog';
import { EmailForm, PushForm, SmsForm, starterTexts, WechatForm } from './ChannelForms';
import { starterDoc } from './composer/doc';
import { ContactPicker, contactLabel, PreviewPane } from './PreviewPane';
import { templateStore, useTemplateEditor } from './store';
import { TIcon } from './TIcon';
import { useTemplateAutosave } from './useTemplateAutosave';
import { VariablesPanel } from './VariablesPanel';
import '../editor/editor.css';
import './templates.css';

const CHANNEL_ICONS: Record<Channel, string> = { email: 'mail', sms: 'message', wechat: 'message', push: 'bell' };

export default function TemplateEditorPage() {
  const { id = '' } = useParams();
  const template = useAsync(() => templates.get(id), [id]);
  const vocabulary = useAsync(() => catalog.vocabulary(), []);
  const [loadedId, setLoadedId] = useState<string | null>(null);

  useEffect(() => {
    if (!template.data || loadedId === id) return;
    templateStore.getState().load(template.data.draft ?? {});
    setLoadedId(id);
  }, [template.data, id, loadedId]);

  if (template.error) return <ErrorNotice error={template.error} onRetry={template.reload} />;
  if (!template.data || loadedId !== id) return <Loading />;
  return <Editor template={template.data} vocabulary={vocabulary.data ?? null} onChanged={template.reload} />;
}

/** Which tab a problem belongs to. */
const channelOf = (p: TemplateProblem): Channel | null => (CHANNELS.find((c) => p.pointer.startsWith(`/draft/${c}`)) ?? null);

function Editor({ template, vocabulary, onChanged }: { template: Template; vocabulary: Vocabulary | null; onChanged(): void }) {
  const { t } = useTranslation();
  const templateId = String(template.id);
  const save = useTemplateAutosave(templateId, template.revision);
  const draft = useTemplateEditor((s) => s.draft);
  const problems = useTemplateEditor((s) => s.problems);
  const present = CHANNELS.filter((c) => draft[c] !== undefined);
  const [channel, setChannel] = useState<Channel>(present[0] ?? 'email');
  const [contact, setContact] = useState<ContactSummary | null>(null);
  const [dialog, setDialog] = useState<'send' | 'versions' | null>(null);
  const [version, setVersion] = useState<number | null>(null);
  const [publishing, setPublishing] = useState(false);
  const [name, setName] = useState(template.name);
  const [tags, setTags] = useState(template.tags.join(', '));

  const hasChannel = draft[channel] !== undefined;
  const publishBlocked = problems.length > 0 || save.state !== 'saved' || present.length === 0 || publishing;

  // Name and tags only: no revision (the server checks and bumps it for drafts), and the answer's
  // revision is not taken over, so a draft saved elsewhere meanwhile still shows as a conflict.
  const saveMeta = async (patch: { name?: string; tags?: string[] }) => {
    try {
      await templates.save(templateId, patch);
    } catch (err) {
      toast((err as Error).message, 'error');
    }
  };

  const publish = async () => {
    setPublishing(true);
    try {
      await save.flush();
      const published = await templates.publish(templateId);
      toast(t('tpl.published', { n: published.number }));
      onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.problems.length) {
        const list = err.problems as TemplateProblem[];
        templateStore.getState().setProblems(list);
        const first = list.map(channelOf).find((c) => c !== null);
        if (first) setChannel(first);
        toast(t('tpl.publishFailed', { count: list.length }), 'error');
      } else toast((err as Error).message, 'error');
    } finally {
      setPublishing(false);
    }
  };

  const addChannel = (c: Channel) => {
    const store = templateStore.getState();
    if (c === 'email') {
      store.setChannel('email', {});
      store.startVisual(starterDoc(starterTexts(t)));
    } else store.setChannel(c, c === 'wechat' ? { template_id: '', fields: { first: '', keyword1: '', remark: '' } } : {});
  };

  return (
    <div className="editor template-editor" data-testid="template-editor">
      <div className="toolbar">
        <Link to="/templates" className="icon-button" aria-label={t('tpl.back')}>
          <TIcon name="arrow-left" />
        </Link>
        <div className="toolbar-title">
          <input
            className="title-input"
            value={name}
            onChange={(e) => setName(e.target.value)}
            onBlur={() => name.trim() && name.trim() !== template.name && void saveMeta({ name: name.trim() })}
            onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
            aria-label={t('templates.name')}
            data-testid="template-name"
          />
          <code className="key" title={t('templates.key')}>
            {template.key}
          </code>
          {template.version !== null ? (
            <span className="muted small">{t('tpl.liveVersion', { n: template.version })}</span>
          ) : (
            <span className="muted small">{t('templates.unpublished')}</span>
          )}
        </div>
        <SaveIndicator state={save.state} />
        <input
          className="input small tags-input"
          value={tags}
          placeholder={t('tpl.tags')}
          aria-label={t('tpl.tags')}
          onChange={(e) => setTags(e.target.value)}
          onBlur={() => void saveMeta({ tags: tags.split(',').map((s) => s.trim()).filter(Boolean) })}
          data-testid="template-tags"
        />
        <span className="spacer" />
        {problems.length > 0 && (
          <button
            type="button"
            className="button small warn"
            onClick={() => {
              const first = problems.map(channelOf).find((c) => c !== null);
              if (first) setChannel(first);
            }}
            data-testid="problem-count"
          >
            <TIcon name="alert" size={14} />
            {t('editor.problems', { count: problems.length })}
          </button>
        )}
        <button type="button" className="button" onClick={() => setDialog('versions')} data-testid="versions-button">
          <TIcon name="history" />
          {t('editor.versions')}
        </button>
        <button type="button" className="button primary" onClick={() => void publish()} disabled={publishBlocked} title={problems.length ? t('editor.publishBlocked') : undefined} data-testid="publish-button">
          {t('editor.publish')}
        </button>
      </div>
      <div className="template-body">
        <VariablesPanel vocabulary={vocabulary ?? null} />
        <main className="template-main">
          <div className="tabs channel-tabs" role="tablist" aria-label={t('tpl.channels')}>
            {CHANNELS.map((c) => {
              const count = problems.filter((p) => channelOf(p) === c).length;
              return (
                <button
                  key={c}
                  type="button"
                  role="tab"
                  aria-selected={channel === c}
                  className={`tab${channel === c ? ' active' : ''}${draft[c] === undefined ? ' absent' : ''}`}
                  onClick={() => setChannel(c)}
                  data-testid={`channel-tab-${c}`}
                >
                  <TIcon name={CHANNEL_ICONS[c]} size={14} />
                  {t(`channel.${c}`)}
                  {count > 0 && <span className="badge-count">{count}</span>}
                </button>
              );
            })}
          </div>
          {!hasChannel ? (
            <div className="channel-empty">
              <Empty message={t('tpl.noChannel', { channel: t(`channel.${channel}`) })} />
              <button type="button" className="button primary" onClick={() => addChannel(channel)} data-testid={`channel-add-${channel}`}>
                <TIcon name="plus" />
                {t('tpl.addChannel', { channel: t(`channel.${channel}`) })}
              </button>
            </div>
          ) : (
            <>
              {channel === 'email' && <EmailForm />}
              {channel === 'sms' && <SmsForm />}
              {channel === 'wechat' && <WechatForm />}
              {channel === 'push' && <PushForm />}
              <div className="channel-remove">
                <button
                  type="button"
                  className="button small ghost danger"
                  onClick={() => window.confirm(t('tpl.removeChannelConfirm', { channel: t(`channel.${channel}`) })) && templateStore.getState().setChannel(channel, null)}
                  data-testid={`channel-remove-${channel}`}
                >
                  <TIcon name="trash" size={14} />
                  {t('tpl.removeChannel', { channel: t(`channel.${channel}`) })}
                </button>
              </div>
            </>
          )}
        </main>
        {hasChannel ? (
          <PreviewPane
            templateId={templateId}
            channel={channel}
            draft={draft}
            contact={contact}
            onContact={setContact}
            onSendTest={() => setDialog('send')}
            smsSource={draft.sms?.text ?? ''}
            version={version}
            onVersion={setVersion}
          />
        ) : (
          <aside className="preview-pane" />
        )}
      </div>
      {dialog === 'send' && (
        <SendTestDialog
          templateId={templateId}
          channel={channel}
          contact={contact}
          onClose={() => setDialog(null)}
          beforeSend={save.flush}
        />
      )}
      {dialog === 'versions' && (
        <TemplateVersionsDialog
          templateId={templateId}
          onClose={() => setDialog(null)}
          onPreview={(n) => {
            setVersion(n);
            setDialog(null);
          }}
          onRestore={(channels) => {
            const seq = templateStore.getState().changeSeq;
            templateStore.getState().load(channels);
            templateStore.setState({ changeSeq: seq + 1 });
            setDialog(null);
            toast(t('tpl.restored'));
          }}
        />
      )}
    </div>
  );
}

const ADDRESS_HINT: Record<Channel, string> = { email: 'name@example.com', sms: '+48600100200', wechat: 'oAbc…', push: '{"endpoint": …}' };

function SendTestDialog({ templateId, channel, contact: initial, onClose, beforeSend }: { templateId: string; channel: Channel; contact: ContactSummary | null; onClose(): void; beforeSend(): Promise<void> }) {
  const { t } = useTranslation();
  const [contact, setContact] = useState<ContactSummary | null>(initial);
  const [to, setTo] = useState(channel === 'email' ? (initial?.email ?? '') : channel === 'sms' ? (initial?.phone ?? '') : '');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<TestSendResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const toId = useId();
  const canSend = Boolean(to.trim() || contact);

  const send = async () => {
    if (!canSend) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      await beforeSend();
      let address: string | Record<string, unknown> | undefined = to.trim() || undefined;
      if (address && channel === 'push' && address.startsWith('{')) address = JSON.parse(address) as Record<string, unknown>;
      const sent = await templates.testSend(templateId, { channel, contact_id: contact?.id, to: address });
      setResult(sent);
      if (sent.status === 'sent') toast(t('sendTest.sent', { to: to.trim() || (contact ? contactLabel(contact) : '') }));
    } catch (err) {
      setError(err instanceof ApiError && err.problems.length ? err.problems.map((p) => p.message).join('; ') : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      title={t('sendTest.title', { channel: t(`channel.${channel}`) })}
      onClose={onClose}
      onSubmit={() => void send()}
      testId="send-test-dialog"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.close')}
          </button>
          <button type="submit" className="button primary" disabled={busy || !canSend} data-testid="send-test-dialog-confirm">
            <TIcon name="send" size={14} />
            {busy ? t('sendTest.sending') : t('sendTest.send')}
          </button>
        </>
      }
    >
      <p className="small muted">{t('sendTest.explain')}</p>
      <label className="field-label" htmlFor={toId}>
        {t(`sendTest.to.${channel}`)}
      </label>
      <input id={toId} className="input" value={to} placeholder={ADDRESS_HINT[channel]} onChange={(e) => setTo(e.target.value)} autoFocus data-testid="send-test-to" />
      <div className="field-label" style={{ marginTop: 12 }}>
        {t('sendTest.dataOf')}
      </div>
      <ContactPicker contact={contact} onChange={setContact} testId="send-test-contact" />
      {result && (
        <p className={result.status === 'sent' ? 'ok-text' : 'form-error'} role="status" data-testid="send-test-result" data-status={result.status}>
          {result.status === 'sent' ? t('sendTest.done') : t(`sendTest.status.${result.status}`, { error: result.error ?? '' })}
          {result.missing && result.missing.length > 0 && <span className="muted"> · {t('preview.missing', { count: result.missing.length })} {result.missing.join(', ')}</span>}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="send-test-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}

function TemplateVersionsDialog({ templateId, onClose, onPreview, onRestore }: { templateId: string; onClose(): void; onPreview(n: number): void; onRestore(channels: TemplateDraft): void }) {
  const { t } = useTranslation();
  const versions = useAsync(() => templates.versions(templateId, true), [templateId]);
  return (
    <VersionsDialog
      versions={versions}
      publishedAt={(v) => v.created_at}
      columns={
        <>
          <th>{t('templates.col.channels')}</th>
          <th />
        </>
      }
      cells={(v) => (
        <>
          <td>{CHANNELS.filter((c) => v.channels?.[c]).map((c) => t(`channel.${c}`)).join(', ')}</td>
          <td className="row-actions">
            <button type="button" className="button small" onClick={() => onPreview(v.number)} data-testid={`version-${v.number}-preview`}>
              {t('tpl.previewVersion')}
            </button>
            {v.channels && (
              <button type="button" className="button small" onClick={() => window.confirm(t('tpl.restoreConfirm', { n: v.number })) && onRestore(v.channels!)} data-testid={`version-${v.number}-restore`}>
                {t('tpl.restore')}
              </button>
            )}
          </td>
        </>
      )}
      onClose={onClose}
    />
  );
}
