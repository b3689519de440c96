/** The one fetch wrapper: same-origin cookies, CSRF header on unsafe methods, JSON errors as ApiError. */
import type { Problem } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly problems: Problem[];
  /** The server's explanation beyond the title (a 409's reason: "journeys use this segment: …"). */
  readonly detail: string | null;

  constructor(status: number, message: string, problems: Problem[] = [], detail: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problems = problems;
    this.detail = detail;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when any request answers 401 (the session ended): the app shows the sign-in page. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

function cookie(name: string): string | null {
  const match = document.cookie.split('; ').find((part) => part.startsWith(`${name}=`));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : null;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export type Query = Record<string, string | number | null | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(method: string, path: string, body?: unknown, raw?: Blob): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (raw !== undefined) headers['Content-Type'] = 'text/csv';
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE.has(method)) {
    const token = cookie('waymark_csrf') ?? csrfToken;
    if (token) headers['X-CSRF-Token'] = token;
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = (data ?? {}) as { title?: string; detail?: string; problems?: Problem[] };
    if (response.status === 401 && onUnauthorized && !path.startsWith('/api/auth/')) onUnauthorized();
    throw new ApiError(
      response.status,
      error.title || error.detail || response.statusText || `HTTP ${response.status}`,
      error.problems ?? [],
      error.title && error.detail && error.detail !== error.title ? error.detail : null,
    );
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', withQuery(path, query)),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
  /** A file as the request body itself (streamed by the browser, not encoded as a form). */
  upload: <T>(path: string, file: Blob, query?: Query) => request<T>('POST', withQuery(path, query), undefined, file),
};
