/** Shapes of the admin API (docs/api.md). Only what the SPA reads is typed. */
import type { JsonSchema } from '../schema-form/schema';

export interface Problem {
  pointer: string;
  message: string;
  code?: string;
  node_id?: string | null;
}

export interface User {
  id: number;
  email: string;
  name: string;
  locale: string | null;
}

export interface Workspace {
  id: number;
  slug: string;
  name: string;
  timezone: string;
  locale: string;
  role: string;
}

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
  trigger: string | null;
  pauses: boolean;
  config_schema: JsonSchema;
  latest: boolean;
}

export interface Vocabulary {
  events: string[];
  attributes: string[];
  tags: string[];
  templates: { key: string; name: string }[];
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

export interface NodeStats {
  waiting: number;
  passed: number;
  outcomes: Record<string, number>;
}

export interface JourneyStats {
  nodes: Record<string, NodeStats>;
  entered: number;
  active: number;
  completed: number;
  exited: number;
}

export interface NodeContact {
  contact_id: number;
  external_id: string | null;
  email: string | null;
  entered_at: string;
  due_at: string | null;
}

export interface ContactSummary {
  id: number;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
}

export interface Subscription {
  id: string;
  name: string;
  status: string | null;
  start_at: string | null;
  end_at: string | null;
  duration: string | null;
  auto_renew: boolean | null;
}

export interface ContactJourney {
  journey_id: number;
  name: string;
  node_id: string | null;
  node_label: string | null;
  status: string;
  entered_at: string;
}

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
