// npm start: serve models/default, building it first from configs/quick.json if there is no bundle yet.
//   npm start [-- --port 8080 --ab student:50,ensemble:50 …]   (flags as for npm run serve)
// The first run trains for a few minutes, a line per epoch with an ETA; later runs start at once.
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../src/data/index.js';
import { initEngine } from '../src/engine/index.js';
import { pipelineEnsemble, printSummary, readPipelineConfig, runPipeline } from '../src/pipeline/index.js';
import { exitWithHelpIfAsked } from '../src/cli/index.js';
import { configFromArgs, exitOnStartFailure, serveFlagsHelp, startServer } from '../src/serve/index.js';

const DEFAULT_BUNDLE = 'models/default';
const PRESET = 'configs/quick.json';

exitWithHelpIfAsked(process.argv.slice(2), process.argv[1], serveFlagsHelp());
try {
  const serveConfig = configFromArgs(process.argv.slice(2), { SERVE_BUNDLE: DEFAULT_BUNDLE, ...process.env });
  // With --workers, node:cluster reruns this script in each worker: only the primary may build.
  if (cluster.isPrimary && !existsSync(join(serveConfig.bundleDir, 'manifest.json'))) {
    console.error(
      `no bundle at ${serveConfig.bundleDir}: building it from ${PRESET} (a few minutes, once; Ctrl-C is safe, rerun ` +
        `resumes)`,
    );
    await initEngine({ backend: serveConfig.backend === 'auto' ? undefined : serveConfig.backend });
    const config = await readPipelineConfig(PRESET);
    let stop = false;
    const onInterrupt = () => {
      if (stop) process.exit(130);
      stop = true;
    };
    process.on('SIGINT', onInterrupt);
    const runDir = join('runs', config.name);
    const result = await runPipeline(config, { runDir, out: serveConfig.bundleDir, ensemble: pipelineEnsemble,
      shouldStop: () => stop });
    process.off('SIGINT', onInterrupt);
    await printSummary(config, result, runDir, loadDataset(config.dataset).train.features);
  }
  await startServer(serveConfig);
} catch (error) {
  exitOnStartFailure(error);
}
