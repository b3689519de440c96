import { lazy, Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes } from 'react-router';
import { SignIn } from './auth/SignIn';
import { useSession } from './auth/session';
import { Layout } from './components/Layout';
import { ErrorNotice, Loading } from './components/States';
import { JourneysPage } from './pages/JourneysPage';

// The canvas (React Flow, dagre) and the contact pages load when first opened.
const EditorPage = lazy(() => import('./editor/EditorPage'));
const ContactsPage = lazy(() => import('./pages/ContactsPage'));
const ContactPage = lazy(() => import('./pages/ContactPage'));
const ImportPage = lazy(() => import('./pages/ImportPage'));
// Templates (the composer; CodeMirror loads later still, with the code view), providers and messages.
const TemplatesPage = lazy(() => import('./templates/TemplatesPage'));
const TemplateEditorPage = lazy(() => import('./templates/TemplateEditorPage'));
const TemplateByKey = lazy(() => import('./templates/TemplateByKey'));
const ProvidersPage = lazy(() => import('./settings/ProvidersPage'));
const MessagesPage = lazy(() => import('./messages/MessagesPage'));
// Audiences: segments (ECharts loads later still, with the trend chart) and computed properties.
const SegmentsPage = lazy(() => import('./audiences/SegmentsPage'));
const SegmentPage = lazy(() => import('./audiences/SegmentPage'));
const ComputedPropertiesPage = lazy(() => import('./audiences/ComputedPropertiesPage'));
const ComputedPropertyPage = lazy(() => import('./audiences/ComputedPropertyPage'));
// Engagement scores (the histogram and trend load ECharts with them).
const ScoresPage = lazy(() => import('./audiences/ScoresPage'));
const ScorePage = lazy(() => import('./audiences/ScorePage'));

export function App() {
  const { t } = useTranslation();
  const session = useSession((s) => s.session);
  const check = useSession((s) => s.check);
  const [error, setError] = useState<Error | null>(null);

  useEffect(() => {
    check().catch((err: unknown) => setError(err as Error));
  }, [check]);

  if (error) return <ErrorNotice error={error} onRetry={() => window.location.reload()} />;
  if (session === undefined) return <Loading />;
  if (session === null) return <SignIn />;
  return (
    <Layout>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<Navigate to="/journeys" replace />} />
          <Route path="/journeys" element={<JourneysPage />} />
          <Route path="/journeys/:id" element={<EditorPage />} />
          <Route path="/contacts" element={<ContactsPage />} />
          <Route path="/contacts/import" element={<ImportPage />} />
          <Route path="/contacts/import/:id" element={<ImportPage />} />
          <Route path="/contacts/:id" element={<ContactPage />} />
          <Route path="/segments" element={<SegmentsPage />} />
          <Route path="/segments/:id" element={<SegmentPage />} />
          <Route path="/computed-properties" element={<ComputedPropertiesPage />} />
          <Route path="/computed-properties/:id" element={<ComputedPropertyPage />} />
          <Route path="/scores" element={<ScoresPage />} />
          <Route path="/scores/:id" element={<ScorePage />} />
          <Route path="/templates" element={<TemplatesPage />} />
          <Route path="/templates/:id" element={<TemplateEditorPage />} />
          <Route path="/templates/key/:key" element={<TemplateByKey />} />
          <Route path="/messages" element={<MessagesPage />} />
          <Route path="/settings/providers" element={<ProvidersPage />} />
          <Route path="*" element={<p className="page">{t('common.notFound')}</p>} />
        </Routes>
      </Suspense>
    </Layout>
  );
}
