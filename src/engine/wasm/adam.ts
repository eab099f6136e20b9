import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { ADAM_WASM_BASE64 } from './adam-module.js';

type AdamKernel = (w: number, m: number, v: number, g: number, n: number, lrc1: number, c2: number, b1: number,
  b2: number, eps: number) => void;

const BYTES = Buffer.from(ADAM_WASM_BASE64, 'base64');
/** Whether this runtime has wasm SIMD (Node 16.4+ does); without it Adam stays a JS loop. */
export const WASM_SIMD = WebAssembly.validate(BYTES);

const pad4 = (n: number) => (n + 3) & ~3;

interface Slot {
  w: number;
  m: number;
  v: number;
  n: number;
}

/**
 * The weights and moments of one optimizer, living in a wasm memory so the SIMD kernel can update
 * them in place. tfjs reads and writes each variable through a Float32Array view of this memory
 * (set as the variable's backend values), so there is no copy in or out per step except the
 * gradient. The memory is sized once and never grown: growing would detach every view.
 */
export class WasmAdamArena {
  private readonly memory: WebAssembly.Memory;
  private readonly adam: AdamKernel;
  private readonly slots = new Map<string, Slot>();
  private readonly scratch: number;

  private constructor(memory: WebAssembly.Memory, adam: AdamKernel, sizes: Map<string, number>) {
    this.memory = memory;
    this.adam = adam;
    let offset = 0;
    let largest = 0;
    for (const [name, n] of sizes) {
      const bytes = pad4(n) * 4;
      this.slots.set(name, { w: offset, m: offset + bytes, v: offset + 2 * bytes, n });
      offset += 3 * bytes;
      largest = Math.max(largest, bytes);
    }
    this.scratch = offset;
  }

  /** An arena for variables of these sizes (by name). */
  static create(sizes: Map<string, number>): WasmAdamArena {
    let bytes = 0;
    let largest = 0;
    for (const n of sizes.values()) {
      bytes += 3 * pad4(n) * 4;
      largest = Math.max(largest, pad4(n) * 4);
    }
    const memory = new WebAssembly.Memory({ initial: Math.ceil((bytes + largest) / 65536) + 1 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(BYTES), { env: { memory } });
    return new WasmAdamArena(memory, instance.exports.adam as AdamKernel, sizes);
  }

  has(name: string, n: number): boolean {
    return this.slots.get(name)?.n === n;
  }

  /**
   * Points a tfjs buffer at its place in the arena, copying its values in first when it is not
   * already there (first step, or after tfjs replaced the variable's data, e.g. setWeights).
   */
  adopt(backend: MathBackendCPU, dataId: object, name: string, part: 'w' | 'm' | 'v'): void {
    const slot = this.slots.get(name)!;
    const entry = backend.data.get(dataId);
    const values = entry.values as Float32Array;
    if (values.buffer === this.memory.buffer && values.byteOffset === slot[part]) return;
    const view = new Float32Array(this.memory.buffer, slot[part], slot.n);
    view.set(values);
    entry.values = view;
  }

  /** One Adam step for a variable whose w, m and v are adopted. */
  step(name: string, gradient: Float32Array, lrc1: number, c2: number, beta1: number, beta2: number,
    epsilon: number): void {
    const slot = this.slots.get(name)!;
    const g = new Float32Array(this.memory.buffer, this.scratch, pad4(slot.n));
    g.set(gradient);
    g.fill(0, slot.n); // padded lanes: zero gradient leaves their (unused) weights alone
    this.adam(slot.w, slot.m, slot.v, this.scratch, pad4(slot.n), lrc1, c2, beta1, beta2, epsilon);
  }
}
