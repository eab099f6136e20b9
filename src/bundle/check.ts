import { BundleError, fieldPath } from './errors.js';
import { FORMAT_VERSION, MANIFEST_FILE, type Manifest, ManifestSchema, MODEL_FILE,
  type ModelEntry } from './manifest.js';

/**
 * Validates parsed manifest.json content: the format version first (a newer manifest may fail the
 * schema in ways that would hide the real cause), then the schema, then what the schema cannot
 * see: class ids against the dataset, unique ids and paths, every model listed in `files`.
 *
 * @example
 *   const manifest = parseManifest(JSON.parse(text)); // throws BundleError naming the field
 */
export function parseManifest(json: unknown): Manifest {
  checkVersion(json);
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    const [first] = result.error.issues;
    const all = result.error.issues.slice(0, 5).map((issue) =>
      `${fieldPath(issue.path) || '(root)'}: ${issue.message}`
    );
    const more = result.error.issues.length > 5 ? `; and ${result.error.issues.length - 5} more` : '';
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, fieldPath(first.path) || undefined, all.join('; ') + more);
  }
  checkManifest(result.data);
  return result.data;
}

function checkVersion(json: unknown): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, undefined, 'is not a JSON object');
  }
  const version = (json as { formatVersion?: unknown }).formatVersion;
  if (version === undefined) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, 'formatVersion',
      'is missing: this is not a bundle manifest');
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, 'formatVersion',
      `${JSON.stringify(version)} is not a format version (a whole number ≥ 1)`);
  }
  if (version > FORMAT_VERSION) {
    throw new BundleError('NEWER_FORMAT', MANIFEST_FILE, 'formatVersion',
      `format version ${version} is newer than this build reads (${FORMAT_VERSION}): update this project, or rebuild ` +
        `the bundle with this version`);
  }
}

/** The checks across fields; run on save too, so a bad bundle is never written. */
export function checkManifest(manifest: Manifest): void {
  const numClasses = manifest.dataset.classNames.length;
  const ids = new Map<string, number>();
  manifest.specialists.forEach((specialist, i) => {
    const seen = new Set<number>();
    specialist.classes.forEach((c, j) => {
      const field = `specialists[${i}].classes[${j}]`;
      if (c >= numClasses) {
        throw new BundleError('UNKNOWN_CLASS', MANIFEST_FILE, field,
          `specialist "${specialist.id}" names class ${c}, but dataset "${manifest.dataset.name}" ` +
            `has ${numClasses} classes (ids 0–${numClasses - 1})`);
      }
      if (seen.has(c)) {
        throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, field,
          `specialist "${specialist.id}" lists class ${c} twice`);
      }
      seen.add(c);
    });
    const earlier = ids.get(specialist.id);
    if (earlier !== undefined) {
      throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, `specialists[${i}].id`,
        `id "${specialist.id}" is also specialists[${earlier}]'s`);
    }
    ids.set(specialist.id, i);
  });
  const memberIds = new Map<string, number>();
  manifest.members?.models.forEach((member, i) => {
    const earlier = memberIds.get(member.id);
    if (earlier !== undefined) {
      throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, `members.models[${i}].id`,
        `id "${member.id}" is also members.models[${earlier}]'s`);
    }
    memberIds.set(member.id, i);
  });
  if (manifest.student?.teacher === 'members' && !manifest.members) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, 'student.teacher',
      'is "members", but the bundle has no members');
  }

  const paths = new Map<string, string>();
  for (const [field, entry] of modelEntries(manifest)) {
    const other = paths.get(entry.path);
    if (other) {
      throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, `${field}.path`,
        `"${entry.path}" is also ${other}'s folder`);
    }
    paths.set(entry.path, field);
    const modelFile = `${entry.path}/${MODEL_FILE}`;
    if (!manifest.files[modelFile]) {
      throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, 'files',
        `does not list ${modelFile}, the ${field} model`);
    }
  }
  if (manifest.files[MANIFEST_FILE]) {
    throw new BundleError('INVALID_MANIFEST', MANIFEST_FILE, 'files',
      'lists manifest.json, which cannot hold its own checksum');
  }
}

/**
 * Every model of the manifest with the field that describes it: generalist, specialists[i], student, members.models[i].
 *
 * @example
 *   for (const [field, entry] of modelEntries(manifest)) console.log(field, entry.architecture.sizes);
 */
export function modelEntries(manifest: Manifest): [string, ModelEntry][] {
  const entries: [string, ModelEntry][] = [['generalist', manifest.generalist]];
  manifest.specialists.forEach((specialist, i) => entries.push([`specialists[${i}]`, specialist]));
  if (manifest.student) entries.push(['student', manifest.student]);
  manifest.members?.models.forEach((member, i) => entries.push([`members.models[${i}]`, member]));
  return entries;
}
