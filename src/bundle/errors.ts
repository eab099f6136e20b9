/** What went wrong with a bundle; each failure the loader tells apart has its own code. */
export const BUNDLE_ERROR_CODES = [
  'MISSING_FILE', // a file the manifest or format needs is not there
  'UNLISTED_FILE', // a file in the bundle that manifest.json does not list (a mix of two bundles)
  'NOT_JSON', // manifest.json or a model.json does not parse
  'NEWER_FORMAT', // manifest.json was written by a newer version of this project
  'INVALID_MANIFEST', // manifest.json breaks the schema
  'UNKNOWN_CLASS', // a specialist names a class the dataset does not have
  'TRUNCATED', // a file is shorter than the manifest or model.json says
  'CHECKSUM', // a file's bytes differ from what the manifest recorded
  'INVALID_MODEL', // a model.json or its weights do not make a tfjs Layers model
  'SHAPE', // a model's input or output does not fit the dataset or its specialist's classes
] as const;
export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

/**
 * A bundle that cannot be used, naming the file (relative to the bundle) and the field at fault,
 * so the fix is obvious from the message alone.
 *
 * @example
 *   try { await loadBundle('models/default'); }
 *   catch (error) { if (error instanceof BundleError && error.code === 'TRUNCATED') rebuild(); }
 */
export class BundleError extends Error {
  override name = 'BundleError';

  constructor(
    readonly code: BundleErrorCode,
    /** The file at fault, relative to the bundle folder (the folder itself for a missing bundle). */
    readonly file: string,
    /** The field at fault in dotted form (`specialists[2].classes[0]`), when one field is. */
    readonly field: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${field ? ` (${field})` : ''}: ${detail}`, options);
  }
}

/** `['specialists', 2, 'classes']` → `specialists[2].classes`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
