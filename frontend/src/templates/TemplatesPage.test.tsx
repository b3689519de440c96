import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { initI18n } from '../i18n';
import TemplatesPage from './TemplatesPage';

beforeAll(() => initI18n());

const json = (status: number, body: unknown) => Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
const summary = { id: 3, key: 'welcome', name: 'Welcome', tags: ['onboarding'], channels: ['email'], version: 1, updated_at: '2026-11-22T10:00:00Z' };

let fetchMock: ReturnType<typeof vi.fn>;
let duplicateAnswers: Array<() => Promise<Response>>;
const duplicateCalls = () => fetchMock.mock.calls.filter(([url]) => String(url) === '/api/templates/3/duplicate');

beforeEach(() => {
  duplicateAnswers = [];
  fetchMock = vi.fn((url: string, init?: RequestInit) => {
    if (url.startsWith('/api/templates?') || url === '/api/templates') return json(200, { items: [summary], next_cursor: null });
    if (url === '/api/templates/3/duplicate' && init?.method === 'POST') return duplicateAnswers.shift()!();
    return json(404, { status: 404, title: 'Not found' });
  });
  vi.stubGlobal('fetch', fetchMock);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('templates list › duplicate', () => {
  it('asks the server to copy under the new key, and says so at the key when it is taken', async () => {
    duplicateAnswers.push(
      () => json(409, { status: 409, title: "A template with the key 'welcome_copy' already exists" }),
      () => json(201, { template: { ...summary, id: 4, key: 'welcome_2', draft: {}, revision: 1 }, problems: [] }),
    );
    render(
      <MemoryRouter>
        <TemplatesPage />
      </MemoryRouter>,
    );
    fireEvent.click(await screen.findByTestId('template-duplicate-3'));
    fireEvent.click(screen.getByTestId('template-duplicate-dialog-confirm'));

    expect(await screen.findByTestId('template-duplicate-dialog-key-error')).toHaveProperty('textContent', 'A template with the key “welcome_copy” already exists.');
    expect(JSON.parse(duplicateCalls()[0]![1].body as string)).toEqual({ key: 'welcome_copy', name: 'Welcome (copy)' });
    expect(screen.getByTestId('template-duplicate-dialog-confirm')).toHaveProperty('disabled', true);

    fireEvent.change(screen.getByTestId('template-duplicate-dialog-key'), { target: { value: 'welcome_2' } });
    expect(screen.queryByTestId('template-duplicate-dialog-key-error')).toBeNull();
    fireEvent.click(screen.getByTestId('template-duplicate-dialog-confirm'));
    await waitFor(() => expect(screen.queryByTestId('template-duplicate-dialog')).toBeNull());
    expect(duplicateCalls()).toHaveLength(2);
    expect(JSON.parse(duplicateCalls()[1]![1].body as string)).toEqual({ key: 'welcome_2', name: 'Welcome (copy)' });
    // No client-side copy any more: the source template is never read.
    expect(fetchMock.mock.calls.some(([url]) => String(url) === '/api/templates/3')).toBe(false);
  });
});
