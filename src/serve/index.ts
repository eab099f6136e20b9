export { createApp } from './app.js';
export type { CreateAppOptions, ServeApp } from './app.js';
export { allowedHostsOf, configFromArgs, MODEL_NAMES, parseServeConfig, SERVE_ENV_VARIABLES, ServeConfigError,
  ServeConfigSchema, serveFlagsHelp } from './config.js';
export type { AbArm, ModelName, ServeConfig, ServeConfigInput } from './config.js';
export { exitOnStartFailure, startServer } from './server.js';
export type { ServerHandle, StartOptions } from './server.js';
