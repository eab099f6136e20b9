export { experimentDir, FULL_PLAN, QUICK_PLAN, runMnistPaper } from './mnist-paper.js';
export type { MnistPaperPlan, MnistPaperResult, Row } from './mnist-paper.js';
export { writeMnistReport } from './mnist-report.js';
export { meanAndSpread, trainOnce } from './runner.js';
export type { RunRecord } from './runner.js';
export { runSpecialistsExperiment } from './specialists.js';
export type { CoverageRow, SpecialistsResult } from './specialists.js';
export { writeSpecialistsReport } from './specialists-report.js';
