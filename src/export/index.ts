export { exportBundle, exportedModels, SIDECAR_FILE } from './bundle.js';
export type { ExportedModel } from './bundle.js';
export { denseLayers, mlpToOnnx, ONNX_NAMES, ONNX_OPSET } from './onnx.js';
export type { OnnxOptions } from './onnx.js';
export { TRITON_LABELS_FILE, tritonConfig } from './triton.js';
export { onnxLogits } from './session.js';
export type { OnnxLogits } from './session.js';
export { onnxRuntime, verifyExport } from './verify.js';
export type { ModelCheck } from './verify.js';
