import { describe, expect, it } from 'vitest';
import { matchesQuery, normaliseQuery } from './search';

describe('search', () => {
  it('trims and lower-cases what was typed', () => {
    expect(normaliseQuery('  Send E-mail ')).toBe('send e-mail');
    expect(normaliseQuery('   ')).toBe('');
  });

  it('matches when any text contains the query, ignoring case; an empty query matches all', () => {
    expect(matchesQuery('mail', 'Send', 'Sends an E-MAIL')).toBe(true);
    expect(matchesQuery('sms', 'Send', 'Sends an e-mail', 'action.send_email')).toBe(false);
    expect(matchesQuery('', 'anything')).toBe(true);
    expect(matchesQuery('')).toBe(true);
    expect(matchesQuery('x')).toBe(false);
  });
});
