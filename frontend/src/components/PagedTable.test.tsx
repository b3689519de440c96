import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initI18n } from '../i18n';
import { PagedTable } from './PagedTable';
import type { Paged } from './usePaged';

beforeAll(() => initI18n());
afterEach(cleanup);

const paged = (over: Partial<Paged<string>>): Paged<string> => ({ items: [], loading: false, error: null, hasMore: false, more: vi.fn(), reload: vi.fn(), ...over });

function show(list: Paged<string>) {
  return render(
    <PagedTable
      list={list}
      empty="Nothing here"
      head={<th>Name</th>}
      row={(item) => (
        <tr key={item} data-testid={`row-${item}`}>
          <td>{item}</td>
        </tr>
      )}
    />,
  );
}

describe('PagedTable', () => {
  it('shows a spinner for the first page, then the empty state', () => {
    show(paged({ loading: true }));
    expect(screen.getByRole('status')).toBeTruthy();
    cleanup();
    show(paged({}));
    expect(screen.getByText('Nothing here')).toBeTruthy();
    expect(screen.queryByRole('table')).toBeNull();
  });

  it('shows the error with a retry button instead of the empty state', () => {
    const list = paged({ error: new Error('offline') });
    show(list);
    expect(screen.getByRole('alert').textContent).toContain('offline');
    expect(screen.queryByText('Nothing here')).toBeNull();
    fireEvent.click(screen.getByText('Try again'));
    expect(list.reload).toHaveBeenCalled();
  });

  it('lists the rows and loads more while there is more (disabled while loading)', () => {
    const list = paged({ items: ['a', 'b'], hasMore: true });
    const { rerender } = show(list);
    expect(screen.getByText('Name').tagName).toBe('TH');
    expect(screen.getAllByTestId(/^row-/).map((row) => row.textContent)).toEqual(['a', 'b']);
    fireEvent.click(screen.getByText('Load more'));
    expect(list.more).toHaveBeenCalled();
    rerender(<PagedTable list={{ ...list, loading: true }} empty="" head={null} row={(item) => <tr key={item} />} />);
    expect(screen.getByText('Load more')).toHaveProperty('disabled', true);
    rerender(<PagedTable list={{ ...list, hasMore: false }} empty="" head={null} row={(item) => <tr key={item} />} />);
    expect(screen.queryByText('Load more')).toBeNull();
  });
});
