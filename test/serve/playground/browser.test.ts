// The playground end to end: a real server on a port, Debian's headless Chromium driven by
// playwright-core (which never downloads a browser of its own), a stroke drawn with the mouse.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/index.js';
import { type ServerHandle, startServer } from '../../../src/serve/index.js';
import { buildImageBundle } from '../../fixtures/serve-image-bundle.js';
import { buildServeBundles, TINY_CLASSES } from '../../fixtures/serve-bundle.js';

const CHROMIUM = '/usr/bin/chromium';
const HOST = '127.0.0.1';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `playground browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)`,
  );
}

let root: string;
let bundlesRoot: string;
let profile: string;
let browser: BrowserContext;
/** On an MNIST-shaped bundle (784 inputs): the drawing pad. */
let image: ServerHandle;
/** On the 16-feature bundle: random examples only. */
let features: ServerHandle;

beforeAll(async () => {
  if (!hasChromium) return;
  await initEngine({ backend: 'auto', log: () => {} });
  root = mkdtempSync(join(tmpdir(), 'playground-'));
  const [imageDir, bundles] = await Promise.all([buildImageBundle(root), buildServeBundles()]);
  const options = { host: HOST, port: 0, logLevel: 'silent' as const };
  image = await startServer({ ...options, bundleDir: imageDir, shadow: true }, { signals: false });
  features = await startServer({ ...options, bundleDir: bundles.tiny }, { signals: false });
  bundlesRoot = bundles.root;
  profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  // A fresh profile folder: playwright passes it as --user-data-dir, which it will not take among the args.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    viewport: { width: 1360, height: 900 },
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await image?.close();
  await features?.close();
  for (const dir of [root, bundlesRoot, profile]) if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

/**
 * A page on `server` that may reach nothing else: any other request is aborted and recorded, as
 * are console errors and failed requests, so a test can assert the page stayed self-contained.
 */
async function open(server: ServerHandle,
  viewport?: { width: number; height: number }): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems: string[] = [];
  const origin = `http://${HOST}:${server.port}`;
  await page.route('**/*', (route) => {
    if (route.request().url().startsWith(`${origin}/`)) return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
  page.on('response',
    (response) =>
      response.status() >= 400 &&
      problems.push(`${response.status()}: ${response.request().method()} ${response.url()}`));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return { page, problems };
}

const probabilities = (page: Page, selector: string) =>
  page.$$eval(`${selector} .bar-row`, (rows) => rows.map((row) => Number((row as HTMLElement).dataset.p)));

const THREE = ['student', 'generalist', 'ensemble'];
/** The image bundle's student was taught by members, so its page has a fourth panel. */
const FOUR = [...THREE, 'members'];

async function modelsAnswered(page: Page, models = FOUR): Promise<void> {
  for (const model of models) await page.waitForSelector(`#model-${model}[data-state="done"]`, { timeout: 30_000 });
}

describe.skipIf(!hasChromium)('the playground in headless Chromium', () => {
  it('draws a stroke, shows every model (the members too), softens the generalist with the slider, and explains the ' +
    'ensemble', async () => {
    const { page, problems } = await open(image);
    expect(await page.isVisible('#pad')).toBe(true);
    expect(await page.textContent('#bundle-line')).toMatch(/tiny-784 · synthetic · 10 classes/);

    // A "7": across the top, then down to the left, drawn with the mouse as a person would.
    const box = (await page.locator('#pad').boundingBox())!;
    const at = (x: number, y: number) => page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 8 });
    await at(0.3, 0.25);
    await page.mouse.down();
    await at(0.7, 0.25);
    await at(0.45, 0.8);
    await page.mouse.up();
    await modelsAnswered(page);

    for (const model of FOUR) {
      const ps = await probabilities(page, `#model-${model} > .bars`);
      expect(ps, model).toHaveLength(10);
      expect(ps.reduce((a, b) => a + b), model).toBeCloseTo(1, 3);
      expect(await page.textContent(`#model-${model} .meta`)).toMatch(/ms round trip · [\d.]+ ms in the model/);
    }
    expect(await page.textContent('#routing')).toMatch(/generalist's choice \S+ → specialist s\d/);
    expect(await page.textContent('#members-line')).toBe(
      '2 nets from different seeds (generalist, m2), their probabilities averaged',
    );
    // On a desktop the four panels share the row beside the input.
    const tops = await Promise.all(FOUR.map(async (model) => (await page.locator(`#model-${model}`).boundingBox())!.y));
    expect(new Set(tops).size).toBe(1);
    expect((await page.$$('#specialists .bar-row.dustbin')).length).toBeGreaterThanOrEqual(1);

    // Figure 1, live: at a higher temperature the same logits give a flatter distribution.
    const coldEntropy = Number(await page.getAttribute('#soft-meta', 'data-entropy'));
    const cold = await probabilities(page, '#soft-bars');
    expect(cold).toHaveLength(10);
    await page.locator('#t').fill('12');
    await page.waitForFunction(
      (h) => Number(document.querySelector('#soft-meta')?.getAttribute('data-entropy')) > h + 0.01,
      coldEntropy,
      { timeout: 30_000 },
    );
    const hot = await probabilities(page, '#soft-bars');
    expect(await page.textContent('#t-value')).toBe('12.0');
    expect(Math.max(...hot)).toBeLessThan(Math.max(...cold));
    expect(hot.reduce((a, b) => a + b)).toBeCloseTo(1, 3);

    // A random test image replaces the drawing, with its true class marked.
    await page.click('#random');
    await page.waitForFunction(() => /true class/.test(document.querySelector('#truth')?.textContent ?? ''));
    await modelsAnswered(page);
    expect(await page.$$('#model-generalist .bar-row.truth')).toHaveLength(1);

    // Through the A/B endpoint with its label as feedback; the live report counts it.
    await page.click('#ab-send');
    await page.waitForFunction(() =>
      /A\/B sent this to the (student|ensemble)/.test(document.querySelector('#ab-result')?.textContent ?? '')
    );
    await page.click('#refresh');
    await page.waitForFunction(() => /of 1/.test(document.querySelector('#ab-table')?.textContent ?? ''), undefined, {
      timeout: 30_000,
    });

    expect(await page.isVisible('#heatmap')).toBe(true);
    expect(await page.$$('#specialist-table tbody tr')).toHaveLength(5);
    expect(await page.$$('#eval-models tbody tr')).toHaveLength(2);
    await page.screenshot({ path: join(ARTIFACTS, 'playground.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a phone (390 × 844): no sideways scrolling, bars ' +
    'with width, the heatmap on screen and readable by tap', async () => {
    const { page, problems } = await open(image, { width: 390, height: 844 });
    await page.click('#random');
    await modelsAnswered(page);
    await page.waitForSelector('#heatmap:not([hidden])');
    const layout = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      screen: window.innerWidth,
      tracks: [
        ...document.querySelectorAll(
          '#model-student .bar-track, #model-ensemble > .bars .bar-track, #model-members .bar-track',
        ),
      ].map((t) => t.getBoundingClientRect().width),
      wide: [...document.querySelectorAll('body *')].filter((e) =>
        e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table')
      ).map((e) => e.id || e.className || e.tagName),
      pad: document.querySelector('#pad')!.getBoundingClientRect().width,
      heatmap: document.querySelector('#heatmap')!.getBoundingClientRect().right,
    }));
    expect(layout.page).toBeLessThanOrEqual(layout.screen);
    expect(layout.wide).toEqual([]); // wide tables scroll inside their own box
    expect(layout.tracks.length).toBeGreaterThanOrEqual(20);
    for (const width of layout.tracks) expect(width).toBeGreaterThan(100);
    expect(layout.pad).toBeGreaterThan(200);
    expect(layout.heatmap).toBeLessThanOrEqual(layout.screen);
    const heatmap = (await page.locator('#heatmap').boundingBox())!;
    // locator.click scrolls the canvas into view first: it sits below the fold on a phone.
    await page.locator('#heatmap').click({ position: { x: heatmap.width * 0.6, y: heatmap.height * 0.6 } });
    expect(await page.textContent('#heatmap-note')).toMatch(/^cov\(/);
    await page.screenshot({ path: join(ARTIFACTS, 'playground-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('offers random test examples instead of the pad when inputs are not 28 × 28 images', async () => {
    const { page, problems } = await open(features);
    expect(await page.isVisible('#pad')).toBe(false);
    expect(await page.isVisible('#model-members')).toBe(false); // its bundle has no members
    expect(await page.textContent('#input-hint')).toMatch(/16 features, not a 28 × 28 image/);
    await page.click('#random');
    await modelsAnswered(page, THREE);
    expect(await probabilities(page, '#model-ensemble > .bars')).toHaveLength(TINY_CLASSES);
    await page.waitForFunction(() => document.querySelectorAll('#soft-bars .bar-row').length > 0);
    expect(await probabilities(page, '#soft-bars')).toHaveLength(TINY_CLASSES);
    await page.screenshot({ path: join(ARTIFACTS, 'playground-features.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
