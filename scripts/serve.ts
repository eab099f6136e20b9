// Serves a bundle over HTTP (JSON /v1, Open Inference Protocol /v2, /metrics, /openapi.json):
//   npm run serve -- --bundle models/default --port 8080 [--workers 2] [--ab student:50,ensemble:50] [--shadow]
// Every flag has an environment variable (SERVE_BUNDLE, PORT, SERVE_ADMIN_TOKEN, …): `--help` lists them.
// SIGTERM drains: readiness goes false, requests in flight finish, then the process exits.
import { exitWithHelpIfAsked } from '../src/cli/index.js';
import { configFromArgs, exitOnStartFailure, serveFlagsHelp, startServer } from '../src/serve/index.js';

exitWithHelpIfAsked(process.argv.slice(2), process.argv[1], serveFlagsHelp());
try {
  await startServer(configFromArgs(process.argv.slice(2), process.env));
} catch (error) {
  exitOnStartFailure(error);
}
