import { cleanup, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../api/client';
import { initI18n } from '../i18n';
import { LiveCount } from './SegmentPage';

beforeAll(() => initI18n());
afterEach(cleanup);

const contact = { id: 7, external_id: 'ana-1', email: 'ana@example.com', phone: null, tags: [], created_at: '', updated_at: '' };

describe('the live count', () => {
  it('marks an estimate with ≈ and says what it was estimated from', () => {
    render(
      <MemoryRouter>
        <LiveCount preview={{ data: { count: 123456, estimated: true, evaluated: 20000, total: 1000000, sample: [contact] }, error: null, loading: false }} otherProblems={[]} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId('segment-preview-count').textContent).toContain('≈ 123,456');
    expect(screen.getByTestId('segment-preview-basis').textContent).toBe('Estimated from 20,000 contacts of 1,000,000');
    expect(screen.getByTestId('segment-sample-7').getAttribute('href')).toBe('/contacts/7');
  });

  it('counts exactly below the sample size, and asks to finish a rule the server cannot read yet', () => {
    render(
      <MemoryRouter>
        <LiveCount
          preview={{ data: { count: 3, estimated: false, evaluated: 9, total: 9, sample: [] }, error: new ApiError(400, 'The request has problems'), loading: false }}
          otherProblems={['Required.']}
        />
      </MemoryRouter>,
    );
    expect(screen.getByTestId('segment-preview-count').textContent).not.toContain('≈');
    expect(screen.getByTestId('segment-preview-basis').textContent).toBe('of 9 contacts');
    expect(screen.getByTestId('segment-preview-error').textContent).toBe('Finish the rule to see who matches: Required.');
    expect(screen.getByTestId('segment-preview').getAttribute('data-count')).toBe('');
  });
});
