/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { apiDocsAssets } from './api-docs-assets.mjs';

const backend = 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react(), apiDocsAssets()],
  server: {
    port: 5173,
    proxy: Object.fromEntries(['/api', '/v1', '/schema', '/t'].map((path) => [path, backend])),
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Predictable output for the backend (which serves dist/ with an SPA fallback) and for the bundle
    // benchmark: index.html plus content-hashed files under assets/.
    assetsDir: 'assets',
    sourcemap: false,
    manifest: true,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      output: {
        // Stable chunk names: `vendor` (React, router, i18n: loaded up front), `canvas-vendor`
        // (React Flow, dagre: loaded with the editor), `codemirror-vendor` (CodeMirror: loaded with
        // the template editor's code view) and `charts-vendor` (ECharts: loaded with the first chart).
        // dist/.vite/manifest.json lists what each needs.
        manualChunks(id) {
          if (!id.includes('node_modules')) return undefined;
          if (/@codemirror|@lezer|[\\/](crelt|style-mod|w3c-keyname)[\\/]/.test(id)) return 'codemirror-vendor';
          // Apache ECharts (tree-shaken, src/charts/echarts.ts) loads with the first chart only.
          if (/[\\/](echarts|zrender|tslib)[\\/]/.test(id)) return 'charts-vendor';
          return /@xyflow|@dagrejs|[\\/]d3-/.test(id) ? 'canvas-vendor' : 'vendor';
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
