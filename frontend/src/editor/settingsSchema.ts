/** The journey settings (DESIGN.md `settings`) as a JSON Schema, so they render through the same form
 * renderer as block configs. Titles are translated here; the shape mirrors backend/engine/graph.py. */
import type { TFunction } from 'i18next';
import type { JsonSchema } from '../schema-form/schema';

const HHMM = '^([01]\\d|2[0-3]):[0-5]\\d$';

export function settingsSchema(t: TFunction): JsonSchema {
  return {
    type: 'object',
    properties: {
      reentry: {
        title: t('settings.reentry'),
        enum: ['never', 'after_exit', 'always'],
        default: 'never',
        'x-enum-labels': {
          never: t('settings.reentryNever'),
          after_exit: t('settings.reentryAfterExit'),
          always: t('settings.reentryAlways'),
        },
      },
      goal: {
        title: t('settings.goal'),
        description: t('settings.goalHint'),
        anyOf: [
          {
            type: 'object',
            properties: {
              event: { title: t('settings.goalEvent'), type: 'string', minLength: 1, 'x-source': 'events' },
              exit: { title: t('settings.goalExit'), type: 'boolean', default: true },
            },
            required: ['event'],
          },
          { type: 'null' },
        ],
        default: null,
      },
      exit_when: {
        title: t('settings.exitWhen'),
        description: t('settings.exitWhenHint'),
        type: 'array',
        items: { type: 'string', minLength: 1, 'x-source': 'events' },
        default: [],
      },
      timezone: { title: t('settings.timezone'), description: t('settings.timezoneHint'), type: 'string', default: 'contact' },
      quiet_hours: {
        title: t('settings.quietHours'),
        description: t('settings.quietHoursHint'),
        anyOf: [
          {
            type: 'object',
            properties: {
              start: { title: t('settings.quietStart'), type: 'string', pattern: HHMM },
              end: { title: t('settings.quietEnd'), type: 'string', pattern: HHMM },
            },
            required: ['start', 'end'],
          },
          { type: 'null' },
        ],
        default: null,
      },
      frequency_cap: {
        title: t('settings.frequencyCap'),
        anyOf: [
          {
            type: 'object',
            properties: {
              messages: { title: t('settings.capMessages'), type: 'integer', minimum: 1, default: 1 },
              per: { title: t('settings.capPer'), type: 'string', format: 'duration', default: 'P1D' },
            },
            required: ['messages', 'per'],
          },
          { type: 'null' },
        ],
        default: null,
      },
      control_group_percent: { title: t('settings.controlGroup'), type: 'number', minimum: 0, maximum: 100, default: 0 },
    },
  };
}
