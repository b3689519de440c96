import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Empty, ErrorNotice, Loading } from './States';
import type { Paged } from './usePaged';

/** "Load more" under a cursor-paginated list, while the server says there is more. */
export function LoadMore({ list }: { list: Paged<unknown> }) {
  const { t } = useTranslation();
  if (!list.hasMore) return null;
  return (
    <button type="button" className="button wide" onClick={list.more} disabled={list.loading}>
      {t('common.loadMore')}
    </button>
  );
}

interface PagedTableProps<T> {
  list: Paged<T>;
  /** What the page says when there is nothing to list (and nothing went wrong). */
  empty: string;
  /** The header cells. */
  head: ReactNode;
  /** An item's `<tr>` (with its `key`). */
  row(item: T): ReactNode;
}

/** A list page's table: the error (with Retry), a spinner for the first page, the empty state, then
 * the rows in a card with "Load more". */
export function PagedTable<T>({ list, empty, head, row }: PagedTableProps<T>) {
  return (
    <>
      {list.error && <ErrorNotice error={list.error} onRetry={list.reload} />}
      {list.loading && list.items.length === 0 ? (
        <Loading />
      ) : list.items.length === 0 && !list.error ? (
        <Empty message={empty} />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>{head}</tr>
            </thead>
            <tbody>{list.items.map((item) => row(item))}</tbody>
          </table>
          <LoadMore list={list} />
        </div>
      )}
    </>
  );
}
