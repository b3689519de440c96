// The API viewer at /schema (Swagger UI) is served from this build, not from a CDN, so it works offline:
// its bundle and stylesheet are copied from the swagger-ui-dist package next to a start script of ours
// (no inline script, so the server's Content-Security-Policy can forbid inline scripts).
// backend/api/apidocs.py renders the page that loads them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const START = `// Starts Swagger UI on /schema; signed in, "Try it out" sends the session's CSRF token.
(function () {
  var me = document.currentScript;
  function cookie(name) {
    var part = document.cookie.split('; ').find(function (p) { return p.indexOf(name + '=') === 0; });
    return part ? decodeURIComponent(part.slice(name.length + 1)) : undefined;
  }
  window.ui = SwaggerUIBundle({
    url: me.dataset.url,
    dom_id: '#swagger-ui',
    deepLinking: true,
    requestInterceptor: function (request) {
      var token = cookie('waymark_csrf');
      if (token) request.headers['X-CSRF-Token'] = token;
      return request;
    },
  });
})();
`;

/** A Vite plugin: emits assets/api-docs/{swagger-ui-bundle.js, swagger-ui.css, start.js} into dist/. */
export function apiDocsAssets() {
  return {
    name: 'waymark-api-docs-assets',
    apply: 'build',
    generateBundle() {
      const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        this.emitFile({ type: 'asset', fileName: `assets/api-docs/${file}`, source: readFileSync(join(dir, file)) });
      }
      this.emitFile({ type: 'asset', fileName: 'assets/api-docs/start.js', source: START });
    },
  };
}
