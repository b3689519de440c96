/** Typed calls for every admin endpoint the SPA uses (docs/api.md). */
import { api, withQuery } from './client';
import type {
  BlockType,
  Channel,
  ComputedDefinition,
  ComputedProperty,
  ComputedSave,
  Contact,
  ContactEvent,
  ContactPage,
  ContactScore,
  ContactImport,
  ContactSave,
  Graph,
  ImportMapping,
  ImportPreviewRow,
  ImportRowError,
  Journey,
  JourneyStats,
  JourneyStatus,
  JourneySummary,
  JourneyVersion,
  NodeContact,
  Page,
  Problem,
  Score,
  ScoreDefinition,
  ScoreSave,
  Segment,
  SegmentMember,
  SegmentPreview,
  SegmentSave,
  SegmentSummary,
  Session,
  Subscription,
  SubscriptionSave,
  Template,
  TemplateDraft,
  TemplatePreview,
  TemplateSaved,
  TemplateSummary,
  TemplateVersion,
  TestSendRequest,
  TestSendResult,
  Vocabulary,
} from './types';
import type { Message, MessageStatus, Provider, ProviderChannel, ProviderKind, ProviderSave, ProviderTest, RetryResult } from './types';

const journey = (id: number | string) => `/api/journeys/${encodeURIComponent(String(id))}`;

export const auth = {
  me: () => api.get<Session>('/api/auth/me'),
  login: (email: string, password: string) => api.post<Session>('/api/auth/login', { email, password }),
  logout: () => api.post<void>('/api/auth/logout'),
  logoutEverywhere: () => api.post<void>('/api/auth/logout-everywhere'),
};

export const catalog = {
  blockTypes: (locale: string) => api.get<BlockType[]>('/api/block-types', { locale }),
  vocabulary: () => api.get<Vocabulary>('/api/vocabulary'),
};

export type JourneyAction = 'pause' | 'resume' | 'archive';

export const journeys = {
  list: (status?: JourneyStatus | '', cursor?: string | null) =>
    api.get<Page<JourneySummary>>('/api/journeys', { status, cursor }),
  create: (name: string) => api.post<Journey>('/api/journeys', { name }),
  get: (id: number | string) => api.get<Journey>(journey(id)),
  rename: (id: number, name: string) => api.patch<Journey>(journey(id), { name }),
  saveDraft: (id: number | string, graph: Graph, revision: number) =>
    api.put<{ revision: number; problems: Problem[] }>(`${journey(id)}/draft`, { graph, revision }),
  validate: (id: number | string) => api.post<{ valid: boolean; problems: Problem[] }>(`${journey(id)}/validate`),
  publish: (id: number | string, note?: string) => api.post<JourneyVersion>(`${journey(id)}/publish`, { note }),
  act: (id: number | string, action: JourneyAction) => api.post<Journey>(`${journey(id)}/${action}`),
  duplicate: (id: number, name?: string) => api.post<Journey>(`${journey(id)}/duplicate`, { name }),
  versions: (id: number | string) => api.get<JourneyVersion[]>(`${journey(id)}/versions`),
  stats: (id: number | string) => api.get<JourneyStats>(`${journey(id)}/stats`),
  nodeContacts: (id: number | string, nodeId: string, status: NodeContactStatus, cursor?: string | null) =>
    api.get<Page<NodeContact>>(`${journey(id)}/nodes/${encodeURIComponent(nodeId)}/contacts`, { status, cursor }),
  /** Put contacts parked by a failing block back on it, due now (all of the journey's, or narrowed). */
  retryFailed: (id: number | string, only: { node_id?: string; contact_ids?: number[] } = {}) =>
    api.post<{ retried: number }>(`${journey(id)}/retry-failed`, only),
};

export type NodeContactStatus = 'waiting' | 'passed' | 'failed';

const contact = (id: number | string) => `/api/contacts/${encodeURIComponent(String(id))}`;

export const contacts = {
  /** `segment`: only members of the segment with this key. */
  search: (q: string, cursor?: string | null, segment?: string | null) =>
    api.get<ContactPage>('/api/contacts', { q, cursor, segment }),
  get: (id: number | string) => api.get<Contact>(contact(id)),
  create: (body: ContactSave) => api.post<Contact>('/api/contacts', body),
  update: (id: number | string, body: ContactSave) => api.patch<Contact>(contact(id), body),
  /** Erases the contact with its events, enrollments and memberships. */
  remove: (id: number | string) => api.del<void>(contact(id)),
  events: (id: number | string, cursor?: string | null) => api.get<Page<ContactEvent>>(`${contact(id)}/events`, { cursor }),
  addSubscription: (id: number | string, body: SubscriptionSave) => api.post<Subscription>(`${contact(id)}/subscriptions`, body),
  updateSubscription: (id: number | string, subscriptionId: number, body: SubscriptionSave) =>
    api.patch<Subscription>(`${contact(id)}/subscriptions/${subscriptionId}`, body),
  removeSubscription: (id: number | string, subscriptionId: number) => api.del<void>(`${contact(id)}/subscriptions/${subscriptionId}`),
  /** Every score of the workspace with the contact's level (or none) and the events that made it. */
  scores: (id: number | string) => api.get<ContactScore[]>(`${contact(id)}/scores`),
};

const contactImport = (id: number | string) => `/api/imports/${encodeURIComponent(String(id))}`;

export const imports = {
  upload: (file: File) => api.upload<ContactImport>('/api/imports', file, { filename: file.name }),
  get: (id: number | string) => api.get<ContactImport>(contactImport(id)),
  preview: (id: number | string, mapping: ImportMapping[]) =>
    api.post<{ rows: ImportPreviewRow[] }>(`${contactImport(id)}/preview`, { mapping }),
  start: (id: number | string, mapping: ImportMapping[]) => api.post<ContactImport>(`${contactImport(id)}/start`, { mapping }),
  errors: (id: number | string, cursor?: string | null) => api.get<Page<ImportRowError>>(`${contactImport(id)}/errors`, { cursor }),
  errorsUrl: (id: number | string) => `${contactImport(id)}/errors.csv`,
};

/** Where the browser downloads contacts as CSV (all, a search, or a segment's members). */
export const exportUrl = (query: { q?: string | null; segment?: string | null }) => withQuery('/api/contacts/export.csv', query);

const segment = (id: number | string) => `/api/segments/${encodeURIComponent(String(id))}`;

export const segments = {
  list: () => api.get<SegmentSummary[]>('/api/segments'),
  get: (id: number | string) => api.get<Segment>(segment(id)),
  create: (body: SegmentSave & { name: string; rule: Record<string, unknown> }) => api.post<Segment>('/api/segments', body),
  update: (id: number | string, body: SegmentSave) => api.patch<Segment>(segment(id), body),
  /** 409 with the reason when a journey or another segment uses it. */
  remove: (id: number | string) => api.del<void>(segment(id)),
  preview: (rule: Record<string, unknown>) => api.post<SegmentPreview>('/api/segments/preview', { rule }),
  members: (id: number | string, cursor?: string | null) => api.get<Page<SegmentMember>>(`${segment(id)}/contacts`, { cursor }),
};

const computedProperty = (id: number | string) => `/api/computed-properties/${encodeURIComponent(String(id))}`;

export const computedProperties = {
  list: () => api.get<ComputedProperty[]>('/api/computed-properties'),
  get: (id: number | string) => api.get<ComputedProperty>(computedProperty(id)),
  create: (body: ComputedSave & { name: string; definition: ComputedDefinition }) =>
    api.post<ComputedProperty>('/api/computed-properties', body),
  update: (id: number | string, body: ComputedSave) => api.patch<ComputedProperty>(computedProperty(id), body),
  /** 409 with the reason when a segment uses it. */
  remove: (id: number | string) => api.del<void>(computedProperty(id)),
};

const score = (id: number | string) => `/api/scores/${encodeURIComponent(String(id))}`;

export const scores = {
  list: () => api.get<Score[]>('/api/scores'),
  get: (id: number | string) => api.get<Score>(score(id)),
  create: (body: ScoreSave & { name: string; definition: ScoreDefinition }) => api.post<Score>('/api/scores', body),
  /** A changed definition rescores every contact (`status: building`). */
  update: (id: number | string, body: ScoreSave) => api.patch<Score>(score(id), body),
  /** 409 with the reason when a segment uses it. */
  remove: (id: number | string) => api.del<void>(score(id)),
};

const template = (id: number | string) => `/api/templates/${encodeURIComponent(String(id))}`;

export const templates = {
  list: (q?: string, cursor?: string | null) => api.get<Page<TemplateSummary>>('/api/templates', { q, cursor }),
  create: (body: { key: string; name: string; tags?: string[]; draft?: TemplateDraft }) => api.post<TemplateSaved>('/api/templates', body),
  get: (id: number | string) => api.get<Template>(template(id)),
  /** `revision`: the one the draft was loaded or last saved at; a stale one is refused with 409. */
  save: (id: number | string, body: { draft?: TemplateDraft; name?: string; tags?: string[]; revision?: number }) =>
    api.put<TemplateSaved>(`${template(id)}/draft`, body),
  /** A new template with the draft and tags of `id` (201); 409 when `key` exists, 400 `/key` for a bad one. */
  duplicate: (id: number | string, body: { key: string; name?: string }) => api.post<TemplateSaved>(`${template(id)}/duplicate`, body),
  publish: (id: number | string) => api.post<TemplateVersion>(`${template(id)}/publish`),
  versions: (id: number | string, channels = false) =>
    api.get<TemplateVersion[]>(`${template(id)}/versions`, { channels: channels ? 'true' : undefined }),
  /** `draft`: unsaved channel bodies to render instead of the stored draft (nothing is saved). */
  preview: (id: number | string, body: { channel: Channel; contact_id?: number | null; version?: number | null; draft?: TemplateDraft }) =>
    api.post<TemplatePreview>(`${template(id)}/preview`, body),
  testSend: (id: number | string, body: TestSendRequest) => api.post<TestSendResult>(`${template(id)}/test-send`, body),
};

const provider = (id: number | string) => `/api/providers/${encodeURIComponent(String(id))}`;

export const providers = {
  kinds: () => api.get<ProviderKind[]>('/api/provider-kinds'),
  list: (channel?: ProviderChannel | '') => api.get<Provider[]>('/api/providers', { channel }),
  create: (body: ProviderSave) => api.post<Provider>('/api/providers', body),
  update: (id: number, body: ProviderSave) => api.patch<Provider>(provider(id), body),
  remove: (id: number) => api.del<void>(provider(id)),
  test: (id: number) => api.post<ProviderTest>(`${provider(id)}/test`),
};

export const messages = {
  list: (query: { status?: string; channel?: string; cursor?: string | null }) => api.get<Page<Message>>('/api/messages', query),
  counts: () => api.get<Record<MessageStatus, number>>('/api/messages/counts'),
  retry: (ids: number[]) => api.post<RetryResult>('/api/messages/retry', { ids }),
};
