/** `/templates/key/<key>`: open a template by the key a `send` block names. */
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useParams } from 'react-router';
import { templates } from '../api/endpoints';
import { Empty, ErrorNotice, Loading } from '../components/States';

export default function TemplateByKey() {
  const { t } = useTranslation();
  const { key = '' } = useParams();
  const [found, setFound] = useState<number | null | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    let live = true;
    setFound(undefined);
    templates.list(key).then(
      (page) => live && setFound(page.items.find((tpl) => tpl.key === key)?.id ?? null),
      (err: unknown) => live && setError(err as Error),
    );
    return () => {
      live = false;
    };
  }, [key]);
  if (error) return <ErrorNotice error={error} />;
  if (found === undefined) return <Loading />;
  if (found === null) return <Empty message={t('templates.noKey', { key })} />;
  return <Navigate to={`/templates/${found}`} replace />;
}
