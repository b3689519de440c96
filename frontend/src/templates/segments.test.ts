import { describe, expect, it } from 'vitest';
import { countSegments } from './segments';

// Expected values computed by the server's counter (backend/channels/sms_segments.py): the live
// counter in the editor must agree with what is sent.
const CASES: [string, string, ReturnType<typeof countSegments>][] = [
  ["empty", "", {"encoding": "GSM-7", "units": 0, "segments": 0, "per_segment": 160, "remaining": 160, "non_gsm": []}],
  ["160 GSM-7", "a".repeat(160), {"encoding": "GSM-7", "units": 160, "segments": 1, "per_segment": 160, "remaining": 0, "non_gsm": []}],
  ["161 GSM-7", "a".repeat(161), {"encoding": "GSM-7", "units": 161, "segments": 2, "per_segment": 153, "remaining": 145, "non_gsm": []}],
  ["306", "a".repeat(306), {"encoding": "GSM-7", "units": 306, "segments": 2, "per_segment": 153, "remaining": 0, "non_gsm": []}],
  ["307", "a".repeat(307), {"encoding": "GSM-7", "units": 307, "segments": 3, "per_segment": 153, "remaining": 152, "non_gsm": []}],
  ["euro", "€", {"encoding": "GSM-7", "units": 2, "segments": 1, "per_segment": 160, "remaining": 158, "non_gsm": []}],
  ["extension table", "{}[]~|^\\", {"encoding": "GSM-7", "units": 16, "segments": 1, "per_segment": 160, "remaining": 144, "non_gsm": []}],
  ["159 + \u20ac", "a".repeat(159) + "€", {"encoding": "GSM-7", "units": 161, "segments": 2, "per_segment": 153, "remaining": 145, "non_gsm": []}],
  ["158 + \u20ac", "a".repeat(158) + "€", {"encoding": "GSM-7", "units": 160, "segments": 1, "per_segment": 160, "remaining": 0, "non_gsm": []}],
  ["\u20ac at a boundary is not split", "a".repeat(152) + "€" + "a".repeat(10), {"encoding": "GSM-7", "units": 164, "segments": 2, "per_segment": 153, "remaining": 141, "non_gsm": []}],
  ["Spanish/German GSM-7 letters", "Ça va à Düsseldorf, señor? ¡Ñandù! ¿Qué tal, Jürgen Åberg?", {"encoding": "GSM-7", "units": 58, "segments": 1, "per_segment": 160, "remaining": 102, "non_gsm": []}],
  ["Polish sentence", "Cześć! Twoja subskrypcja wygasa jutro. Odnów ją teraz, żeby nie stracić dostępu.", {"encoding": "UCS-2", "units": 80, "segments": 2, "per_segment": 67, "remaining": 54, "non_gsm": ["ś", "ć", "ó", "ą", "ż", "ę"]}],
  ["Polish pangram", "Zażółć gęślą jaźń", {"encoding": "UCS-2", "units": 17, "segments": 1, "per_segment": 70, "remaining": 53, "non_gsm": ["ż", "ó", "ł", "ć", "ę", "ś", "ą", "ź", "ń"]}],
  ["Chinese sentence", "您好，您的会员将于明天到期，请及时续费以免影响使用。", {"encoding": "UCS-2", "units": 26, "segments": 1, "per_segment": 70, "remaining": 44, "non_gsm": ["您", "好", "，", "的", "会", "员", "将", "于", "明", "天", "到", "期", "请", "及", "时", "续", "费", "以", "免", "影"]}],
  ["70 Chinese", "你".repeat(70), {"encoding": "UCS-2", "units": 70, "segments": 1, "per_segment": 70, "remaining": 0, "non_gsm": ["你"]}],
  ["71 Chinese", "你".repeat(71), {"encoding": "UCS-2", "units": 71, "segments": 2, "per_segment": 67, "remaining": 63, "non_gsm": ["你"]}],
  ["134 Chinese", "你".repeat(134), {"encoding": "UCS-2", "units": 134, "segments": 2, "per_segment": 67, "remaining": 0, "non_gsm": ["你"]}],
  ["135 Chinese", "你".repeat(135), {"encoding": "UCS-2", "units": 135, "segments": 3, "per_segment": 67, "remaining": 66, "non_gsm": ["你"]}],
  ["emoji", "Hi 👋", {"encoding": "UCS-2", "units": 5, "segments": 1, "per_segment": 70, "remaining": 65, "non_gsm": ["👋"]}],
  ["emoji at a boundary is not split", "你".repeat(66) + "👋" + "你".repeat(10), {"encoding": "UCS-2", "units": 78, "segments": 2, "per_segment": 67, "remaining": 55, "non_gsm": ["你", "👋"]}],
  ["Jinja", "{{ x }}", {"encoding": "GSM-7", "units": 11, "segments": 1, "per_segment": 160, "remaining": 149, "non_gsm": []}],
];

describe('countSegments agrees with the server', () => {
  for (const [name, text, expected] of CASES) {
    it(name, () => {
      expect(countSegments(text)).toEqual(expected);
    });
  }
});

describe('countSegments', () => {
  it('switches Polish text to UCS-2: 70 per segment, 67 when split', () => {
    expect(countSegments('Zażółć gęślą jaźń')).toMatchObject({ encoding: 'UCS-2', segments: 1, per_segment: 70 });
    expect(countSegments('ł'.repeat(71))).toMatchObject({ encoding: 'UCS-2', segments: 2, per_segment: 67, remaining: 63 });
  });

  it('counts Chinese as UCS-2', () => {
    expect(countSegments('你好')).toMatchObject({ encoding: 'UCS-2', units: 2, segments: 1, non_gsm: ['你', '好'] });
  });

  it('lists at most 20 characters that forced UCS-2', () => {
    expect(countSegments('您好，您的会员将于明天到期，请及时续费以免影响使用。').non_gsm).toHaveLength(20);
  });
});
