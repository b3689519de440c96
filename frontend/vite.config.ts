/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const backend = 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
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
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
