/** Calendar days in a contact's time zone. Subscription rules count days in the contact's zone (UTC
 * when unknown), so a package that ends "on 10 December" must end on 10 December there, not in the
 * browser's zone. Pure; unit-tested. */

function offsetMinutes(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
  return Math.round((asUtc - instant.getTime()) / 60000);
}

export function validZone(zone: string | null | undefined): string {
  if (!zone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    return 'UTC';
  }
}

/** `YYYY-MM-DD` → the instant of noon that day in `zone` (ISO, UTC): safely inside that calendar day. */
export function dayToInstant(day: string, zone: string | null | undefined): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return null;
  const tz = validZone(zone);
  const guess = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), 12);
  const offset = offsetMinutes(new Date(guess), tz);
  return new Date(guess - offset * 60000).toISOString();
}

/** An instant → its `YYYY-MM-DD` calendar day in `zone`. */
export function instantToDay(iso: string | null | undefined, zone: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: validZone(zone), year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

/** Whole calendar days from today to `day` in `zone` (negative when past). */
export function daysFromToday(day: string, zone: string | null | undefined, now = new Date()): number | null {
  const today = instantToDay(now.toISOString(), zone);
  const a = Date.parse(`${today}T00:00:00Z`);
  const b = Date.parse(`${day}T00:00:00Z`);
  return Number.isNaN(a) || Number.isNaN(b) ? null : Math.round((b - a) / 86400000);
}
