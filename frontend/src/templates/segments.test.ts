import { describe, expect, it } from 'vitest';
import { countSegments } from './segments';

describe('countSegments', () => {
  it('counts nothing for an empty text', () => {
    expect(countSegments('')).toMatchObject({ encoding: 'gsm7', units: 0, segments: 0 });
  });

  it('fits 160 GSM-7 characters in one segment and splits longer texts by 153', () => {
    expect(countSegments('a'.repeat(160))).toMatchObject({ encoding: 'gsm7', units: 160, segments: 1, remaining: 0 });
    expect(countSegments('a'.repeat(161))).toMatchObject({ units: 161, segments: 2, perSegment: 153, remaining: 145 });
    expect(countSegments('a'.repeat(306))).toMatchObject({ segments: 2, remaining: 0 });
    expect(countSegments('a'.repeat(307))).toMatchObject({ segments: 3 });
  });

  it('counts the extension table as two septets', () => {
    expect(countSegments('€')).toMatchObject({ encoding: 'gsm7', units: 2 });
    expect(countSegments('{}[]~|^\\')).toMatchObject({ encoding: 'gsm7', units: 16 });
    // 159 + one € = 161 septets: two segments.
    expect(countSegments('a'.repeat(159) + '€')).toMatchObject({ units: 161, segments: 2 });
    expect(countSegments('a'.repeat(158) + '€')).toMatchObject({ units: 160, segments: 1 });
  });

  it('keeps accented letters of the GSM-7 table in GSM-7', () => {
    expect(countSegments('Ça coûte 5 € à Düsseldorf?').encoding).toBe('ucs2'); // û is not GSM-7
    expect(countSegments('Ça va à Düsseldorf, señor? ¡Ñandù! ¿Qué tal, Jürgen Åberg?').encoding).toBe('gsm7');
  });

  it('switches Polish text with ą ę ł ś ż to UCS-2: 70 per segment, 67 when split', () => {
    const polish = 'Cześć! Twoja subskrypcja wygasa jutro. Odnów ją teraz, żeby nie stracić dostępu.';
    const count = countSegments(polish);
    expect(count.encoding).toBe('ucs2');
    expect(count.units).toBe(polish.length);
    expect(count.segments).toBe(Math.ceil(polish.length / 67));
    expect(count.unicodeChars).toEqual(['ś', 'ć', 'ó', 'ą', 'ż', 'ę']);
    expect(countSegments('Zażółć gęślą jaźń')).toMatchObject({ encoding: 'ucs2', units: 17, segments: 1 });
  });

  it('counts Chinese as UCS-2', () => {
    const chinese = '您好，您的会员将于明天到期，请及时续费以免影响使用。';
    expect(countSegments(chinese)).toMatchObject({ encoding: 'ucs2', units: chinese.length, segments: 1 });
    expect(countSegments('你'.repeat(70))).toMatchObject({ segments: 1, remaining: 0 });
    expect(countSegments('你'.repeat(71))).toMatchObject({ segments: 2, perSegment: 67, remaining: 63 });
    expect(countSegments('你'.repeat(134))).toMatchObject({ segments: 2 });
    expect(countSegments('你'.repeat(135))).toMatchObject({ segments: 3 });
  });

  it('counts an emoji as two UTF-16 units', () => {
    expect(countSegments('Hi 👋')).toMatchObject({ encoding: 'ucs2', units: 5, segments: 1 });
  });

  it('treats Jinja braces as extension characters (the rendered text is what is sent)', () => {
    expect(countSegments('{{ x }}')).toMatchObject({ encoding: 'gsm7', units: 11 });
  });
});
