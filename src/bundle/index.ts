export { summarizeModel } from './architecture.js';
export { modelEntries, parseManifest } from './check.js';
export { BUNDLE_ERROR_CODES, BundleError } from './errors.js';
export type { BundleErrorCode } from './errors.js';
export { publishFolder, recoverInterrupted, writeFiles } from './files.js';
export { fileSystem } from './artifacts.js';
export { loadBundle, readManifest, verifyBundle } from './load.js';
export type { LoadedBundle } from './load.js';
export { ArchitectureSchema, ClusteringSchema, CombinerSchema, DatasetInfoSchema, EngineSchema, FileEntrySchema,
  FORMAT_VERSION, isBundlePath, LayerSummarySchema, MANIFEST_FILE, ManifestSchema, MemberEntrySchema, MembersSchema,
  MODEL_FILE, ModelEntrySchema, SpecialistEntrySchema, StudentEntrySchema, WEIGHTS_FILE } from './manifest.js';
export type { Architecture, Clustering, Combiner, DatasetInfo, EngineRecord, FileEntry, Manifest, MemberEntry, Members,
  ModelEntry, SpecialistEntry, StudentEntry } from './manifest.js';
export { saveBundle } from './save.js';
export type { BundleDraft, MemberDraft, ModelDraft, SaveOptions, SaveStep, SpecialistDraft,
  StudentDraft } from './save.js';
export { loadModel, saveModel } from './model-folder.js';
