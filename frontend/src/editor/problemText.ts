/** The server's validation problems in the user's language. The server words them in English with a
 * stable `code`; graph problems (no trigger, unreachable block, loops, ports) and the generic config
 * checks (required, lengths, patterns, ranges, types) are translated here by code and shape. A block's
 * own rules ("urgent messages must mention @here") come translated from the block type itself
 * (`problems`: English wording → text, from `GET /api/block-types?locale=`); anything else is shown as
 * the server wrote it. */
import type { TFunction } from 'i18next';
import type { BlockType } from '../api/types';

export interface ProblemLike {
  message: string;
  code?: string;
}

const quoted = (message: string, before: string) => new RegExp(`${before} '([^']*)'`).exec(message)?.[1] ?? '';

export function problemText(t: TFunction, problem: ProblemLike, blockType?: BlockType): string {
  const { message, code } = problem;
  const port = (name: string) => t(`ports.${name}`, { defaultValue: name });
  switch (code) {
    case 'no_trigger':
      return message.includes('empty') ? t('problems.empty') : t('problems.noTrigger');
    case 'unreachable':
      return t('problems.unreachable');
    case 'loop_without_wait':
      return t('problems.loopWithoutWait', { blocks: message.split(': ').slice(1).join(': ') });
    case 'port_reused':
      return t('problems.portReused', { port: port(quoted(message, 'port')) });
    case 'bad_port':
      return t('problems.badPort', { port: port(quoted(message, 'output port')) });
    case 'bad_target':
      return t('problems.badTarget');
    case 'dangling':
      return t('problems.dangling');
    case 'duplicate_id':
      return t('problems.duplicateId', { id: quoted(message, 'id') });
    case 'unknown_type':
      return t('editor.unknownBlock', { type: quoted(message, 'type') });
    case 'unknown_version':
      return t('problems.unknownVersion');
  }
  return configProblemText(t, message) ?? blockType?.problems?.[message] ?? message;
}

/** msgspec's wording of a value that does not fit the schema, and the server's settings checks. */
function configProblemText(t: TFunction, message: string): string | null {
  let m: RegExpExecArray | null;
  if (/^Object missing required field /.test(message)) return t('form.error.required');
  if ((m = /^Expected `(\w+)` of length >= (\d+)/.exec(message))) {
    return m[1] === 'str' ? t('form.error.minLength', { limit: Number(m[2]) }) : t('problems.minItems', { limit: Number(m[2]) });
  }
  if ((m = /^Expected `(\w+)` of length <= (\d+)/.exec(message))) {
    return m[1] === 'str' ? t('form.error.maxLength', { limit: Number(m[2]) }) : t('problems.maxItems', { limit: Number(m[2]) });
  }
  if (/^Expected `str` matching regex /.test(message)) return t('form.error.pattern');
  if ((m = /^Expected `(?:int|float|number)` >= (-?[\d.]+)/.exec(message))) return t('form.error.min', { limit: Number(m[1]) });
  if ((m = /^Expected `(?:int|float|number)` <= (-?[\d.]+)/.exec(message))) return t('form.error.max', { limit: Number(m[1]) });
  if ((m = /^Expected `(?:int|float|number)` > (-?[\d.]+)/.exec(message))) return t('problems.above', { limit: Number(m[1]) });
  if ((m = /^Expected `(?:int|float|number)` < (-?[\d.]+)/.exec(message))) return t('problems.below', { limit: Number(m[1]) });
  if (/^Expected `int`, got `float`/.test(message)) return t('form.error.integer');
  if (/^Expected `\w+`, got `\w+`/.test(message) || /^Invalid (enum )?value/.test(message)) return t('problems.invalidValue');
  if (/^Object contains unknown field /.test(message)) return t('problems.unknownField', { field: /`([^`]*)`/.exec(message)?.[1] ?? '' });
  if (/^unknown timezone /.test(message)) return t('problems.unknownTimezone');
  return null;
}
