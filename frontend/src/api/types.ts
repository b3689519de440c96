/** Shapes of the admin API (docs/api.md). Only what the SPA reads is typed. */
import type { JsonSchema } from '../schema-form/schema';
import type { components } from './schema.gen';

/** The server's own shapes, generated from its OpenAPI document (`make api-types`). */
type Schemas = components['schemas'];

export interface Problem {
  pointer: string;
  message: string;
  code?: string;
  node_id?: string | null;
  /** `warning`: shown, but publishing goes ahead; absent for errors. */
  severity?: 'warning' | null;
}

export type User = Schemas['UserOut'];

export type Workspace = Schemas['WorkspaceOut'];

export interface Session {
  user: User;
  workspace: Workspace;
  csrf_token: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface BlockType {
  type: string;
  version: number;
  label: string;
  description: string;
  icon: string;
  category: string;
  ports: string[];
  dynamic_ports: boolean;
  /** The config array whose items' names are the ports, for dynamic_ports blocks. */
  ports_from?: string | null;
  /** Fixed ports after the config-driven ones (split.rules: else). */
  ports_after?: string[];
  trigger: string | null;
  pauses: boolean;
  config_schema: JsonSchema;
  latest: boolean;
  /** The block's own validation messages in the requested language, by their English wording. */
  problems?: Record<string, string>;
}

export type NamedRef = Schemas['NamedRef'];

export interface Vocabulary {
  events: string[];
  attributes: string[];
  tags: string[];
  templates: NamedRef[];
  /** Added with audiences; an older server may leave them out. */
  segments?: NamedRef[];
  computed?: NamedRef[];
  scores?: NamedRef[];
  /** Names of products and subscriptions contacts have. */
  packages?: string[];
}

export interface GraphNode {
  id: string;
  type: string;
  version: number;
  label?: string | null;
  config: Record<string, unknown>;
  position?: { x: number; y: number } | null;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  port: string;
}

export interface Graph {
  schema_version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
  settings: Record<string, unknown>;
}

export type JourneyStatus = 'draft' | 'published' | 'paused' | 'archived';

export interface JourneySummary {
  id: number;
  name: string;
  description: string | null;
  status: JourneyStatus;
  version: number | null;
  entered: number;
  active: number;
  completed: number;
  updated_at: string;
  updated_by: string | null;
}

export interface Journey extends JourneySummary {
  draft: Graph;
  revision: number;
  published_version_id: number | null;
  created_at: string;
}

export interface JourneyVersion {
  id: number;
  number: number;
  status: string;
  published_at: string;
  published_by: string | null;
  note: string | null;
  graph?: Graph;
}

export type BlockError = Schemas['BlockError'];

export type NodeStats = Schemas['NodeStats'];

export type JourneyStats = Schemas['JourneyStats'];

export type NodeContact = Schemas['NodeContact'];

export type ContactSummary = Schemas['ContactSummary'];

export interface ContactPage extends Page<ContactSummary> {
  /** How many contacts match: the workspace, the segment's size, or the search's matches. */
  total: number;
}

export interface Subscription {
  id: number;
  external_id: string | null;
  name: string;
  status: string;
  start_at: string | null;
  end_at: string | null;
  /** ISO 8601, e.g. P30D. */
  duration: string | null;
  auto_renew: boolean;
  /** Whether auto-renew was on before its last change (win-back: switched off after being on). */
  auto_renew_before: boolean;
  attributes: Record<string, unknown>;
  updated_at: string;
}

export interface SubscriptionSave {
  name?: string;
  status?: string;
  start_at?: string | null;
  end_at?: string | null;
  duration?: string | null;
  auto_renew?: boolean;
  attributes?: Record<string, unknown>;
}

export type ContactSegment = Schemas['ContactSegment'];

/** Fields of a contact a marketer edits by hand (POST creates, PATCH changes only what is sent). */
export interface ContactSave {
  external_id?: string | null;
  email?: string | null;
  phone?: string | null;
  tags?: string[];
  timezone?: string | null;
  locale?: string | null;
  attributes?: Record<string, unknown>;
}

/** `Contact.journeys[].status` as `backend/api/contacts.py` returns it (`Enrollment.status`); `control`:
 * a control-group member, held out of the journey's messages; `failed`: parked on a block whose step
 * raised, until retried. Each has an `enrollment.<status>` label. */
export const ENROLLMENT_STATUSES = ['active', 'completed', 'exited', 'control', 'failed'] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

export type ContactJourney = Schemas['ContactJourney'];

export interface Contact extends ContactSummary {
  anonymous_id: string | null;
  wechat_openid: string | null;
  push_tokens: string[];
  consent: Record<string, boolean>;
  attributes: Record<string, unknown>;
  timezone: string | null;
  locale: string | null;
  subscriptions: Subscription[];
  journeys: ContactJourney[];
  /** Segments the contact is in, and since when (added with audiences). */
  segments?: ContactSegment[];
  /** Computed property values by key. */
  computed?: Record<string, unknown>;
}

export interface ContactEvent {
  id: number;
  contact_id: number;
  name: string;
  properties: Record<string, unknown>;
  occurred_at: string;
  received_at: string;
  source: string | null;
}

// --- templates (docs/api.md "Templates") ---------------------------------------------------------------

export type Channel = 'email' | 'sms' | 'wechat' | 'push';
export const CHANNELS: Channel[] = ['email', 'sms', 'wechat', 'push'];

export interface EmailBody {
  subject?: string;
  preheader?: string;
  sender?: string;
  mjml?: string;
  text?: string | null;
}

export interface SmsBody {
  text?: string;
}

export interface PushBody {
  title?: string;
  body?: string;
  image?: string;
  link?: string;
}

export interface WechatBody {
  template_id?: string;
  fields?: Record<string, string>;
  url?: string;
  miniprogram?: { appid: string; pagepath?: string } | null;
}

export interface TemplateDraft {
  email?: EmailBody;
  sms?: SmsBody;
  wechat?: WechatBody;
  push?: PushBody;
}

export type TemplateSummary = Schemas['TemplateSummary'];

export interface Template extends TemplateSummary {
  draft: TemplateDraft;
  /** Bumped by every draft save; sent back with the next save (409 when someone saved meanwhile). */
  revision: number;
  published_version_id: number | null;
  created_at: string;
}

export interface TemplateProblem {
  /** `/draft/email/mjml`, `/draft/wechat/fields/keyword1`, … */
  pointer: string;
  message: string;
  line?: number | null;
  column?: number | null;
  code?: string;
  /** The render limit a template went over (`cpu`, `output`, `value`, `iterations`, …); see docs/marketers.md. */
  limit?: string;
}

export type TemplateSaved = Schemas['TemplateSaved'];

export interface TemplateVersion {
  id: number;
  number: number;
  created_at: string;
  channels?: TemplateDraft;
}

/** docs/api.md `Segments`. */
export interface SmsSegments {
  encoding: 'GSM-7' | 'UCS-2';
  units: number;
  segments: number;
  per_segment: number;
  remaining: number;
  non_gsm: string[];
}

export interface TemplatePreview {
  channel: Channel;
  version: number | null;
  /** email: subject, preheader, sender, html, text · sms: text · push: title, body, image, link ·
   * wechat: template_id, url, fields.<name>, miniprogram.appid, miniprogram.pagepath */
  fields: Record<string, string>;
  missing: string[];
  problems: TemplateProblem[];
  /** SMS: the rendered text's segments. */
  sms?: SmsSegments | null;
}

export interface TestSendRequest {
  channel: Channel;
  /** The contact whose data (and, without `to`, address) is used; without it: sample data. */
  contact_id?: number;
  /** An address overriding the contact's: e-mail, phone, WeChat openid, or a push subscription. */
  to?: string | Record<string, unknown>;
}

export interface TestSendResult {
  status: 'sent' | 'failed' | 'skipped';
  error: string | null;
  provider_message_id?: string | null;
  message?: Message;
  fields?: Record<string, string>;
  missing?: string[];
  sms?: SmsSegments | null;
}

// --- providers and messages (docs/api.md "Providers", "Messages") -------------------------------------

export type ProviderChannel = Channel | 'webhook' | 'any';

export interface ProviderKind {
  kind: string;
  /** null: any channel (the `null` kind). */
  channel: ProviderChannel | null;
  label: string;
  description?: string | null;
  config_schema: JsonSchema;
  /** Names of the secret settings in `config`. */
  secrets: string[];
  default_rate_per_second: number | null;
}

export interface Provider {
  id: number;
  channel: ProviderChannel;
  kind: string;
  name: string | null;
  enabled: boolean;
  rate_per_second: number | null;
  effective_rate_per_second: number | null;
  /** A secret that is set reads `SECRET_PLACEHOLDER` here. */
  config: Record<string, unknown>;
  secrets_set: string[];
  created_at: string;
  updated_at: string;
}

export const SECRET_PLACEHOLDER = '••••••••';

export interface ProviderSave {
  kind?: string;
  name?: string | null;
  config?: Record<string, unknown>;
  enabled?: boolean;
  rate_per_second?: number | null;
  channel?: ProviderChannel;
}

export interface ProviderTest {
  ok: boolean;
  message: string | null;
  details?: unknown;
}

export type MessageStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped' | 'unknown';

export interface Message {
  id: number;
  status: MessageStatus;
  channel: ProviderChannel;
  contact_id: number | null;
  contact?: { email?: string | null; phone?: string | null; external_id?: string | null } | string | null;
  template: string | null;
  template_version_id: number | null;
  journey_id: number | null;
  node_id: string | null;
  attempts: number;
  reason: string | null;
  provider_message_id: string | null;
  test: boolean;
  created_at: string;
  next_attempt_at: string | null;
  sent_at: string | null;
}

export interface RetryResult {
  retried: number[];
  not_retried: { id: number; reason: string }[];
}

// --- audiences (backend/api/audiences.py) ---------------------------------------------------------------

export type Progress = Schemas['Progress'];

/** `building`: membership (or values) are being computed, see `progress`; `ready` otherwise. */
export type BuildStatus = 'building' | 'ready';

export type SegmentSummary = Schemas['SegmentSummary'];

export type DayPoint = Schemas['DayPoint'];

export type JourneyRef = Schemas['JourneyRef'];

export interface Segment extends SegmentSummary {
  rule: Record<string, unknown>;
  /** Size at the end of each of the last 30 days, oldest first. */
  trend: DayPoint[];
  journeys: JourneyRef[];
  built_at: string | null;
}

export interface SegmentSave {
  name?: string;
  description?: string;
  rule?: Record<string, unknown>;
}

export interface SegmentPreview {
  count: number;
  /** `count` is scaled up from an evenly spread sample of `evaluated` contacts. */
  estimated: boolean;
  evaluated: number;
  total: number;
  sample: ContactSummary[];
}

export interface SegmentMember extends ContactSummary {
  entered_at: string;
}

export const AGGREGATES = ['count', 'distinct_count', 'sum', 'min', 'max', 'avg', 'first', 'last'] as const;
export type Aggregate = (typeof AGGREGATES)[number];
/** Aggregates of a property's values (the others count events or take the first/last one). */
export const NEEDS_PROPERTY: readonly Aggregate[] = ['distinct_count', 'sum', 'min', 'max', 'avg'];

export interface PropertyFilter {
  key: string;
  op: string;
  value: unknown;
}

export interface ComputedDefinition {
  event: string;
  aggregate: Aggregate;
  property?: string | null;
  where?: PropertyFilter[];
  /** ISO 8601 duration (P30D); null: all time. */
  window?: string | null;
}

export interface ComputedProperty {
  id: number;
  key: string;
  name: string;
  description: string;
  definition: ComputedDefinition;
  status: BuildStatus;
  progress: Progress;
  /** Names of the segments whose rules use it. */
  segments: string[];
  updated_at: string;
  built_at: string | null;
}

export interface ComputedSave {
  name?: string;
  description?: string;
  key?: string;
  definition?: ComputedDefinition;
}

// --- engagement scores (backend/api/audiences.py, docs/scores.md) ------------------------------------------

export const SCORE_CHANNELS = ['email', 'sms', 'wechat', 'push'] as const;
export type ScoreChannel = (typeof SCORE_CHANNELS)[number];

/** One line of the weights table: every line that matches an event counts. */
export interface WeightedEvent {
  event: string;
  /** −10 to 10, not 0. */
  weight: number;
  where?: PropertyFilter[];
  channel?: ScoreChannel | null;
}

export interface ScoreDefinition {
  events: WeightedEvent[];
  /** ISO 8601 durations (`P30D`). */
  fading: { mode: 'window' | 'decay'; window: string; half_life: string };
  /** `thresholds`: points needed for levels 2 to 10 (nine, rising). */
  bands: { mode: 'thresholds' | 'percentile'; thresholds: number[] };
}

export interface ScoreDay {
  /** YYYY-MM-DD */
  day: string;
  /** Contacts at levels 1 to 10 at the end of the day. */
  levels: number[];
}

export interface Score {
  id: number;
  key: string;
  name: string;
  description: string;
  definition: ScoreDefinition;
  status: BuildStatus;
  progress: Progress;
  /** Contacts at levels 1 to 10 now. */
  histogram: number[];
  /** Contacts with a score; the others have no scored events. */
  scored: number;
  trend: ScoreDay[];
  /** Percentile bands: the points the levels are cut at. */
  cutoffs: number[] | null;
  segments: string[];
  journeys?: JourneyRef[];
  updated_at: string;
  built_at: string | null;
}

export interface ScoreSave {
  name?: string;
  description?: string;
  key?: string;
  definition?: ScoreDefinition;
}

/** A contact's level (null: no scored events) with the events that made it. */
export interface ContactScore {
  key: string;
  name: string;
  level: number | null;
  points: number | null;
  events: { event: string; count: number; points: number }[];
}

/** A CSV import (docs/api.md, "Importing contacts"). */
export type ImportStatus = 'uploaded' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface ImportMapping {
  column: string;
  /** external_id, email, phone, wechat_openid, timezone, locale, tags, consent.<channel>, trait.<name>, subscription.<part>, ignore */
  target: string;
  type?: 'auto' | 'text' | 'number' | 'boolean' | 'date';
}

export interface ContactImport {
  id: number;
  filename: string;
  status: ImportStatus;
  delimiter: string;
  columns: string[];
  mapping: ImportMapping[];
  sample: string[][];
  progress: { bytes_done: number; bytes_total: number; percent: number };
  rows_done: number;
  created: number;
  updated: number;
  failed: number;
  message: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ImportProblem {
  column: string;
  value: string;
  reason: string;
}

export interface ImportPreviewRow {
  row: number;
  action: 'create' | 'update' | 'error';
  values: Record<string, unknown>;
  problems: ImportProblem[];
}

export interface ImportRowError extends ImportProblem {
  row: number;
}
