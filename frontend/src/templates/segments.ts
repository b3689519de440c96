/** How many SMS segments a text takes — the same rules as the server (`backend/channels/sms_segments.py`,
 * `Segments` in docs/api.md), so the live counter agrees with what is sent:
 * a text made only of GSM-7 characters is GSM-7 (the extension table's characters take two septets);
 * one character outside both tables makes the whole message UCS-2, counted in UTF-16 code units (an
 * emoji takes two). One segment holds 160 septets / 70 units; a longer text is split into segments of
 * 153 / 67 (the rest is the concatenation header), and a two-unit character never straddles two. */

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '\f^{}\\[~]|€';

const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export type SmsEncoding = 'GSM-7' | 'UCS-2';

/** The server's `Segments` shape. */
export interface SegmentCount {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
  /** Units per segment at this length (160/153 or 70/67). */
  per_segment: number;
  /** Units left in the last segment before another one starts. */
  remaining: number;
  /** The characters that forced UCS-2 (distinct, in order, at most 20). */
  non_gsm: string[];
}

const SINGLE: Record<SmsEncoding, number> = { 'GSM-7': 160, 'UCS-2': 70 };
const MULTI: Record<SmsEncoding, number> = { 'GSM-7': 153, 'UCS-2': 67 };

export function countSegments(text: string): SegmentCount {
  const chars = [...text]; // code points, like Python's str
  const nonGsm: string[] = [];
  for (const ch of chars) {
    if (!basic.has(ch) && !extension.has(ch) && !nonGsm.includes(ch)) nonGsm.push(ch);
  }
  const encoding: SmsEncoding = nonGsm.length ? 'UCS-2' : 'GSM-7';
  const widths = chars.map((ch) => (encoding === 'GSM-7' ? (extension.has(ch) ? 2 : 1) : ch.codePointAt(0)! > 0xffff ? 2 : 1));
  const units = widths.reduce((a, b) => a + b, 0);
  const single = SINGLE[encoding];
  const non_gsm = nonGsm.slice(0, 20);
  if (units <= single) {
    return { encoding, units, segments: units ? 1 : 0, per_segment: single, remaining: single - units, non_gsm };
  }
  const per = MULTI[encoding];
  let segments = 1;
  let used = 0;
  for (const width of widths) {
    if (used + width > per) {
      segments += 1;
      used = 0;
    }
    used += width;
  }
  return { encoding, units, segments, per_segment: per, remaining: per - used, non_gsm };
}
