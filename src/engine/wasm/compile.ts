/** WAT text → wasm bytes, with SIMD enabled. For the build script and the test; never at run time. */
export async function compileWat(source: string): Promise<Uint8Array> {
  const { default: initWabt } = await import('wabt');
  const wabt = await initWabt();
  const module = wabt.parseWat('adam.wat', source, { simd: true });
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
