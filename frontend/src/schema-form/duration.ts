/** ISO 8601 durations as msgspec reads and writes them (`PT2H`, `P3D`, `P1DT12H`), and the friendly
 * "number + unit" form marketers edit them in. */

export const UNITS = ['minutes', 'hours', 'days', 'weeks'] as const;
export type Unit = (typeof UNITS)[number];

export const SECONDS: Record<Unit, number> = { minutes: 60, hours: 3600, days: 86400, weeks: 604800 };

const PATTERN = /^(-)?P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Seconds in a duration, or null when it is not one we can read (years and months have no fixed length). */
export function parseDuration(text: string): number | null {
  const match = PATTERN.exec(text.trim().toUpperCase());
  if (!match || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase().endsWith('T')) return null;
  const [, sign, w, d, h, m, s] = match;
  const total =
    Number(w ?? 0) * SECONDS.weeks +
    Number(d ?? 0) * SECONDS.days +
    Number(h ?? 0) * SECONDS.hours +
    Number(m ?? 0) * SECONDS.minutes +
    Number(s ?? 0);
  return sign ? -total : total;
}

/** Canonical ISO text for a number of seconds: days, then hours, minutes and seconds. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return 'PT0S';
  const sign = seconds < 0 ? '-' : '';
  let rest = Math.abs(Math.round(seconds));
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  const time = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}${secs ? `${secs}S` : ''}`;
  return `${sign}P${days ? `${days}D` : ''}${time ? `T${time}` : ''}`;
}

/** The largest unit that divides the duration exactly, so `PT2H` edits as "2 hours", `P14D` as "2 weeks". */
export function toFriendly(seconds: number): { amount: number; unit: Unit } {
  for (const unit of [...UNITS].reverse()) {
    if (seconds !== 0 && seconds % SECONDS[unit] === 0) return { amount: seconds / SECONDS[unit], unit };
  }
  return { amount: seconds / SECONDS.minutes, unit: 'minutes' };
}

export function fromFriendly(amount: number, unit: Unit): string {
  return formatDuration(amount * SECONDS[unit]);
}
