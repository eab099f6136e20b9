export { experimentDir, PAPER_PRESET, paperPlan, runMnistPaper, withEpochs } from './mnist-paper.js';
export type { MnistPaperPlan, MnistPaperResult, Row, SweepPoint } from './mnist-paper.js';
export { writeMnistReport } from './mnist-report.js';
export { meanAndSpread, recordInvocation, trainOnce } from './runner.js';
export type { RunRecord } from './runner.js';
export { runSpecialistsExperiment } from './specialists.js';
export type { CoverageRow, SpecialistsResult } from './specialists.js';
export { writeSpecialistsReport } from './specialists-report.js';
