import { describe, expect, it } from 'vitest';
import { BundleError, FORMAT_VERSION, parseManifest } from './exports.js';

const SHA = 'a'.repeat(64);
const architecture = (outputs: number) => ({ inputShape: [4], outputSize: outputs, sizes: [4, outputs],
  parameters: 5 * outputs, layers: [] });

/** A valid manifest as plain JSON, the way it arrives from disk. */
function manifest(): Record<string, unknown> & { specialists: Record<string, unknown>[];
  files: Record<string, unknown> } {
  return {
    formatVersion: FORMAT_VERSION,
    name: 'toy',
    createdAt: '2025-01-01T00:00:00.000Z',
    engine: { backend: 'cpu', blasLibrary: 'none', tfjsVersion: '4.22.0' },
    dataset: { name: 'toy', inputShape: [4], classNames: ['a', 'b', 'c'] },
    generalist: { path: 'generalist', architecture: architecture(3), metrics: {} },
    specialists: [{ path: 'specialists/s0', id: 's0', classes: [0, 2], dustbinOffset: 0, cluster: { index: 0 },
      architecture: architecture(3), metrics: {} }],
    metrics: {},
    files: {
      'generalist/model.json': { sha256: SHA, bytes: 1 },
      'specialists/s0/model.json': { sha256: SHA, bytes: 1 },
    },
  };
}

function parseError(json: unknown): BundleError {
  try {
    parseManifest(json);
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    return error as BundleError;
  }
  throw new Error('parseManifest accepted it');
}

describe('parseManifest', () => {
  it('accepts a valid manifest', () => {
    expect(parseManifest(manifest()).specialists[0].classes).toEqual([0, 2]);
  });

  it('reports a newer format version before any schema error', () => {
    expect(parseError({ formatVersion: FORMAT_VERSION + 1 })).toMatchObject({ code: 'NEWER_FORMAT',
      field: 'formatVersion' });
  });

  it('tells a missing or malformed version from a newer one', () => {
    expect(parseError({})).toMatchObject({ code: 'INVALID_MANIFEST', field: 'formatVersion' });
    expect(parseError({ formatVersion: '1' })).toMatchObject({ code: 'INVALID_MANIFEST', field: 'formatVersion' });
    expect(parseError([1])).toMatchObject({ code: 'INVALID_MANIFEST', field: undefined });
  });

  it('names unknown, negative and repeated classes', () => {
    const unknown = manifest();
    unknown.specialists[0].classes = [0, 3];
    expect(parseError(unknown)).toMatchObject({ code: 'UNKNOWN_CLASS', field: 'specialists[0].classes[1]' });
    const negative = manifest();
    negative.specialists[0].classes = [-1];
    expect(parseError(negative)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'specialists[0].classes[0]' });
    const repeated = manifest();
    repeated.specialists[0].classes = [1, 1];
    expect(parseError(repeated)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'specialists[0].classes[1]' });
  });

  it('names repeated ids and shared folders', () => {
    const twice = manifest();
    twice.specialists.push({ ...twice.specialists[0], path: 'specialists/other' });
    twice.files['specialists/other/model.json'] = { sha256: SHA, bytes: 1 };
    expect(parseError(twice)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'specialists[1].id' });
    const shared = manifest();
    shared.specialists[0].path = 'generalist';
    expect(parseError(shared)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'specialists[0].path' });
  });

  it('requires every model in files, and no path outside the bundle', () => {
    const unlisted = manifest();
    delete unlisted.files['specialists/s0/model.json'];
    expect(parseError(unlisted)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'files' });
    const escaping = manifest();
    escaping.files['../../etc/passwd'] = { sha256: SHA, bytes: 1 };
    expect(parseError(escaping)).toMatchObject({ code: 'INVALID_MANIFEST', field: 'files["../../etc/passwd"]' });
  });

  it('lists several schema problems in one message', () => {
    const bad = manifest();
    bad.name = '';
    bad.metrics = { accuracy: 'high' };
    const error = parseError(bad);
    expect(error.field).toBe('name');
    expect(error.message).toMatch(/name: .*; metrics\.accuracy: /);
  });
});
