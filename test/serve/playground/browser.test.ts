// The playground end to end: a real server on a port, Debian's headless Chromium driven by
// playwright-core (which never downloads a browser of its own), a stroke drawn with the mouse.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page, type Route } from 'playwright-core';
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
  const options = { host: HOST, port: 0, logLevel: 'silent' as const, warmupMs: 0 };
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
 * `before` adds the test's own routes (registered later, they win) before the page loads; with
 * `ready: false` the test waits for whatever it expects instead of the page's ready flag.
 */
async function open(server: ServerHandle, { viewport, before, ready = true }: {
  viewport?: { width: number; height: number };
  before?: (page: Page) => Promise<unknown>;
  ready?: boolean;
} = {}): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems: string[] = [];
  const origin = `http://${HOST}:${server.port}`;
  await page.route('**/*', (route) => {
    if (route.request().url().startsWith(`${origin}/`)) return route.continue();
    problems.push(`outside request: ${route.request().url()}`);
    return route.abort();
  });
  await before?.(page);
  page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
  page.on('response',
    (response) =>
      response.status() >= 400 &&
      problems.push(`${response.status()}: ${response.request().method()} ${response.url()}`));
  await page.goto(`${origin}/`);
  if (ready) await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return { page, problems };
}

/**
 * The problems a test did not cause itself: its own 503s and aborted requests show up as failed
 * responses and as Chromium's "Failed to load resource" console lines.
 */
const unplanned = (problems: string[]) =>
  problems.filter((p) => !/^503: |^failed: |^console: Failed to load resource/.test(p));

/** Answers a route as an overloaded server does. */
const overloaded = (route: Route) => route.fulfill({ status: 503, json: { error: 'overloaded' } });

/** WCAG 2 contrast ratio of an element's text against the first opaque background behind it. */
const contrast = (page: Page, selector: string) =>
  page.$eval(selector, (node) => {
    const channels = (css: string) => (css.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = (css: string) => {
      const [r, g, b] = channels(css).slice(0, 3).map((v) => {
        const c = v / 255;
        return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    let behind: Element | null = node;
    while (behind && channels(getComputedStyle(behind).backgroundColor)[3] === 0) behind = behind.parentElement;
    const [a, b] = [luminance(getComputedStyle(node).color),
      luminance(behind ? getComputedStyle(behind).backgroundColor : 'rgb(255, 255, 255)')];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });

/** What every panel shows: its state, top class, bar count, meta line, and what CSS puts before an empty meta line. */
const panels = (page: Page, models = FOUR) =>
  Promise.all(models.map((model) =>
    page.$eval(`#model-${model}`, (panel) => ({
      state: (panel as HTMLElement).dataset.state,
      top: panel.querySelector('.top')?.textContent,
      bars: panel.querySelectorAll(':scope > .bars .bar-row').length,
      meta: panel.querySelector('.meta')?.textContent,
      loading: getComputedStyle(panel.querySelector('.meta')!, '::before').content,
    }))
  ));

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
    // A screen reader hears what the slider is and where it stands, not just "T =".
    expect(await page.locator('#t').ariaSnapshot()).toMatch(/slider "temperature T"/);
    expect(await page.getAttribute('#t', 'aria-valuetext')).toBe('T = 12.0');

    // A random test image replaces the drawing, with its true class marked.
    await page.click('#random');
    await page.waitForFunction(() => /true class/.test(document.querySelector('#truth')?.textContent ?? ''));
    await modelsAnswered(page);
    expect(await page.$$('#model-generalist .bar-row.truth')).toHaveLength(1);
    // WCAG AA for normal text: the true-class mark on its panel, the bundle line on the page.
    expect(await contrast(page, '#model-generalist .bar-row.truth .bar-label')).toBeGreaterThanOrEqual(4.5);
    expect(await contrast(page, '#bundle-line')).toBeGreaterThanOrEqual(4.5);

    // Through the A/B endpoint with its label as feedback; the live report counts it.
    await page.click('#ab-send');
    await page.waitForFunction(() =>
      /A\/B sent this to the (student|ensemble)/.test(document.querySelector('#ab-result')?.textContent ?? '')
    );
    await page.click('#refresh');
    await page.waitForFunction(() => /of 1/.test(document.querySelector('#ab-table')?.textContent ?? ''), undefined, {
      timeout: 30_000,
    });

    // A heading that is only a heading; each panel's answer or error is announced when it comes.
    expect(await page.textContent('#live h2')).toBe('Live: A/B report and server metrics');
    expect(await page.$$eval('.model .top, .model .meta',
      (nodes) => nodes.filter((node) => !node.closest('[aria-live="polite"]')).length)).toBe(0);

    expect(await page.isVisible('#heatmap')).toBe(true);
    // Hovering shows a cell's value beside the colour legend, leaving takes it away; the legend stays.
    const legend = await page.textContent('#heatmap-note');
    await page.hover('#heatmap', { position: { x: 100, y: 100 } });
    expect(await page.textContent('#heatmap-note')).toBe(legend);
    expect(await page.textContent('#heatmap-cell')).toMatch(/^cov\(/);
    await page.mouse.move(0, 0);
    expect(await page.textContent('#heatmap-cell')).toBe('');
    expect(await page.$$('#specialist-table tbody tr')).toHaveLength(5);
    expect(await page.$$('#eval-models tbody tr')).toHaveLength(2);
    await page.screenshot({ path: join(ARTIFACTS, 'playground.png'), fullPage: true });

    // Clear leaves nothing of the last input: no answers, no routing, no A/B line, nothing to send.
    await page.click('#clear');
    expect(await panels(page)).toEqual(FOUR.map(() => expect.objectContaining({ state: 'idle', top: '', bars: 0,
      meta: '' })));
    for (const id of ['#routing', '#ab-result', '#soft-meta']) expect(await page.textContent(id), id).toBe('');
    expect(await page.$$('#specialists > *, #soft-bars > *')).toHaveLength(0);
    expect(await page.isDisabled('#ab-send')).toBe(true);
    expect((await page.textContent('.seen figcaption'))?.trim()).toBe('What the models see');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a phone (390 × 844): no sideways scrolling, bars ' +
    'with width, the heatmap on screen and readable by tap', async () => {
    const { page, problems } = await open(image, { viewport: { width: 390, height: 844 } });
    // A failed pick says so beside the buttons, not in the header a screen away; the next success clears it.
    await page.route('**/v1/examples*', overloaded, { times: 1 });
    await page.click('#random');
    await page.waitForFunction(() =>
      /^random example: 503: overloaded/.test(document.querySelector('#input-status')?.textContent ?? '')
    );
    expect(await page.getAttribute('#input-status', 'role')).toBe('status');
    const [button, message] = await Promise.all(['#random', '#input-status'].map((id) =>
      page.locator(id).boundingBox()
    ));
    expect(message!.y - button!.y).toBeLessThan(120); // right under the buttons
    await page.click('#random');
    await modelsAnswered(page);
    expect(await page.textContent('#input-status')).toBe('');
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
    // Touch targets: every button a finger's height, the slider easy to grab.
    const targets = await page.$$eval('button, #t', (nodes) =>
      nodes.filter((node) => node.getClientRects().length > 0).map((node) => ({ id: node.id,
        height: node.getBoundingClientRect().height })));
    for (const { id, height } of targets) expect(height, id).toBeGreaterThanOrEqual(id === 't' ? 24 : 44);
    const heatmap = (await page.locator('#heatmap').boundingBox())!;
    // locator.click scrolls the canvas into view first: it sits below the fold on a phone.
    await page.locator('#heatmap').click({ position: { x: heatmap.width * 0.6, y: heatmap.height * 0.6 } });
    expect(await page.textContent('#heatmap-cell')).toMatch(/^cov\(/);
    expect(await page.textContent('#heatmap-note')).toMatch(/^5 clusters over/);
    await page.screenshot({ path: join(ARTIFACTS, 'playground-phone.png'), fullPage: true });
    expect(unplanned(problems)).toEqual([]);
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

  it('shows nothing of an older input once a new one starts: a failed panel holds only its error', async () => {
    const { page, problems } = await open(image);
    await page.click('#random');
    await modelsAnswered(page);
    await page.click('#ab-send');
    await page.waitForFunction(() => /A\/B sent/.test(document.querySelector('#ab-result')?.textContent ?? ''));

    // The next input's predictions wait, then fail: the network for the student, a 503 for the rest.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/models/*/predict', async (route) => {
      await held;
      return route.request().url().includes('/student/') ? route.abort() : overloaded(route);
    });
    await page.click('#random');
    await page.waitForSelector('#model-student[data-state="loading"]');
    expect(await panels(page)).toEqual(FOUR.map(() => ({ state: 'loading', top: '', bars: 0, meta: '',
      loading: '"classifying…"' })));
    for (const id of ['#routing', '#ab-result', '#soft-meta']) expect(await page.textContent(id), id).toBe('');
    expect(await page.$$('#specialists > *, #soft-bars > *')).toHaveLength(0);

    release();
    for (const model of FOUR) await page.waitForSelector(`#model-${model}[data-state="error"]`);
    await page.waitForFunction(() => /^generalist: 503/.test(document.querySelector('#soft-meta')?.textContent ?? ''));
    expect(await panels(page)).toEqual(FOUR.map((model) => expect.objectContaining({ top: '', bars: 0,
      meta: model === 'student' ? 'cannot reach the server' : '503: overloaded' })));
    expect(await page.textContent('#routing')).toBe('');
    expect(await page.$$('#specialists > *, #soft-bars > *')).toHaveLength(0);
    expect(await contrast(page, '#model-generalist .meta')).toBeGreaterThanOrEqual(4.5);
    expect(unplanned(problems)).toEqual([]);
    await page.close();
  });

  it('records A/B feedback with the label of the input it sent, though another was picked meanwhile', async () => {
    const { page, problems } = await open(image);
    const picked = page.waitForResponse('**/v1/examples*');
    await page.click('#random');
    const first = (await (await picked).json()).examples[0];
    await modelsAnswered(page);

    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/v1/ab/predict', async (route) => {
      await held;
      return route.continue();
    });
    // The next pick is of another class for certain, so a label taken from it would show.
    await page.route('**/v1/examples*', async (route) => {
      const body = await (await route.fetch()).json();
      const cls = (first.class + 1) % 10;
      body.examples[0] = { ...body.examples[0], row: first.row + 1, class: cls, label: `other ${cls}` };
      return route.fulfill({ json: body });
    });
    await page.click('#ab-send');
    await page.click('#random');
    await page.waitForFunction(() => /other/.test(document.querySelector('#truth')?.textContent ?? ''));
    const feedback = page.waitForRequest('**/v1/ab/feedback');
    release();
    expect((await feedback).postDataJSON()).toMatchObject({ label: first.class });
    await page.waitForFunction(() => /previous input/.test(document.querySelector('#ab-result')?.textContent ?? ''));
    expect(await page.textContent('#ab-result')).toContain(`true class ${first.label}`);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says when the bundle cannot be loaded, keeps the controls off, and tries again', async () => {
    const { page, problems } = await open(features, {
      ready: false,
      before: (page) => page.route('**/v1/bundle', overloaded, { times: 1 }),
    });
    await page.waitForFunction(() =>
      /cannot load the bundle: 503: overloaded/.test(document.querySelector('#bundle-line')?.textContent ?? '')
    );
    expect(await page.textContent('#bundle-line')).not.toMatch(/loading/);
    expect(await contrast(page, '#bundle-line')).toBeGreaterThanOrEqual(4.5);
    for (const id of ['#clear', '#random', '#t', '#refresh']) expect(await page.isDisabled(id), id).toBe(true);
    await page.click('#retry');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.textContent('#bundle-line')).toMatch(/^bundle tiny/);
    expect(await page.isDisabled('#random')).toBe(false);
    expect(await page.isVisible('#retry')).toBe(false);
    expect(unplanned(problems)).toEqual([]);
    await page.close();
  });
});
