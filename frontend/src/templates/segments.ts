/** How many SMS segments a text takes, with the same rules as the server: a text made only of GSM-7
 * characters is GSM-7 (the extension table's characters take two septets each), anything else makes the
 * whole message UCS-2 (counted in UTF-16 code units, so an emoji takes two). One segment holds 160
 * septets or 70 units; a longer text is split into parts of 153 septets or 67 units (the rest is the
 * concatenation header). */

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = '^{}\\[~]|€\f';

const basic = new Set(GSM_BASIC);
const extension = new Set(GSM_EXTENSION);

export type SmsEncoding = 'gsm7' | 'ucs2';

export interface SegmentCount {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
  /** Units per segment at this length (160/153 or 70/67). */
  perSegment: number;
  /** Units left in the last segment before another one starts. */
  remaining: number;
  /** The characters that forced UCS-2 (each once, in order of appearance). */
  unicodeChars: string[];
}

export function countSegments(text: string): SegmentCount {
  let septets = 0;
  const unicodeChars: string[] = [];
  for (const char of text) {
    if (basic.has(char)) septets += 1;
    else if (extension.has(char)) septets += 2;
    else if (!unicodeChars.includes(char)) unicodeChars.push(char);
  }
  const encoding: SmsEncoding = unicodeChars.length ? 'ucs2' : 'gsm7';
  const units = encoding === 'gsm7' ? septets : text.length;
  const [single, multi] = encoding === 'gsm7' ? [160, 153] : [70, 67];
  if (units === 0) return { encoding, units, segments: 0, perSegment: single, remaining: single, unicodeChars };
  const segments = units <= single ? 1 : Math.ceil(units / multi);
  const perSegment = segments === 1 ? single : multi;
  return { encoding, units, segments, perSegment, remaining: segments * perSegment - units, unicodeChars };
}
