export { benchEngine, profileTrainingStep, TEACHER_LAYERS, trainingStep } from './engine.js';
export type { EngineBenchResult, StepProfile } from './engine.js';
export { PEER_PYTHON, runTorchPeer } from './peer.js';
export type { PeerResult } from './peer.js';
export { median, timePerCall } from './timing.js';
export type { TimingOptions } from './timing.js';
