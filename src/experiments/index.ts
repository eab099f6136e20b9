export { experimentDir, FULL_PLAN, QUICK_PLAN, runMnistPaper } from './mnist-paper.js';
export type { MnistPaperPlan, MnistPaperResult, Row } from './mnist-paper.js';
export { writeMnistReport } from './mnist-report.js';
export { meanAndSpread, trainOnce } from './runner.js';
export type { RunRecord } from './runner.js';
