import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADAM_WASM_BASE64 } from '../../src/engine/wasm/adam-module.js';
import { WASM_SIMD } from '../../src/engine/wasm/adam.js';
import { compileWat } from '../../src/engine/wasm/compile.js';

describe('the Adam wasm kernel', () => {
  it('is the committed build of adam.wat (rerun scripts/build-wasm.ts after editing it)', async () => {
    const source = readFileSync(new URL('../../src/engine/wasm/adam.wat', import.meta.url), 'utf8');
    expect(Buffer.from(await compileWat(source)).toString('base64')).toBe(ADAM_WASM_BASE64);
  });

  it('validates on this runtime (wasm SIMD)', () => {
    expect(WASM_SIMD).toBe(true);
  });
});
