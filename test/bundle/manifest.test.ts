import { describe, expect, it } from 'vitest';
import { isBundlePath, ManifestSchema, SpecialistEntrySchema } from './exports.js';

describe('isBundlePath', () => {
  it.each(['generalist/model.json', 'specialists/s-1/weights.bin', 'a.b/c'])('accepts %s', (path) => {
    expect(isBundlePath(path)).toBe(true);
  });
  it.each(['', '/etc/passwd', '../x', 'a/../b', 'a/./b', 'a//b', 'a\\b', 'a/'])('refuses %j', (path) => {
    expect(isBundlePath(path)).toBe(false);
  });
});

describe('ManifestSchema', () => {
  it('refuses non-finite metrics, which JSON cannot hold', () => {
    const result = ManifestSchema.shape.metrics.safeParse({ loss: Number.NaN });
    expect(result.success).toBe(false);
  });

  it('keeps specialist ids usable as folder names', () => {
    const base = { path: 'specialists/x',
      architecture: { inputShape: [1], outputSize: 2, sizes: [1, 2], parameters: 4, layers: [] }, metrics: {},
      classes: [0], dustbinOffset: 0, cluster: { index: 0 } };
    expect(SpecialistEntrySchema.safeParse({ ...base, id: 'cluster-07' }).success).toBe(true);
    expect(SpecialistEntrySchema.safeParse({ ...base, id: '../x' }).success).toBe(false);
    expect(SpecialistEntrySchema.safeParse({ ...base, id: 'a b' }).success).toBe(false);
  });
});
