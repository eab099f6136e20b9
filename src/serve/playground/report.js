/* global document */
// The bundle's clusters and evaluation, and the live A/B report and server metrics: the parts of
// the page that show the server and its bundle rather than one input.
import { getJson, getText, parsePrometheus } from './api.js';
import { count, el, formatMetric, humanize, paintHeatmap, percent, renderTable } from './views.js';

const MODELS = ['student', 'generalist', 'ensemble'];
const $ = (id) => document.getElementById(id);

// ── Clusters and evaluation ────────────────────────────────────────────────────────────────────

export async function showClusters(bundle) {
  const names = bundle.dataset.classNames;
  renderTable($('specialist-table'), [{ key: 'id', label: 'specialist' }, { key: 'classes', label: 'classes',
    format: (cs) => cs.map((c) => names[c]).join(' ') }, { key: 'dustbinOffset', label: 'dustbin offset',
    format: (v) => v.toFixed(3) },
    ...metricColumns(bundle.specialists.map(({ metrics: { dustbinOffset: _shown, ...rest } }) => rest))],
    bundle.specialists.map((s) => ({ ...s.metrics, ...s })));
  try {
    const clusters = await getJson('/v1/bundle/clusters');
    const order = names.map((_, c) => c).sort((a, b) => clusters.assignment[a] - clusters.assignment[b] || a - b);
    const canvas = $('heatmap');
    const { margin, cell, lo, hi } = paintHeatmap(canvas, clusters.covariance, order, clusters.assignment, names);
    canvas.hidden = false;
    // pointermove for a mouse, pointerdown for a tap: a phone has no hover.
    const showCell = (event) => {
      const box = canvas.getBoundingClientRect();
      const j = Math.floor(((event.clientX - box.left) * (canvas.width / box.width) - margin) / cell);
      const i = Math.floor(((event.clientY - box.top) * (canvas.height / box.height) - margin) / cell);
      if (i < 0 || j < 0 || i >= order.length || j >= order.length) return;
      $('heatmap-cell').textContent = `cov(${names[order[i]]}, ${names[order[j]]}) = ${
        clusters.covariance[order[i]][order[j]].toExponential(2)
      }`;
    };
    canvas.addEventListener('pointermove', showCell);
    canvas.addEventListener('pointerdown', showCell);
    // A finger leaves as soon as it lifts, which would wipe the value it tapped for; a mouse leaving is done looking.
    canvas.addEventListener('pointerleave', (event) => {
      if (event.pointerType === 'mouse') $('heatmap-cell').textContent = '';
    });
    $('heatmap-note').textContent =
      `${clusters.clusters.length} cluster${clusters.clusters.length === 1 ? '' : 's'} over ${
        clusters.transferExamples === undefined ? '?' : count(clusters.transferExamples)
      } transfer examples. ` +
      `Colour: covariance between two classes from ${lo.toExponential(1)} (dark) to ${
        hi.toExponential(1)
      } (yellow); the diagonal holds ` +
      "each class's own variance, larger than any of them, so it is drawn in the top colour. Hover or tap a cell for " +
        "its value.";
  } catch (error) {
    $('heatmap-note').textContent = `No heatmap: ${error.message}`;
  }
}

/** A column per metric any row has, in first-seen order. */
function metricColumns(metricsList) {
  const keys = [...new Set(metricsList.flatMap((m) => Object.keys(m)))];
  return keys.map((key) => ({ key, label: humanize(key), format: (v) => formatMetric(key, v) }));
}

export function showEvaluation(bundle) {
  const models = ['generalist', 'student'].filter((m) => bundle.models[m].parameters !== null).map((m) => ({ model: m,
    ...bundle.models[m].metrics, parameters: bundle.models[m].parameters, sizes: bundle.models[m].sizes })
  );
  renderTable($('eval-models'), [{ key: 'model', label: 'model' }, { key: 'sizes', label: 'layers',
    format: (s) => (s ? s.join('-') : '–') },
    ...metricColumns(models.map(({ model: _m, sizes: _s, ...metrics }) => metrics))], models);
  const system = Object.entries(bundle.metrics);
  if (system.length === 0) {
    $('eval-system').replaceChildren(
      el('p', { className: 'note' }, 'No whole-system metrics recorded in this bundle.'),
    );
  } else {renderTable($('eval-system'), [{ key: 'key', label: 'whole system', format: humanize }, { key: 'value',
      label: 'value', format: (v, row) => formatMetric(row.key, v) }], system.map(([key, value]) => ({ key, value })));}
}

// ── Live: A/B report and metrics ───────────────────────────────────────────────────────────────

/** One refresh at a time: the timer, the button and each prediction all ask for one. */
let liveBusy = false;

export async function refreshLive() {
  if (liveBusy) return;
  liveBusy = true;
  try {
    const [report, text] = await Promise.all([getJson('/v1/ab/report'), getText('/metrics')]);
    const weights = Object.fromEntries(report.arms.map((a) => [a.variant, a.weight]));
    const ms = (v) => (v === null ? '–' : `${v.toFixed(1)} ms`);
    renderTable($('ab-table'), [{ key: 'variant', label: 'variant' }, { key: 'weight', label: 'weight' }, {
      key: 'requests',
      label: 'requests',
      format: count,
    }, { key: 'latencyMs', label: 'p50 / p90 / p99', format: (l) => `${ms(l.p50)} / ${ms(l.p90)} / ${ms(l.p99)}` }, {
      key: 'shadow',
      label: `shadow ${report.shadow ? '' : '(off)'}`,
      format: (s) =>
        Object.entries(s).map(([o, v]) => `vs ${o}: ${percent(v.agreement)} agree, KL ${v.meanKl.toFixed(3)}`).join(
          '; ',
        ) || '–',
    }, { key: 'feedback', label: 'accuracy on feedback',
      format: (f) => (f.accuracy === null ? '–' : `${percent(f.accuracy)} of ${count(f.labelled)}`) }],
      Object.entries(report.variants).map(([variant, v]) => ({ variant, weight: weights[variant], ...v })));
    showMetrics(parsePrometheus(text));
    $('live-time').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $('live-time').textContent = `live report: ${error.message}`;
  } finally {
    liveBusy = false;
  }
}

function showMetrics(samples) {
  const sum = (name, match = () => true) =>
    samples.filter((s) => s.name === name && match(s.labels)).reduce((t, s) => t + s.value, 0);
  const rows = [];
  for (const model of MODELS) {
    const batches = sum('serve_batch_size_count', (l) => l.model === model);
    rows.push({ key: `${model}: requests (errors)`, value: `${
      count(sum('serve_requests_total', (l) => l.model === model))
    } (${count(sum('serve_errors_total', (l) => l.model === model))})` });
    rows.push({ key: `${model}: batches, mean size`, value: batches ?
      `${count(batches)}, ${
        (sum('serve_batch_size_sum', (l) => l.model === model) / batches).toFixed(2)
      }` :
      '–' });
  }
  for (const s of samples.filter((s) => s.name === 'serve_specialist_activations_total')) {
    rows.push({ key: `specialist ${s.labels.specialist}: examples run on`, value: count(s.value) });
  }
  rows.push({ key: 'live tfjs tensors', value: count(sum('serve_tfjs_tensors')) });
  rows.push({ key: 'requests in flight', value: count(sum('serve_inflight_requests')) });
  const rss = sum('process_resident_memory_bytes');
  if (rss) rows.push({ key: 'resident memory', value: `${(rss / 2 ** 20).toFixed(0)} MiB` });
  renderTable($('metrics-table'), [{ key: 'key', label: 'metric' }, { key: 'value', label: 'value' }], rows);
}
