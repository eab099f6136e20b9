import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../src/pipeline/index.js';

describe('preset configs', () => {
  const dir = join(import.meta.dirname, '..', '..', 'configs');
  it.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('%s is a valid pipeline config', async (file) => {
    const config = await readPipelineConfig(join(dir, file));
    expect(config.name).toMatch(/^[a-z-]+$/);
  });
});
