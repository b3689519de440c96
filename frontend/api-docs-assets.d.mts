import type { Plugin } from 'vite';

/** Copies Swagger UI into dist/assets/api-docs/ for the /schema page (see api-docs-assets.mjs). */
export function apiDocsAssets(): Plugin;
