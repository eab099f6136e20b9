import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Renders a Vega-Lite spec to an SVG string, headless: vega's SVG renderer needs no canvas or
 * browser, so reports are drawn the same way in CI as on a laptop.
 *
 * @example
 *   const svg = await renderSvg({ data: { values: rows }, mark: 'line', encoding: { … } });
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A matrix as a heatmap, rows and columns in the given order (e.g. classes reordered by cluster). */
export function heatmapSpec(matrix: number[][], labels: string[], order: number[], title: string): TopLevelSpec {
  const rank = new Map(order.map((c, i) => [c, i]));
  const values = matrix.flatMap((row, i) =>
    row.map((value, j) => ({ row: labels[i], column: labels[j], value, ri: rank.get(i), ci: rank.get(j) }))
  );
  const sortBy = (field: string) => ({ field, order: 'ascending' as const });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values },
    mark: 'rect',
    width: Math.min(600, 20 * labels.length),
    height: Math.min(600, 20 * labels.length),
    encoding: {
      x: { field: 'column', type: 'ordinal', sort: sortBy('ci'), axis: labels.length > 60 ? null : { title: null } },
      y: { field: 'row', type: 'ordinal', sort: sortBy('ri'), axis: labels.length > 60 ? null : { title: null } },
      color: { field: 'value', type: 'quantitative', scale: { scheme: 'viridis' }, title: 'covariance' },
    },
  };
}

export interface Series {
  series: string;
  x: number;
  y: number;
}

/** Lines of y against x, one per series: training curves, latency against load. */
export function lineSpec(points: Series[], xTitle: string, yTitle: string, title: string, logY = false): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: points },
    mark: { type: 'line', point: true },
    width: 480,
    height: 280,
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: logY ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

export interface Bar {
  category: string;
  group: string;
  value: number;
}

/** Grouped bars: errors per class for several models, gain by coverage. */
export function barSpec(bars: Bar[], xTitle: string, yTitle: string, title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: bars },
    mark: 'bar',
    width: { step: 12 },
    height: 280,
    encoding: {
      x: { field: 'category', type: 'ordinal', title: xTitle },
      xOffset: { field: 'group' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'group', type: 'nominal', title: null },
    },
  };
}
