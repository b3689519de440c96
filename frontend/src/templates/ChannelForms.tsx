/** The per-channel forms of the template editor (e-mail's header fields, SMS, WeChat, push). */
import { lazy, Suspense, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { EmailBody, PushBody, SmsBody, TemplateProblem, WechatBody } from '../api/types';
import { Loading } from '../components/States';
import { starterDoc } from './composer/doc';
import { readMjml } from './composer/mjml';
import { Composer } from './Composer';
import { JinjaField, ProblemList, problemsAt } from './JinjaField';
import { SegmentInfo } from './PreviewPane';
import { countSegments } from './segments';
import { templateStore, useTemplateEditor } from './store';
import { TIcon } from './TIcon';

// CodeMirror loads only when the code view opens.
const CodeView = lazy(() => import('./CodeView'));

/** The texts of a new e-mail, with the contact's first name as a variable. */
export function starterTexts(t: (key: string, options?: Record<string, unknown>) => string) {
  const name = `{{ contact.first_name | default('${t('composer.starterFriend').replace(/'/g, '')}') }}`;
  return { heading: t('composer.starterHeading', { name }), body: t('composer.starterBody'), button: t('composer.starterButton') };
}

const at = (problems: TemplateProblem[], pointer: string) => problemsAt(problems, `/draft${pointer}`);

export function EmailForm() {
  const { t } = useTranslation();
  const body = useTemplateEditor((s) => s.draft.email) ?? {};
  const problems = useTemplateEditor((s) => s.problems);
  const view = useTemplateEditor((s) => s.view);
  const codeOnly = useTemplateEditor((s) => s.codeOnly);
  const set = (patch: Partial<EmailBody>) => templateStore.getState().setChannel('email', { ...templateStore.getState().draft.email, ...patch });
  const [blocked, setBlocked] = useState(false);

  const toVisual = () => {
    if (!templateStore.getState().setView('visual')) setBlocked(true);
  };
  const hasComposerDoc = readMjml(body.mjml ?? '') !== null;

  return (
    <div className="channel-form" data-testid="email-form">
      <div className="email-header-fields">
        <JinjaField label={t('tpl.sender')} value={body.sender ?? ''} placeholder={t('tpl.senderPlaceholder')} onChange={(v) => set({ sender: v })} problems={at(problems, '/email/sender')} testId="email-sender" />
        <JinjaField label={t('tpl.subject')} value={body.subject ?? ''} onChange={(v) => set({ subject: v })} problems={at(problems, '/email/subject')} testId="email-subject" />
        <JinjaField label={t('tpl.preheader')} value={body.preheader ?? ''} onChange={(v) => set({ preheader: v })} problems={at(problems, '/email/preheader')} testId="email-preheader" hint={t('tpl.preheaderHint')} />
      </div>
      <div className="email-view-bar">
        <div className="segmented compact" role="tablist" aria-label={t('tpl.emailView')}>
          <button type="button" role="tab" aria-selected={view === 'visual'} className={view === 'visual' ? 'active' : ''} onClick={toVisual} data-testid="email-view-visual">
            <TIcon name="layout" size={14} />
            {t('tpl.visual')}
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={view === 'code'}
            className={view === 'code' ? 'active' : ''}
            onClick={() => {
              setBlocked(false);
              templateStore.getState().setView('code');
            }}
            data-testid="email-view-code"
          >
            <TIcon name="code" size={14} />
            {t('tpl.code')}
          </button>
        </div>
        {view === 'visual' && <UndoRedo />}
      </div>
      {view === 'code' && codeOnly && (
        <div className={`notice${blocked ? ' warn' : ''}`} data-testid="code-only-notice">
          <p>{hasComposerDoc ? t('tpl.codeEdited') : t('tpl.codeHandwritten')}</p>
          {hasComposerDoc ? (
            <button
              type="button"
              className="button small"
              onClick={() => {
                if (window.confirm(t('tpl.discardConfirm'))) templateStore.getState().discardCode();
              }}
              data-testid="code-discard"
            >
              {t('tpl.discardCode')}
            </button>
          ) : (
            <button
              type="button"
              className="button small"
              onClick={() => {
                if (!body.mjml?.trim() || window.confirm(t('tpl.startVisualConfirm')))
                  templateStore.getState().startVisual(starterDoc(starterTexts(t)));
              }}
              data-testid="code-start-visual"
            >
              {t('tpl.startVisual')}
            </button>
          )}
        </div>
      )}
      {view === 'visual' ? (
        <Composer />
      ) : (
        <Suspense fallback={<Loading />}>
          <CodeView />
        </Suspense>
      )}
    </div>
  );
}

function UndoRedo() {
  const { t } = useTranslation();
  const canUndo = useTemplateEditor((s) => s.past.length > 0);
  const canRedo = useTemplateEditor((s) => s.future.length > 0);
  const { undo, redo } = templateStore.getState();
  return (
    <span className="toolbar-group plain">
      <button type="button" className="icon-button" onClick={undo} disabled={!canUndo} aria-label={t('editor.undo')} title={t('editor.undo')} data-testid="composer-undo">
        <TIcon name="undo" />
      </button>
      <button type="button" className="icon-button" onClick={redo} disabled={!canRedo} aria-label={t('editor.redo')} title={t('editor.redo')} data-testid="composer-redo">
        <TIcon name="redo" />
      </button>
    </span>
  );
}

export function SmsForm() {
  const { t } = useTranslation();
  const body: SmsBody = useTemplateEditor((s) => s.draft.sms) ?? {};
  const problems = useTemplateEditor((s) => s.problems);
  const text = body.text ?? '';
  const count = countSegments(text);
  return (
    <div className="channel-form" data-testid="sms-form">
      <JinjaField
        label={t('sms.text')}
        value={text}
        onChange={(v) => templateStore.getState().setChannel('sms', { ...body, text: v })}
        multiline
        rows={6}
        problems={at(problems, '/sms/text')}
        testId="sms-text"
        extra={<SegmentInfo count={count} testId="sms-segments" />}
        hint={t('sms.hint')}
      />
    </div>
  );
}

export function PushForm() {
  const { t } = useTranslation();
  const body: PushBody = useTemplateEditor((s) => s.draft.push) ?? {};
  const problems = useTemplateEditor((s) => s.problems);
  const set = (patch: Partial<PushBody>) => templateStore.getState().setChannel('push', { ...body, ...patch });
  return (
    <div className="channel-form" data-testid="push-form">
      <JinjaField label={t('push.title')} value={body.title ?? ''} onChange={(v) => set({ title: v })} problems={at(problems, '/push/title')} testId="push-title" />
      <JinjaField label={t('push.body')} value={body.body ?? ''} onChange={(v) => set({ body: v })} multiline rows={3} problems={at(problems, '/push/body')} testId="push-body" />
      <JinjaField label={t('push.image')} value={body.image ?? ''} placeholder="https://…" onChange={(v) => set({ image: v })} problems={at(problems, '/push/image')} testId="push-image" />
      <JinjaField label={t('push.link')} value={body.link ?? ''} placeholder="https://… / app://…" onChange={(v) => set({ link: v })} problems={at(problems, '/push/link')} testId="push-link" hint={t('push.linkHint')} />
    </div>
  );
}

export function WechatForm() {
  const { t } = useTranslation();
  const body: WechatBody = useTemplateEditor((s) => s.draft.wechat) ?? {};
  const problems = useTemplateEditor((s) => s.problems);
  const set = (patch: Partial<WechatBody>) => templateStore.getState().setChannel('wechat', { ...templateStore.getState().draft.wechat, ...patch });
  const fields = Object.entries(body.fields ?? {});
  const [newName, setNewName] = useState('');
  const mode = body.miniprogram ? 'miniprogram' : 'url';

  const setFields = (entries: [string, string][]) => set({ fields: Object.fromEntries(entries) });
  const addField = (name: string) => {
    const key = name.trim();
    if (!key || (body.fields ?? {})[key] !== undefined) return;
    setFields([...fields, [key, '']]);
    setNewName('');
  };
  const nextKeyword = `keyword${fields.filter(([k]) => /^keyword\d+$/.test(k)).length + 1}`;

  return (
    <div className="channel-form" data-testid="wechat-form">
      <label className="field">
        <span className="field-label">{t('wechat.templateId')}</span>
        <input className="input mono" value={body.template_id ?? ''} onChange={(e) => set({ template_id: e.target.value })} data-testid="wechat-template-id" />
        <span className="field-hint">{t('wechat.templateIdHint')}</span>
      </label>
      <fieldset className="group">
        <legend className="field-label">{t('wechat.fields')}</legend>
        {fields.length === 0 && <p className="small muted">{t('wechat.noFields')}</p>}
        {fields.map(([name, value], index) => (
          <div key={name} className="wechat-field-row">
            <JinjaField
              label={name}
              value={value}
              onChange={(v) => setFields(fields.map(([k, old]) => [k, k === name ? v : old]))}
              problems={at(problems, `/wechat/fields/${name}`)}
              testId={`wechat-field-${name}`}
              extra={
                <span className="row-actions">
                  <button type="button" className="icon-button small" disabled={index === 0} onClick={() => setFields(fields.map((f, i) => (i === index - 1 ? fields[index]! : i === index ? fields[index - 1]! : f)))} aria-label={t('composer.moveUp')} title={t('composer.moveUp')}>
                    <TIcon name="chevron-up" size={14} />
                  </button>
                  <button type="button" className="icon-button small danger" onClick={() => setFields(fields.filter(([k]) => k !== name))} aria-label={t('wechat.removeField')} title={t('wechat.removeField')} data-testid={`wechat-field-${name}-remove`}>
                    <TIcon name="trash" size={14} />
                  </button>
                </span>
              }
            />
          </div>
        ))}
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            addField(newName || nextKeyword);
          }}
        >
          <input className="input small mono" value={newName} placeholder={nextKeyword} onChange={(e) => setNewName(e.target.value)} aria-label={t('wechat.fieldName')} data-testid="wechat-new-field" />
          <button type="submit" className="button small" data-testid="wechat-add-field">
            <TIcon name="plus" size={14} />
            {t('wechat.addField')}
          </button>
        </form>
        <p className="field-hint">{t('wechat.fieldsHint')}</p>
      </fieldset>
      <fieldset className="group">
        <legend className="field-label">{t('wechat.opens')}</legend>
        <div className="segmented compact" role="radiogroup">
          <button type="button" role="radio" aria-checked={mode === 'url'} className={mode === 'url' ? 'active' : ''} onClick={() => set({ miniprogram: null })} data-testid="wechat-mode-url">
            {t('wechat.webPage')}
          </button>
          <button type="button" role="radio" aria-checked={mode === 'miniprogram'} className={mode === 'miniprogram' ? 'active' : ''} onClick={() => set({ miniprogram: body.miniprogram ?? { appid: '', pagepath: '' } })} data-testid="wechat-mode-miniprogram">
            {t('wechat.miniProgram')}
          </button>
        </div>
        <JinjaField label={mode === 'url' ? t('wechat.url') : t('wechat.fallbackUrl')} value={body.url ?? ''} placeholder="https://…" onChange={(v) => set({ url: v })} problems={at(problems, '/wechat/url')} testId="wechat-url" />
        {body.miniprogram && (
          <>
            <label className="field">
              <span className="field-label">{t('wechat.appid')}</span>
              <input className="input mono" value={body.miniprogram.appid} onChange={(e) => set({ miniprogram: { ...body.miniprogram!, appid: e.target.value } })} data-testid="wechat-appid" />
            </label>
            <JinjaField label={t('wechat.pagepath')} value={body.miniprogram.pagepath ?? ''} placeholder="pages/index?id={{ contact.id }}" onChange={(v) => set({ miniprogram: { ...body.miniprogram!, pagepath: v } })} problems={at(problems, '/wechat/miniprogram/pagepath')} testId="wechat-pagepath" />
          </>
        )}
      </fieldset>
      <ProblemList problems={at(problems, '/wechat/template_id')} />
    </div>
  );
}
