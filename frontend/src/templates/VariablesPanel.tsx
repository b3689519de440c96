/** What a template can use, grouped: click one to insert `{{ … }}` where the caret was last. */
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Vocabulary } from '../api/types';
import { matchesQuery, normaliseQuery } from '../components/search';
import { toast } from '../components/toast';
import { insertText } from './insert';
import { TIcon } from './TIcon';

interface Variable {
  path: string;
  /** The filter a marketer wants most of the time (dates). */
  filter?: string;
}

const CONTACT_FIELDS = ['email', 'phone', 'external_id', 'locale', 'timezone'];
const SUBSCRIPTION_FIELDS: Variable[] = [
  { path: 'subscription.name' },
  { path: 'subscription.status' },
  { path: 'subscription.end_at', filter: 'date' },
  { path: 'subscription.start_at', filter: 'date' },
  { path: 'subscription.auto_renew' },
];
const OTHER: Variable[] = [{ path: 'event.name' }, { path: 'now', filter: 'date' }, { path: 'message.id' }];

/** `{{ contact.first_name }}`, `{{ subscription.end_at | date }}`. */
export function expression(variable: Variable): string {
  return `{{ ${variable.path}${variable.filter ? ` | ${variable.filter}` : ''} }}`;
}

/** Attribute names that are valid Jinja names go as `contact.name`, others as `contact.attributes["…"]`. */
export function attributePath(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `contact.${name}` : `contact.attributes[${JSON.stringify(name)}]`;
}

export function VariablesPanel({ vocabulary }: { vocabulary: Vocabulary | null }) {
  const { t } = useTranslation();
  const [filter, setFilter] = useState('');
  const [property, setProperty] = useState('');
  const attributes = (vocabulary?.attributes ?? []).filter((a) => !CONTACT_FIELDS.includes(a));
  const groups: { title: string; items: Variable[] }[] = [
    { title: t('vars.contact'), items: [...attributes.map((a) => ({ path: attributePath(a) })), ...CONTACT_FIELDS.map((f) => ({ path: `contact.${f}` }))] },
    { title: t('vars.subscription'), items: SUBSCRIPTION_FIELDS },
    { title: t('vars.other'), items: OTHER },
  ];
  const q = normaliseQuery(filter);

  const insert = (variable: Variable) => {
    const text = expression(variable);
    if (!insertText(text)) {
      void navigator.clipboard?.writeText(text).catch(() => undefined);
      toast(t('vars.copied', { text }));
    }
  };

  return (
    <aside className="variables-panel" data-testid="variables-panel" aria-label={t('vars.title')}>
      <h2 className="panel-title">
        <TIcon name="braces" size={14} />
        {t('vars.title')}
      </h2>
      <p className="small muted">{t('vars.hint')}</p>
      <input className="input small" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder={t('vars.filter')} aria-label={t('vars.filter')} data-testid="variables-filter" />
      {groups.map((group) => {
        const items = group.items.filter((v) => matchesQuery(q, v.path));
        if (!items.length) return null;
        return (
          <div key={group.title} className="var-group">
            <h3>{group.title}</h3>
            <ul>
              {items.map((v) => (
                <li key={v.path}>
                  {/* mousedown would move the focus away from the field the variable goes into */}
                  <button type="button" className="var-item" onMouseDown={(e) => e.preventDefault()} onClick={() => insert(v)} title={expression(v)} data-testid={`variable-${v.path}`}>
                    {v.path.replace(/^contact\.attributes\[/, 'contact[')}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        );
      })}
      <div className="var-group">
        <h3>{t('vars.event')}</h3>
        {vocabulary?.events.length ? <p className="small muted">{t('vars.eventHint', { events: vocabulary.events.slice(0, 3).join(', ') })}</p> : null}
        <form
          className="var-custom"
          onSubmit={(e) => {
            e.preventDefault();
            const name = property.trim();
            if (name) insert({ path: /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `event.properties.${name}` : `event.properties[${JSON.stringify(name)}]` });
          }}
        >
          <input className="input small" value={property} onChange={(e) => setProperty(e.target.value)} placeholder={t('vars.propertyPlaceholder')} aria-label={t('vars.property')} data-testid="variables-event-property" />
          <button type="submit" className="button small" onMouseDown={(e) => e.preventDefault()} disabled={!property.trim()} data-testid="variables-event-insert">
            {t('vars.insert')}
          </button>
        </form>
      </div>
      <details className="var-help">
        <summary>{t('vars.helpTitle')}</summary>
        <ul className="small">
          <li>
            <code>{"{{ contact.first_name | default('friend') }}"}</code> — {t('vars.helpDefault')}
          </li>
          <li>
            <code>{'{{ subscription.end_at | date }}'}</code> — {t('vars.helpDate')}
          </li>
          <li>
            <code>{"{{ 19.9 | currency('EUR') }}"}</code> — {t('vars.helpCurrency')}
          </li>
          <li>
            <code>{'{% if contact.vip %}…{% endif %}'}</code> — {t('vars.helpIf')}
          </li>
        </ul>
      </details>
    </aside>
  );
}
