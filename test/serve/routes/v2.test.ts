import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../../src/engine/index.js';
import { createApp, type ServeApp } from '../../../src/serve/index.js';
import { json, post } from '../../fixtures/serve-client.js';
import { buildServeBundles, rows, type ServeBundles, TINY_CLASSES, TINY_INPUT } from '../../fixtures/serve-bundle.js';

let bundles: ServeBundles;
let served: ServeApp;

beforeAll(async () => {
  await initEngine({ backend: 'auto', log: () => {} });
  bundles = await buildServeBundles();
  served = await createApp({ bundleDir: bundles.tiny, logLevel: 'silent', limits: { maxInstances: 8 } });
});
afterAll(async () => {
  await served?.shutdown();
  rmSync(bundles.root, { recursive: true, force: true });
});

type Output = { name: string; datatype: string; shape: number[]; data: (number | string)[] };
type InferBody = { model_name: string; id: string; outputs: Output[]; error: string };
const infer = (model: string, body: unknown) => json<InferBody>(post(served.app, `/v2/models/${model}/infer`, body));
const input = (data: unknown, shape = [2, TINY_INPUT], datatype = 'FP32') => ({
  inputs: [{ name: 'input', shape, datatype, data }],
});

describe('Open Inference Protocol v2', () => {
  it('health: live and ready', async () => {
    expect(await json(served.app.request('/v2/health/live'))).toMatchObject({ status: 200, body: { live: true } });
    expect(await json(served.app.request('/v2/health/ready'))).toMatchObject({ status: 200, body: { ready: true } });
    expect((await json(served.app.request('/v2'))).body).toMatchObject({ name: 'distill-serve' });
  });

  it('model metadata and readiness', async () => {
    const { body } = await json(served.app.request('/v2/models/ensemble'));
    expect(body).toMatchObject({ name: 'ensemble',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, TINY_INPUT] }] });
    expect((body.outputs as Output[]).map((o) => o.name)).toEqual(['probabilities', 'class', 'generalist_class',
      'active_specialists']);
    expect(await json(served.app.request('/v2/models/student/ready'))).toMatchObject({ status: 200,
      body: { name: 'student', ready: true } });
    expect((await json(served.app.request('/v2/models/oracle'))).status).toBe(404);
    expect((await json(served.app.request('/v2/models/oracle/ready'))).status).toBe(404);
  });

  it('infers from flat and nested data alike, with the request id echoed', async () => {
    const data = rows(2);
    const flat = await infer('student', { id: 'req-1', ...input(data.flat()) });
    const nested = await infer('student', input(data));
    expect(flat.status).toBe(200);
    expect(flat.body.id).toBe('req-1');
    expect(flat.body.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [2, TINY_CLASSES] });
    expect(flat.body.outputs[0].data).toEqual(nested.body.outputs[0].data);
    expect(flat.body.outputs[1]).toMatchObject({ name: 'class', datatype: 'INT32', shape: [2] });
  });

  it('gives the ensemble its extra outputs, and only the outputs asked for', async () => {
    const all = await infer('ensemble', input(rows(2)));
    expect(all.body.outputs.map((o) => o.name)).toEqual(['probabilities', 'class', 'generalist_class',
      'active_specialists']);
    expect(typeof all.body.outputs[3].data[0]).toBe('string');
    const some = await infer('ensemble', { ...input(rows(2)), outputs: [{ name: 'class' }] });
    expect(some.body.outputs.map((o) => o.name)).toEqual(['class']);
    expect((await infer('student', { ...input(rows(2)), outputs: [{ name: 'generalist_class' }] })).status).toBe(400);
  });

  it.each(
    [['wrong datatype', 400, () => input(rows(2), [2, TINY_INPUT], 'INT64')], ['shape of the wrong width', 400, () =>
      input(rows(2).flat(), [4, 8])], ['data shorter than the shape', 400, () => input(rows(2).flat().slice(1))], [
      'nested rows of the wrong width',
      400,
      () => input([rows(1)[0], rows(1)[0].slice(1)]),
    ], ['rank-3 shape', 400, () => input(rows(2).flat(), [2, 4, 4])], ['a string in the data', 400, () =>
      input(['x', ...rows(1)[0].slice(1)], [1, TINY_INPUT])], ['zero rows', 400, () => input([], [0, TINY_INPUT])], [
      'two inputs',
      400,
      () => ({ inputs: [input(rows(1)).inputs[0], input(rows(1)).inputs[0]] }),
    ], ['more rows than allowed', 413, () => input(rows(9), [9, TINY_INPUT])]] as const,
  )('%s → %i', async (_name, status, body) => {
    const res = await infer('student', body());
    expect(res.status).toBe(status);
    expect(res.body.error).toEqual(expect.any(String));
  });

  it('rejects malformed JSON, a body that is not JSON under another content type, and unknown models', async () => {
    expect((await json(post(served.app, '/v2/models/student/infer', '{"inputs":'))).status).toBe(400);
    expect((await json(post(served.app, '/v2/models/student/infer', 'x', { 'content-type': 'text/csv' }))).status).toBe(
      415,
    );
    expect((await infer('oracle', input(rows(1), [1, TINY_INPUT]))).status).toBe(404);
  });

  it('reads a JSON body whatever its Content-Type, or with none, as Triton does', async () => {
    const body = JSON.stringify(input(rows(1), [1, TINY_INPUT]));
    for (const headers of [{}, { 'content-type': 'application/x-www-form-urlencoded' }, {
      'content-type': 'text/plain',
    }] as Record<string, string>[]) {
      const res = await json<InferBody>(
        served.app.request('/v2/models/student/infer', { method: 'POST', body, headers }),
      );
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(res.body.outputs[1].shape).toEqual([1]);
    }
  });

  it('serves the versioned URLs of version 1, and 404 for any other version', async () => {
    expect(await json(served.app.request('/v2/models/student/versions/1'))).toMatchObject({ status: 200,
      body: { name: 'student', versions: ['1'] } });
    expect(await json(served.app.request('/v2/models/student/versions/1/ready'))).toMatchObject({ status: 200,
      body: { ready: true } });
    const answer = await json<InferBody & { model_version: string }>(
      post(served.app, '/v2/models/ensemble/versions/1/infer', input(rows(2))),
    );
    expect(answer).toMatchObject({ status: 200, body: { model_name: 'ensemble', model_version: '1' } });
    expect((await json(served.app.request('/v2/models/student/versions/2'))).status).toBe(404);
    expect((await json(served.app.request('/v2/models/student/versions/2/ready'))).status).toBe(404);
    expect(
      (await json(post(served.app, '/v2/models/student/versions/2/infer', input(rows(1), [1, TINY_INPUT])))).status,
    ).toBe(404);
  });

  it('refuses an input the model does not have, answers every output for an empty outputs list, and names what is ' +
    'wrong', async () => {
    const misnamed = await infer('student', {
      inputs: [{ ...input(rows(1), [1, TINY_INPUT]).inputs[0], name: 'pixels' }],
    });
    expect(misnamed.status).toBe(400);
    expect(misnamed.body.error).toMatch(/unknown input "pixels": the model's input is "input"/);
    const all = await infer('ensemble', { ...input(rows(2)), outputs: [] });
    expect(all.body.outputs.map((o) => o.name)).toEqual(['probabilities', 'class', 'generalist_class',
      'active_specialists']);
    const strings = await json<{ details: { path: string; message: string }[] }>(
      post(served.app, '/v2/models/student/infer', input(['x', 'y'], [1, 2])),
    );
    expect(strings.body.details[0]).toMatchObject({ path: 'inputs.0.data',
      message: expect.stringMatching(/FP32 numbers/) });
    const unknown = await json<{ details: { path: string }[] }>(
      post(served.app, '/v2/models/student/infer', { ...input(rows(2)),
        outputs: [{ name: 'class' }, { name: 'logits' }] }),
    );
    expect(unknown).toMatchObject({ status: 400, body: { details: [{ path: 'outputs.1.name' }] } });
  });
});

// The binary tensor data extension, written from Triton's description of it: a JSON header of
// Inference-Header-Content-Length bytes, then each binary tensor's little-endian bytes in order.
describe('binary tensor data extension', () => {
  const encoder = new TextEncoder();
  /** A request with `x` as a binary FP32 input after a JSON header; `header` overrides fields of the header. */
  function binaryRequest(x: number[][], header: Record<string, unknown> = {}, extraBytes = 0): RequestInit {
    const floats = new Float32Array(x.flat());
    const json = encoder.encode(
      JSON.stringify({
        inputs: [{ name: 'input', shape: [x.length, x[0].length], datatype: 'FP32',
          parameters: { binary_data_size: floats.byteLength } }],
        ...header,
      }),
    );
    const body = new Uint8Array(json.length + floats.byteLength + extraBytes);
    body.set(json, 0);
    const view = new DataView(body.buffer);
    floats.forEach((v, i) => view.setFloat32(json.length + i * 4, v, true));
    return { method: 'POST', body,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) } };
  }
  /** Splits a binary answer into its JSON header and its outputs, decoded by datatype. */
  async function decode(
    res: Response,
  ): Promise<
    { header: { outputs: (Output & { parameters?: { binary_data_size: number } })[] };
      tensors: Record<string, (number | string)[]> }
  > {
    const bytes = new Uint8Array(await res.arrayBuffer());
    const length = Number(res.headers.get('inference-header-content-length'));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, length)));
    const view = new DataView(bytes.buffer, bytes.byteOffset + length);
    let at = 0;
    const tensors: Record<string, (number | string)[]> = {};
    for (const output of header.outputs) {
      const size = output.parameters?.binary_data_size;
      if (size === undefined) {
        tensors[output.name] = output.data;
        continue;
      }
      const values: (number | string)[] = [];
      for (let end = at + size; at < end;) {
        if (output.datatype === 'BYTES') {
          const n = view.getUint32(at, true);
          values.push(new TextDecoder().decode(bytes.subarray(length + at + 4, length + at + 4 + n)));
          at += 4 + n;
        } else {
          values.push(output.datatype === 'FP32' ? view.getFloat32(at, true) : view.getInt32(at, true));
          at += 4;
        }
      }
      tensors[output.name] = values;
    }
    expect(at).toBe(bytes.length - length); // every byte accounted for
    return { header, tensors };
  }

  it('is advertised in the server metadata', async () => {
    expect((await json(served.app.request('/v2'))).body).toMatchObject({
      extensions: expect.arrayContaining(['binary_tensor_data']),
    });
  });

  it('reads a binary input as the same rows as JSON, and answers JSON unless binary output is asked for', async () => {
    const data = rows(3);
    const viaJson = await infer('student', input(data, [3, TINY_INPUT]));
    const res = await served.app.request('/v2/models/student/infer', binaryRequest(data));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as InferBody).outputs).toEqual(viaJson.body.outputs);
  });

  it('answers every output in binary for binary_data_output, ' +
    'or only those marked binary_data, BYTES included', async () => {
    const data = rows(2);
    const viaJson = await infer('ensemble', input(data));
    const all = await decode(
      await served.app.request('/v2/models/ensemble/infer',
        binaryRequest(data, { parameters: { binary_data_output: true } })),
    );
    for (const output of viaJson.body.outputs) {
      const decoded = all.tensors[output.name];
      if (output.datatype === 'FP32') decoded.forEach((v, i) => expect(v).toBeCloseTo(output.data[i] as number, 6));
      else expect(decoded).toEqual(output.data);
    }
    expect(all.header.outputs.every((o) => o.parameters?.binary_data_size !== undefined && o.data === undefined)).toBe(
      true,
    );
    const some = await decode(
      await served.app.request('/v2/models/ensemble/infer',
        binaryRequest(data, {
          outputs: [{ name: 'class', parameters: { binary_data: true } }, { name: 'probabilities' }],
        })),
    );
    expect(some.header.outputs.map((o) => [o.name, o.parameters?.binary_data_size])).toEqual([['class', 8], [
      'probabilities',
      undefined,
    ]]);
    expect(some.tensors.class).toEqual(viaJson.body.outputs[1].data);
  });

  it('lets an output\'s own binary_data: false override binary_data_output, as the extension says', async () => {
    const data = rows(2);
    const viaJson = await infer('ensemble', input(data));
    const mixed = await decode(
      await served.app.request('/v2/models/ensemble/infer',
        binaryRequest(data, { parameters: { binary_data_output: true },
          outputs: [{ name: 'probabilities' }, { name: 'class', parameters: { binary_data: false } }] })),
    );
    expect(mixed.header.outputs.map((o) => [o.name, o.parameters?.binary_data_size !== undefined])).toEqual([
      ['probabilities', true], ['class', false]]);
    expect(mixed.header.outputs[1].data).toEqual(viaJson.body.outputs[1].data);
  });

  it('names what is wrong with a malformed binary request', async () => {
    const data = rows(2);
    const errorOf = async (init: RequestInit) => {
      const res = await served.app.request('/v2/models/student/infer', init);
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    expect(await errorOf(binaryRequest(data, {}, 4))).toMatchObject({ status: 400,
      error: expect.stringMatching(/has 132 bytes after its JSON header; binary_data_size says 128/) });
    const tooLong = binaryRequest(data);
    (tooLong.headers as Record<string, string>)['inference-header-content-length'] = '99999';
    expect(await errorOf(tooLong)).toMatchObject({ status: 400,
      error: expect.stringMatching(/Inference-Header-Content-Length must be a byte count within the body/) });
    const wrongSize = binaryRequest(data, {
      inputs: [{ name: 'input', shape: [2, TINY_INPUT], datatype: 'FP32', parameters: { binary_data_size: 12 } }],
    });
    expect(await errorOf(wrongSize)).toMatchObject({ status: 400,
      error: expect.stringMatching(/binary_data_size 12 does not fit shape \[2, 16\]/) });
    const both = binaryRequest(data, {
      inputs: [{ name: 'input', shape: [2, TINY_INPUT], datatype: 'FP32', data: data.flat(),
        parameters: { binary_data_size: 128 } }],
    });
    expect(await errorOf(both)).toMatchObject({ status: 400 });
    const nan = binaryRequest([[NaN, ...data[0].slice(1)], data[1]]);
    expect(await errorOf(nan)).toMatchObject({ status: 400, error: expect.stringMatching(/non-finite/) });
    for (const declared of ['abc', '-1', '1.5', '']) {
      const odd = binaryRequest(data);
      (odd.headers as Record<string, string>)['inference-header-content-length'] = declared;
      expect((await errorOf(odd)).status, declared || '(empty)').toBe(400);
    }
    const empty = { method: 'POST', body: new Uint8Array(0), headers: { 'inference-header-content-length': '0' } };
    expect(await errorOf(empty)).toMatchObject({ status: 400, error: expect.stringMatching(/are not JSON/) });
    const noHeader = binaryRequest(data);
    delete (noHeader.headers as Record<string, string>)['inference-header-content-length'];
    expect((await errorOf(noHeader)).status).toBe(415);
  });
});
