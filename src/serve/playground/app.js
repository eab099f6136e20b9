/* global clearTimeout, document, setInterval, setTimeout */
// The playground: one input through the student, the generalist and the ensemble side by side;
// the generalist's soft targets at any temperature (the paper's Figure 1, live); the clusters the
// specialists came from; the bundle's evaluation and the live A/B report and metrics.
import { getJson, postJson, predict } from './api.js';
import { DrawingPad, paintImage, paintStrip } from './draw.js';
import { refreshLive, showClusters, showEvaluation } from './report.js';
import { count, el, entropyBits, percent, renderBars, renderSpecialists } from './views.js';

/** The members model (an averaged ensemble of full nets) has a panel only in bundles that carry one. */
const modelsOf = (
  bundle,
) => (bundle.members ? ['student', 'generalist', 'ensemble', 'members'] : ['student', 'generalist', 'ensemble']);
/** Up to this many classes every class gets a bar, in class order; past it, the top ones, best first. */
const ALL_BARS = 20;
const TOP_BARS = 10;
const LIVE_REFRESH_MS = 5000;
/** Soon enough for a server that is still starting, seldom enough not to add to an overloaded one's queue. */
const BUNDLE_RETRY_MS = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  bundle: null,
  pad: null,
  /**
   * The input on show (Float32Array), the test example it is (its row, class and label; undefined
   * for a drawing), and a counter so a newer input wins.
   */
  x: null,
  example: undefined,
  generation: 0,
  /** The generalist's T = 1 distribution for `x`, the ghost marks beside the softened bars. */
  baseline: null,
};

/** A message on one of the page's status lines, in red when it is an error. */
function say(id, message, isError = false) {
  $(id).textContent = message;
  $(id).classList.toggle('error', isError);
}

// ── The bundle ─────────────────────────────────────────────────────────────────────────────────

/** The bundle, asked for until it comes: the server may still be loading it, or be restarting. */
async function loadBundle() {
  for (;;) {
    try {
      return await getJson('/v1/bundle');
    } catch (error) {
      const retry = `trying again in ${BUNDLE_RETRY_MS / 1000} s`;
      say('bundle-line', `cannot load the bundle: ${error.message} · ${retry}`, true);
      await retrySoon();
      say('bundle-line', 'loading the bundle…');
    }
  }
}

/** Resolves after BUNDLE_RETRY_MS, or at once when the Retry button is pressed. */
function retrySoon() {
  const button = $('retry');
  button.hidden = false;
  return new Promise((resolve) => {
    const again = () => {
      clearTimeout(timer);
      button.removeEventListener('click', again);
      button.hidden = true;
      resolve();
    };
    const timer = setTimeout(again, BUNDLE_RETRY_MS);
    button.addEventListener('click', again);
  });
}

function showBundle(bundle) {
  const { dataset, specialists } = bundle;
  say('bundle-line',
    `bundle ${bundle.name} · ${dataset.name} · ${dataset.classNames.length} classes · input [${
      dataset.inputShape.join(' × ')
    }] · ` +
      `${specialists.length} specialist${specialists.length === 1 ? '' : 's'} · built ${
        bundle.createdAt.slice(0, 10)
      }`);
  if (bundle.members) {
    $('model-members').hidden = false;
    $('try-grid').classList.add('with-members');
    $('members-line').textContent = `${bundle.members.ids.length} nets from different seeds (${
      bundle.members.ids.join(', ')
    }), their ${bundle.members.averaging} averaged`;
  }
  for (const model of modelsOf(bundle)) {
    const info = bundle.models[model];
    const panel = $(`model-${model}`);
    panel.querySelector('.size').textContent = info.parameters ?
      `${count(info.parameters)} parameters` :
      '';
    if (!info.served) {
      panel.dataset.state = 'unavailable';
      panel.querySelector('.meta').textContent = `not served: ${info.reason}`;
    }
  }
}

// ── One input, every model ────────────────────────────────────────────────────────────────────

const barCount = (n) => (n <= ALL_BARS ? n : TOP_BARS);

/** Bars in class order when every class fits, else the best first (as topK already is). */
function barRows(topK, n, ghostOf) {
  const rows = topK.slice(0, barCount(n)).map((t) => ({ cls: t.class, label: t.label, p: t.probability,
    ghost: ghostOf?.(t.class) })
  );
  return n <= ALL_BARS ? rows.sort((a, b) => a.cls - b.cls) : rows;
}

function showInput(x, example) {
  const canvas = $('seen');
  if (state.bundle.dataset.image) paintImage(canvas, x);
  else paintStrip(canvas, x);
  canvas.classList.toggle('strip', !state.bundle.dataset.image);
  $('truth').textContent = example ?
    `· test example, row ${count(example.row)}: true class ${example.label}` :
    '· your drawing';
}

/** Everything shown about the last input, so nothing of it can pass for the next one's answer. */
function clearOutputs() {
  for (const model of modelsOf(state.bundle)) {
    const panel = $(`model-${model}`);
    if (panel.dataset.state === 'unavailable') continue;
    panel.dataset.state = 'idle';
    panel.querySelector('.top').textContent = '';
    panel.querySelector('.meta').textContent = '';
    panel.querySelector('.bars').replaceChildren();
  }
  $('routing').textContent = '';
  $('specialists').replaceChildren();
  clearSoft();
  $('ab-result').textContent = '';
}

/** Clear: no input, so nothing to show and nothing to send. */
function clearInput() {
  state.x = null;
  state.example = undefined;
  state.generation++;
  clearOutputs();
  $('truth').textContent = '';
  $('seen').getContext('2d').clearRect(0, 0, $('seen').width, $('seen').height);
  $('ab-send').disabled = true;
  say('input-status', '');
}

function renderPrediction(model, { prediction, roundTripMs, serverMs }) {
  const panel = $(`model-${model}`);
  const n = state.bundle.dataset.classNames.length;
  panel.querySelector('.top').textContent = `${prediction.label} (${percent(prediction.topK[0].probability)})`;
  panel.querySelector('.meta').textContent = `${roundTripMs.toFixed(1)} ms round trip` +
    (serverMs === null ? '' : ` · ${serverMs.toFixed(1)} ms in the model`);
  renderBars(panel.querySelector('.bars'), barRows(prediction.topK, n), { truth: state.example?.class });
  if (model === 'ensemble') {
    $('routing').textContent = `generalist's choice ${prediction.generalistTop.label} → ` +
      (prediction.activeSpecialists.length ?
        `specialist ${prediction.activeSpecialists.join(', ')}` :
        'no specialist') +
      ` · ${prediction.iterations} solver iteration${prediction.iterations === 1 ? '' : 's'}`;
    renderSpecialists($('specialists'), prediction);
  }
}

async function runModel(model, x, generation) {
  const panel = $(`model-${model}`);
  if (!state.bundle.models[model].served) return;
  panel.dataset.state = 'loading';
  const n = state.bundle.dataset.classNames.length;
  try {
    const answer = await predict(model, x, { topK: barCount(n), ...(model === 'ensemble' ? { explain: true } : {}) });
    if (generation !== state.generation) return;
    renderPrediction(model, answer);
    panel.dataset.state = 'done';
  } catch (error) {
    if (generation !== state.generation) return;
    panel.dataset.state = 'error';
    panel.querySelector('.meta').textContent = error.message;
  }
}

/** Runs `x` through every model and the temperature view; `example` is set for a test example. */
async function classify(x, example) {
  state.x = x;
  state.example = example;
  state.baseline = null;
  const generation = ++state.generation;
  clearOutputs();
  showInput(x, example);
  $('ab-send').disabled = false;
  say('input-status', ''); // an earlier failed pick is no longer news
  await Promise.all([...modelsOf(state.bundle).map((model) => runModel(model, x, generation)), updateSoft()]);
  void refreshLive();
}

async function randomExample() {
  try {
    const { examples } = await getJson('/v1/examples?count=1');
    const x = Float32Array.from(examples[0].x);
    state.pad?.show(x);
    await classify(x, examples[0]);
  } catch (error) {
    say('input-status', `random example: ${error.message}`, true);
  }
}

/**
 * Through the A/B endpoint, as production traffic would go, with the true label as feedback when
 * known. The input and its label are taken at the click: another may be picked before the answer
 * comes, and feedback with its label would score this answer against the wrong class.
 */
async function sendToAb() {
  const { x, example, generation } = state;
  if (!x) return;
  const key = `playground-${Math.random().toString(36).slice(2)}`; // a new key each time, so both arms show up
  let sent, failure;
  try {
    const answer = await postJson('/v1/ab/predict', { instances: [Array.from(x)] }, { 'x-ab-key': key });
    sent = `to the ${answer.variant}: ${answer.predictions[0].label}`;
    if (example) {
      await postJson('/v1/ab/feedback', { receipt: answer.receipt, label: example.class });
      sent += ` (true class ${example.label}, recorded as feedback)`;
    }
  } catch (error) {
    failure = error.message;
  }
  const stale = generation !== state.generation;
  $('ab-result').textContent = failure === undefined ?
    `A/B sent ${stale ? 'the previous input' : 'this'} ${sent}` :
    `A/B${stale ? ', for the previous input' : ''}: ${failure}`;
  void refreshLive();
}

function setUpInput(bundle) {
  const image = bundle.dataset.image;
  $('draw').hidden = !image;
  $('clear').hidden = !image;
  $('random').textContent = image ? 'Random test image' : 'Random test example';
  $('random').disabled = !bundle.examples;
  $('clear').disabled = false;
  $('input-hint').textContent = image ?
    'Draw a digit (mouse, pen or finger); it is cropped, scaled to 20 px and centred by its centre of mass in 28 × ' +
      '28, as MNIST was made.' :
    `This bundle's inputs are ${bundle.dataset.inputSize} features, not a 28 × 28 image: pick test examples instead.`;
  if (!bundle.examples) $('random').title = 'the bundle does not name a dataset this server can load';
  if (image) {
    state.pad = new DrawingPad($('pad'), {
      onInk: (x) => x && showInput(x, undefined),
      onStroke: (x) => x && void classify(x, undefined),
    });
    $('clear').addEventListener('click', () => {
      state.pad.clear();
      clearInput();
    });
  }
  $('random').addEventListener('click', () => void randomExample());
  $('ab-send').addEventListener('click', () => void sendToAb());
}

// ── Soft targets ───────────────────────────────────────────────────────────────────────────────

let softBusy = false;
let softAgain = false;

/** One view at a time; a slider moved meanwhile is picked up when it is done, with the latest T. */
async function updateSoft() {
  if (softBusy) {
    softAgain = true;
    return;
  }
  softBusy = true;
  try {
    do {
      softAgain = false;
      await softOnce();
    } while (softAgain);
  } finally {
    softBusy = false;
  }
}

function clearSoft() {
  $('soft-bars').replaceChildren();
  $('soft-meta').textContent = '';
  delete $('soft-meta').dataset.entropy;
}

async function softOnce() {
  const { x, bundle } = state;
  if (!x || !bundle.models.generalist.served) return;
  const n = bundle.dataset.classNames.length;
  const T = Number($('t').value);
  try {
    // Every class, so the entropy is exact and the ghost marks exist for whichever classes show.
    const [base, soft] = await Promise.all([
      state.baseline ? Promise.resolve(state.baseline) : predict('generalist', x, { topK: n }),
      predict('generalist', x, { topK: n, temperature: T }),
    ]);
    if (x !== state.x) return;
    state.baseline = base;
    showSoft(base.prediction, soft.prediction, T);
  } catch (error) {
    if (x !== state.x) return;
    // Bars left from another T above this error would read as the answer at this one.
    clearSoft();
    $('soft-meta').textContent = `generalist: ${error.message}`;
  }
}

/** The softened distribution, with the T = 1 one (`base`) as ghost marks and for the entropy it started from. */
function showSoft(base, soft, T) {
  const n = state.bundle.dataset.classNames.length;
  const atOne = new Map(base.topK.map((t) => [t.class, t.probability]));
  renderBars($('soft-bars'), barRows(soft.topK, n, (c) => atOne.get(c)), { truth: state.example?.class });
  const ps = soft.topK.map((t) => t.probability);
  const h = entropyBits(ps);
  $('soft-meta').dataset.entropy = h.toFixed(4);
  $('soft-meta').textContent =
    `T = ${T}: entropy ${h.toFixed(2)} bits (uniform: ${Math.log2(n).toFixed(2)}) · top class ${percent(ps[0])} · ` +
    `at T = 1: ${entropyBits(base.topK.map((t) => t.probability)).toFixed(2)} bits`;
}

function setUpTemperature(bundle) {
  const slider = $('t');
  if (bundle.student) {
    $('t-marks').append(el('option', { value: String(bundle.student.temperature) }));
    $('t-student').textContent =
      `The student was distilled from the ${bundle.student.teacher} at T = ${bundle.student.temperature}.`;
  }
  slider.disabled = false;
  slider.addEventListener('input', () => {
    const shown = Number(slider.value).toFixed(1);
    $('t-value').textContent = shown;
    slider.setAttribute('aria-valuetext', `T = ${shown}`);
    void updateSoft();
  });
}

// ── Start ──────────────────────────────────────────────────────────────────────────────────────

async function main() {
  const bundle = await loadBundle();
  state.bundle = bundle;
  showBundle(bundle);
  setUpInput(bundle);
  setUpTemperature(bundle);
  showEvaluation(bundle);
  await showClusters(bundle);
  await refreshLive();
  setInterval(() => document.hidden || void refreshLive(), LIVE_REFRESH_MS);
  $('refresh').disabled = false;
  $('refresh').addEventListener('click', () => void refreshLive());
  document.body.dataset.ready = 'true';
}

// A bundle the page cannot show is a bug in the page, but the reader should still see why it stopped.
main().catch((error) => say('bundle-line', `cannot show the bundle: ${error.message}`, true));
