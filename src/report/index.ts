export { writeAtomic, writeJson } from './files.js';
export { markdownTable } from './table.js';
export type { Cell } from './table.js';
