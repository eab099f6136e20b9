import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { AppEnv } from '../env.js';
import { fail } from '../errors.js';

/** The page's files, each with its type; nothing else under playground/ is served. */
const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'draw.js': 'text/javascript; charset=utf-8',
  'views.js': 'text/javascript; charset=utf-8',
  'report.js': 'text/javascript; charset=utf-8',
} as const;

/**
 * The page may load and call only this server: no CDN, no fonts, no beacons, and nothing injected
 * runs. (Scripts setting element.style are CSSOM, which style-src does not restrict.)
 */
const CONTENT_SECURITY_POLICY = ["default-src 'self'", "img-src 'self' data:", "script-src 'self'", "style-src 'self'",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"].join('; ');

/**
 * GET / (the playground) and GET /playground/{file}: plain HTML, CSS and browser JS modules,
 * read once when the app is made, so a missing file fails at start-up rather than in a browser.
 */
export function playgroundRoutes(): Hono<AppEnv> {
  const files = new Map(
    Object.entries(ASSETS).map((
      [name, type],
    ) => [name, { type, body: readFileSync(new URL(`../playground/${name}`, import.meta.url)) }]),
  );
  const send = (name: string) => {
    const file = files.get(name);
    if (!file) fail(404, 'not found', { file: name, files: Object.keys(ASSETS) });
    return new Response(file.body, {
      headers: {
        'Content-Type': file.type,
        // Small files that change with the server: always revalidate rather than show a stale page.
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
      },
    });
  };

  const app = new Hono<AppEnv>();
  app.get('/', function playground() {
    return send('index.html');
  });
  app.get('/playground/:file', function playgroundAsset(c) {
    return send(c.req.param('file'));
  });
  return app;
}
