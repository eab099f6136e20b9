// Worker process for one specialist: `node --import tsx specialist-worker.ts <runDir> <config.json> <clusterId>`.
// Sends its metrics to the parent over IPC and exits 0; any failure exits non-zero with the reason
// on stderr, and the parent retries or skips that specialist alone.
import { loadDataset } from '../data/index.js';
import { initEngine } from '../engine/index.js';
import { readPipelineConfig } from './config.js';
import type { StageContext } from './context.js';
import { readClusters, trainSpecialist } from './specialists.js';

const [runDir, configPath, clusterId] = process.argv.slice(2);
try {
  await initEngine({ log: () => {} });
  const config = await readPipelineConfig(configPath);
  let stop = false;
  process.on('SIGINT', () => {
    stop = true;
  });
  const ctx: StageContext = {
    config,
    runDir,
    dataset: loadDataset(config.dataset),
    log: (line) => console.error(line),
    shouldStop: () => stop,
  };
  const cluster = (await readClusters(ctx)).clusters.find((c) => c.id === clusterId);
  if (!cluster) throw new Error(`no cluster ${clusterId} in ${runDir}/clusters/clusters.json`);
  const metrics = await trainSpecialist(ctx, cluster);
  process.send?.(metrics);
  process.disconnect?.();
} catch (error) {
  // The stack first and the reason last: the parent quotes the last lines a worker wrote.
  console.error((error as Error).stack ?? String(error));
  console.error(`specialist ${clusterId}: ${(error as Error).message ?? error}`);
  process.exitCode = 1;
}
