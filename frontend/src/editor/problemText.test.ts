import i18n from 'i18next';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BlockType } from '../api/types';
import { initI18n, setLanguage } from '../i18n';
import { blockType } from '../test/fixtures';
import { problemText } from './problemText';

beforeAll(async () => {
  await initI18n();
  await setLanguage('zh-CN');
});

const t = (...args: Parameters<typeof i18n.t>) => i18n.t(...args);
const text = (message: string, code?: string, block?: BlockType) => problemText(t as typeof i18n.t, { message, code }, block);

describe('problemText (zh-CN)', () => {
  it('translates graph problems by code', () => {
    expect(text('the journey is empty; add a trigger', 'no_trigger')).toBe('旅程是空的：请添加一个“开始条件”模块。');
    expect(text('the journey has no trigger; add one so contacts can enter', 'no_trigger')).toBe('旅程没有“开始条件”模块，联系人无法进入。');
    expect(text("block 'tag_1' cannot be reached from any trigger", 'unreachable')).toBe('没有任何“开始条件”模块通向此模块。');
    expect(text("port 'timeout' of block 'wait_event_1' is already connected", 'port_reused')).toBe('出口“超时”被连接了两次。');
    expect(text('these blocks form a loop with no wait in it: a → b', 'loop_without_wait')).toBe('这些模块构成了一个没有等待的循环：a → b');
    expect(text("unknown block type 'acme.gone'", 'unknown_type')).toBe('未知的模块类型“acme.gone”');
  });

  it('translates the generic config checks by their wording', () => {
    expect(text('Object missing required field `template`', 'bad_config')).toBe('必填。');
    expect(text('Expected `str` of length >= 1', 'bad_config')).toBe('至少需要 1 个字符。');
    expect(text('Expected `array` of length >= 2', 'bad_config')).toBe('至少需要 2 项。');
    expect(text("Expected `str` matching regex '^#'", 'bad_config')).toBe('格式不正确。');
    expect(text('Expected `int` >= 0', 'bad_config')).toBe('不能小于 0。');
    expect(text('Expected `int`, got `str`', 'bad_config')).toBe('此处的值无效。');
  });

  it("uses the block type's own translations, and keeps what it cannot translate", () => {
    const block = { ...blockType('wait.event'), problems: { 'the timeout must be longer than zero': '超时时间必须大于零' } };
    expect(text('the timeout must be longer than zero', 'bad_config', block)).toBe('超时时间必须大于零');
    expect(text('something new the SPA has never heard of', 'bad_config', block)).toBe('something new the SPA has never heard of');
  });
});
