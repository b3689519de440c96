/** Client-side filtering by what someone typed in a search box. */

/** The typed text ready to compare: trimmed and in lower case (`''` matches everything). */
export function normaliseQuery(query: string): string {
  return query.trim().toLowerCase();
}

/** Whether any of `texts` contains `q` (a {@link normaliseQuery normalised} query), ignoring case. */
export function matchesQuery(q: string, ...texts: string[]): boolean {
  return !q || texts.some((text) => text.toLowerCase().includes(q));
}
