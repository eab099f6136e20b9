export { benchEngine, profileTrainingStep, TEACHER_LAYERS, trainingStep } from './engine.js';
export type { EngineBenchResult, StepProfile } from './engine.js';
export { benchOnnxServing, STUDENT_LAYERS } from './onnx.js';
export type { OnnxServingResult } from './onnx.js';
export { PEER_PYTHON, runTorchPeer } from './peer.js';
export type { PeerResult } from './peer.js';
export { median, timePerCall, timePerCallAsync } from './timing.js';
export type { TimingOptions } from './timing.js';
