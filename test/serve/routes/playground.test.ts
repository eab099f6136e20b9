import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { buildServeBundles, type ServeBundles } from '../../fixtures/serve-bundle.js';

const ASSETS = new URL('../../../src/serve/playground/', import.meta.url);
let bundles: ServeBundles;
let served: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent' });
});
afterAll(async () => {
  await served?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

describe('GET / and /playground/{file}', () => {
  it('serves the page, which may only load from this server', async () => {
    const res = await served.app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(res.headers.get('content-security-policy')).toMatch(/connect-src 'self'/);
    expect(await res.text()).toMatch(/<script type="module" src="\/playground\/app.js">/);
  });

  it('serves every file the page and its modules import, with its type', async () => {
    const html = readFileSync(new URL('index.html', ASSETS), 'utf8');
    const js = ['app.js', 'api.js', 'draw.js', 'report.js', 'views.js'].map((f) =>
      readFileSync(new URL(f, ASSETS), 'utf8')
    ).join('\n');
    const referenced = new Set(
      [...html.matchAll(/(?:src|href)="\/playground\/([\w.-]+)"/g), ...js.matchAll(/from '\.\/([\w.-]+)'/g)].map((m) =>
        m[1]
      ),
    );
    expect([...referenced].sort()).toEqual(['api.js', 'app.js', 'draw.js', 'report.js', 'style.css', 'views.js']);
    for (const file of referenced) {
      const res = await served.app.request(`/playground/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type')).toMatch(file.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('names nothing outside this server: no CDN, fonts or trackers', () => {
    for (const file of readdirSync(ASSETS)) {
      expect(readFileSync(new URL(file, ASSETS), 'utf8'), file).not.toMatch(/(?:https?:)?\/\/[a-z0-9-]+\.[a-z]/i);
    }
  });

  it('answers 404 as JSON for any other file, and never leaves the folder', async () => {
    for (const path of ['/playground/missing.js', '/playground/..%2Fapp.ts', '/playground/%2E%2E%2F%2E%2E%2Fapp.ts',
      '/playground/']) {
      const res = await served.app.request(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    }
  });
});
