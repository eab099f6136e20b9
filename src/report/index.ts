export { markdownTable } from './table.js';
export type { Cell } from './table.js';
export { barSpec, heatmapSpec, lineSpec, renderSvg } from './plot.js';
export type { Bar, Series } from './plot.js';
