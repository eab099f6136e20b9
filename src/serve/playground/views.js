/* global document */
// Rendering: probability bars, specialist panels, tables and the covariance heatmap. Pure DOM, no
// framework; every function redraws its container from data.

/** A DOM element with attributes and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, String(value));
    else node[key] = value;
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

/** A probability as people read it: 81.2% down to 0.1%, then powers of ten (the small ones are the dark knowledge). */
export function percent(p) {
  if (p >= 0.001) return `${(100 * p).toFixed(1)}%`;
  if (p <= 0) return '0';
  return p.toExponential(0);
}

/** A count as people read it, with thousands separators: 12,345. */
export function count(n) {
  return n.toLocaleString('en-US');
}

/** A manifest metric: rates as percentages, counts as integers, times in seconds. */
export function formatMetric(key, value) {
  if (typeof value !== 'number') return String(value ?? '–');
  if (/rate|accuracy|fraction|agreement/i.test(key)) return `${(100 * value).toFixed(2)}%`;
  if (Number.isInteger(value)) return count(value);
  if (/seconds/i.test(key)) return `${value.toFixed(1)} s`;
  return Math.abs(value) >= 100 ? count(Math.round(value)) : value.toPrecision(3);
}

/** Shannon entropy in bits: 0 for a certain answer, log2(N) for a uniform one. */
export function entropyBits(ps) {
  return ps.reduce((h, p) => (p > 0 ? h - p * Math.log2(p) : h), 0);
}

/**
 * One bar per class: `rows` are { cls, label, p, ghost? }, where ghost marks another value of the
 * same class (the T = 1 probability beside a softened one). The best class is highlighted; `truth`
 * marks the true class of a test example.
 */
export function renderBars(container, rows, { truth } = {}) {
  const best = rows.reduce((b, row) => (row.p > b.p ? row : b), rows[0]);
  container.replaceChildren(...rows.map((row) => {
    const fill = el('span', { className: 'bar-fill' });
    fill.style.width = `${(100 * row.p).toFixed(2)}%`;
    const track = el('span', { className: 'bar-track' }, fill);
    if (row.ghost !== undefined) {
      const ghost = el('span', { className: 'bar-ghost', title: `at T = 1: ${percent(row.ghost)}` });
      ghost.style.left = `${(100 * row.ghost).toFixed(2)}%`;
      track.append(ghost);
    }
    const classes = ['bar-row', row === best ? 'best' : '', row.cls === truth ? 'truth' : '',
      row.dustbin ? 'dustbin' : ''].filter(Boolean).join(' ');
    return el('div', { className: classes, 'data-class': row.cls, 'data-p': row.p.toPrecision(6) },
      el('span', { className: 'bar-label', title: row.label }, row.label), track,
      el('span', { className: 'bar-value' }, percent(row.p)));
  }));
}

/**
 * The specialists behind an ensemble answer: each one's own distribution over its classes, and
 * its dustbin, the mass it gives to "none of mine".
 */
export function renderSpecialists(container, prediction) {
  const views = prediction.specialists ?? [];
  if (views.length === 0) {
    container.replaceChildren(
      el('p', { className: 'note' },
        `No specialist covers the generalist's choice (${
          prediction.generalistTop?.label ?? '?'
        }): the ensemble is the generalist.`),
    );
    return;
  }
  container.replaceChildren(...views.map((view) => {
    const bars = el('div', { className: 'bars small' });
    renderBars(bars, [...view.classes.map((c) => ({ cls: c.class, label: c.label, p: c.probability })), { cls: -1,
      label: 'dustbin', p: view.dustbin, dustbin: true }]);
    return el('div', { className: 'specialist', 'data-id': view.id },
      el('h4', {}, `specialist ${view.id} `, el('span', { className: 'dim' }, `dustbin ${percent(view.dustbin)}`)),
      bars);
  }));
}

/** A table from column specs { key, label, format? } and row objects. */
export function renderTable(container, columns, rows) {
  const head = el('tr', {}, columns.map((c) => el('th', {}, c.label)));
  const body = rows.map((row) =>
    el('tr', {}, columns.map((c) => el('td', {}, c.format ? c.format(row[c.key], row) : String(row[c.key] ?? '–'))))
  );
  container.replaceChildren(el('table', {}, el('thead', {}, head), el('tbody', {}, body)));
}

/** Viridis at five stops, as the pipeline's heatmap.svg uses it: dark purple (low) to yellow (high). */
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [r, g, b] = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `rgb(${r}, ${g}, ${b})`;
}

/** A metric's camelCase name as words: testErrorRate → test error rate. */
export function humanize(key) {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/**
 * The covariance of the generalist's predictions with classes reordered by cluster, so each
 * cluster is a block on the diagonal: the classes it hedges between. Two classes it never confuses
 * have a covariance of about -p_a·p_b; two it hedges between, a higher one. Colours span the
 * off-diagonal range, since the variances on the diagonal would wash that difference out; the
 * diagonal is drawn at the top colour.
 */
export function paintHeatmap(canvas, covariance, order, clusterOf, classNames) {
  const n = order.length;
  const labelled = n <= 40;
  const margin = labelled ? 34 : 4;
  const cell = Math.max(2, Math.floor(360 / n));
  canvas.width = margin + n * cell + 4;
  canvas.height = margin + n * cell + 4;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j) {
        lo = Math.min(lo, covariance[i][j]);
        hi = Math.max(hi, covariance[i][j]);
      }
    }
  }
  const span = hi > lo ? hi - lo : 1;
  order.forEach((a, i) =>
    order.forEach((b, j) => {
      ctx.fillStyle = viridis((covariance[a][b] - lo) / span);
      ctx.fillRect(margin + j * cell, margin + i * cell, cell, cell);
    })
  );
  // Cluster boundaries: a line wherever the next class in the order belongs to another cluster.
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 1;
  for (let i = 1; i < n; i++) {
    if (clusterOf[order[i]] === clusterOf[order[i - 1]]) continue;
    const at = margin + i * cell + 0.5;
    ctx.beginPath();
    ctx.moveTo(at, margin);
    ctx.lineTo(at, margin + n * cell);
    ctx.moveTo(margin, at);
    ctx.lineTo(margin + n * cell, at);
    ctx.stroke();
  }
  if (labelled) {
    ctx.fillStyle = '#333';
    ctx.font = `${Math.min(12, cell)}px sans-serif`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    order.forEach((c, i) => ctx.fillText(classNames[c], margin - 4, margin + (i + 0.5) * cell));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    order.forEach((c, j) => ctx.fillText(classNames[c], margin + (j + 0.5) * cell, margin - 4));
  }
  return { margin, cell, lo, hi };
}
