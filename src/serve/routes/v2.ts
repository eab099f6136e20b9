import type { OpenAPIHono } from '@hono/zod-openapi';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { MODEL_NAMES, type ModelName } from '../config.js';
import type { ServeContext } from '../context.js';
import type { AppEnv } from '../env.js';
import { fail, readJson, rejectInvalid } from '../errors.js';
import { deadlineOf, JSON_TYPE, jsonBody, refuseWhileDraining } from '../middleware.js';
import { type ModelSet, NonFiniteRow, type Prediction } from '../runtime/model-set.js';
import { topClasses } from '../runtime/predictions.js';
import { ANSWER_HEADERS, COMMON_RESPONSES, ERROR_RESPONSES, ErrorBody, header, jsonResponse,
  PUBLIC } from '../schemas.js';

// Open Inference Protocol v2 (KServe / Triton), JSON over HTTP. Errors keep our { error, details }
// shape, whose `error` string is what the protocol asks for.

/** The one input every model here takes, as its metadata names it. */
const INPUT_NAME = 'input';

const InferInput = z.object({
  name: z.string().min(1),
  shape: z.array(z.int().nonnegative()).min(2, 'must be [batch, input size]').max(2, 'must be [batch, input size]'),
  datatype: z.literal('FP32', 'must be FP32'),
  /** Flat row-major, or nested one array per row, as the protocol allows; absent when the tensor is sent as binary. */
  data: z.union([z.array(z.number()), z.array(z.array(z.number()))], {
    error: 'must be FP32 numbers: one flat row-major array, or one array per row',
  }).optional(),
  parameters: z.looseObject({ binary_data_size: z.int().nonnegative().optional() }).optional(),
}).refine((input) => (input.data === undefined) !== (input.parameters?.binary_data_size === undefined), {
  message: 'give the tensor either as data or as binary (parameters.binary_data_size), not both or neither',
  path: ['data'],
});

const OutputRequest = z.object({ name: z.string(),
  parameters: z.looseObject({ binary_data: z.boolean().optional() }).optional() });

const InferRequest = z.object({
  id: z.string().max(200).optional(),
  inputs: z.array(InferInput).min(1, 'these models take exactly one input')
    .max(1, 'these models take exactly one input'),
  outputs: z.array(OutputRequest).optional(),
  parameters: z.looseObject({ binary_data_output: z.boolean().optional() }).optional(),
});
type InferRequestBody = z.infer<typeof InferRequest>;

/**
 * The binary tensor data extension (Triton's): the body is a JSON header of this many bytes, then
 * each binary tensor's raw little-endian bytes in input order. It spares the server parsing 784
 * decimal numbers per image and the client printing them.
 */
const HEADER_LENGTH = 'Inference-Header-Content-Length';
const EXTENSIONS = ['binary_tensor_data'];

const OUTPUTS = ['probabilities', 'class', 'generalist_class', 'active_specialists'] as const;

/** The one version each model has; the protocol's versioned URLs name it. */
const VERSION = '1';

function modelOf(name: string, set: ModelSet, version?: string): ModelName {
  if (version !== undefined && version !== VERSION) {
    fail(404, `model ${name} has no version "${version}"`, { versions: [VERSION] });
  }
  if (!(MODEL_NAMES as readonly string[]).includes(name)) fail(404, `unknown model "${name}"`, { models: MODEL_NAMES });
  const model = name as ModelName;
  if (!set.has(model)) {
    fail(404, `model ${model} is not served from this bundle`, { reason: set.unavailable.get(model) ?? null });
  }
  return model;
}

function metadata(set: ModelSet, model: ModelName) {
  const outputs = [{ name: 'probabilities', datatype: 'FP32', shape: [-1, set.numClasses] }, { name: 'class',
    datatype: 'INT32', shape: [-1] },
    ...(model === 'ensemble' ?
      [{ name: 'generalist_class', datatype: 'INT32', shape: [-1] }, { name: 'active_specialists', datatype: 'BYTES',
        shape: [-1] }] :
      [])];
  return { name: model, versions: [VERSION], platform: 'tfjs_layers',
    inputs: [{ name: INPUT_NAME, datatype: 'FP32', shape: [-1, set.inputSize] }], outputs };
}

/** The one input as flat rows, after the checks the schema cannot make (they depend on the bundle). */
function rowsOf(input: z.infer<typeof InferInput>, set: ModelSet, maxInstances: number,
  binary: Uint8Array | undefined): { x: Float32Array; rows: number } {
  if (input.name !== INPUT_NAME) {
    fail(400, `unknown input "${input.name}": the model's input is "${INPUT_NAME}"`, [{ path: 'inputs.0.name',
      message: `must be "${INPUT_NAME}"` }]);
  }
  const [rows, width] = input.shape;
  if (width !== set.inputSize) {
    fail(400, `input shape [${rows}, ${width}] does not fit the model`, { expected: [-1, set.inputSize] });
  }
  if (rows < 1) fail(400, 'input has no rows', { shape: input.shape });
  if (rows > maxInstances) fail(413, 'too many instances', { max: maxInstances, got: rows });
  if (input.data === undefined) {
    return { x: binaryRows(input.parameters!.binary_data_size!, rows, width, binary), rows };
  }
  const nested = input.data.length > 0 && Array.isArray(input.data[0]);
  if (nested && (input.data.length !== rows || (input.data as number[][]).some((row) => row.length !== width))) {
    fail(400, 'nested data does not match shape', { shape: input.shape });
  }
  const flat = nested ? (input.data as number[][]).flat() : (input.data as number[]);
  if (flat.length !== rows * width) {
    fail(400, `data has ${flat.length} values, shape [${rows}, ${width}] needs ${rows * width}`, {
      shape: input.shape,
    });
  }
  const x = Float32Array.from(flat);
  if (!x.every(Number.isFinite)) fail(400, 'data has values outside the float32 range', null);
  return { x, rows };
}

/** FP32 rows from the bytes after the JSON header: exactly rows × width little-endian floats, all finite. */
function binaryRows(size: number, rows: number, width: number, binary: Uint8Array | undefined): Float32Array {
  if (!binary) {
    fail(400, `input "${INPUT_NAME}" has binary_data_size but the request has no ${HEADER_LENGTH} header`, null);
  }
  if (size !== rows * width * 4) {
    fail(400, `binary_data_size ${size} does not fit shape [${rows}, ${width}] of FP32: it must be ${rows * width * 4}`,
      { shape: [rows, width] });
  }
  if (binary.length !== size) {
    fail(400, `the body has ${binary.length} bytes after its JSON header; binary_data_size says ${size}`, null);
  }
  const view = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
  const x = new Float32Array(rows * width);
  for (let i = 0; i < x.length; i++) x[i] = view.getFloat32(i * 4, true);
  if (!x.every(Number.isFinite)) fail(400, 'binary data has non-finite values (NaN or infinity)', null);
  return x;
}

/** The outputs a request asked for (all when it names none, as Triton does), checked before any work is done. */
function outputNames(model: ModelName, wanted: string[] | undefined): (typeof OUTPUTS)[number][] {
  const available: readonly string[] = model === 'ensemble' ? OUTPUTS : OUTPUTS.slice(0, 2);
  const unknown = wanted?.findIndex((name) => !available.includes(name)) ?? -1;
  if (unknown >= 0) {
    fail(400, `unknown output "${wanted![unknown]}"`, [{ path: `outputs.${unknown}.name`,
      message: `one of ${available.join(', ')}` }]);
  }
  return (wanted?.length ? wanted : available) as (typeof OUTPUTS)[number][];
}

/** The request: plain JSON, or a JSON header followed by binary tensors (the binary tensor data extension). */
async function inferBody(c: Context<AppEnv>): Promise<{ body: InferRequestBody; binary?: Uint8Array }> {
  const declared = c.req.header(HEADER_LENGTH);
  if (declared === undefined) return { body: await inferRequest(c) };
  const headerBytes = Number(declared);
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (!Number.isInteger(headerBytes) || headerBytes < 0 || headerBytes > bytes.length) {
    fail(400, `${HEADER_LENGTH} must be a byte count within the body`, { got: declared, bodyBytes: bytes.length });
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, headerBytes)));
  } catch {
    fail(400, `the first ${headerBytes} bytes of the body (${HEADER_LENGTH}) are not JSON`);
  }
  const parsed = InferRequest.safeParse(json);
  if (!parsed.success) rejectInvalid('json', parsed.error);
  return { body: parsed.data, binary: bytes.subarray(headerBytes) };
}

/** The body as JSON whatever its Content-Type (see jsonBody's anyType); 415 when it is neither JSON nor labelled so. */
function inferRequest(c: Context<AppEnv>): Promise<InferRequestBody> {
  const type = c.req.header('content-type');
  if (!type || JSON_TYPE.test(type)) return readJson(c, InferRequest);
  return readJson(c, InferRequest,
    () =>
      fail(415, 'the body is not JSON (and its Content-Type does not say JSON)', { got: type,
        accepted: 'application/json' }));
}

type Tensor = { datatype: 'FP32' | 'INT32' | 'BYTES'; shape: number[]; data: (number | string)[] };

function outputTensors(raw: Prediction[], set: ModelSet,
  names: (typeof OUTPUTS)[number][]): (Tensor & { name: string })[] {
  const B = raw.length;
  const all: Record<(typeof OUTPUTS)[number], Tensor> = {
    probabilities: { datatype: 'FP32', shape: [B, set.numClasses],
      data: raw.flatMap((p) => Array.from(p.probabilities)) },
    class: { datatype: 'INT32', shape: [B], data: raw.map((p) => topClasses(p.probabilities, 1)[0]) },
    generalist_class: { datatype: 'INT32', shape: [B], data: raw.map((p) => p.ensemble?.generalistTop ?? -1) },
    active_specialists: { datatype: 'BYTES', shape: [B], data: raw.map((p) => (p.ensemble?.active ?? []).join(',')) },
  };
  return names.map((name) => ({ name, ...all[name] }));
}

/**
 * A tensor's data as the extension lays it out: little-endian numbers; BYTES as a 4-byte length, then the bytes, per
 * element.
 */
function tensorBytes({ datatype, data }: Tensor): Uint8Array {
  if (datatype === 'BYTES') {
    const encoder = new TextEncoder();
    const parts = data.map((value) => encoder.encode(String(value)));
    const out = new Uint8Array(parts.reduce((n, part) => n + 4 + part.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const part of parts) {
      view.setUint32(at, part.length, true);
      out.set(part, at + 4);
      at += 4 + part.length;
    }
    return out;
  }
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  data.forEach((value,
    i) => (datatype === 'FP32' ?
      view.setFloat32(i * 4, value as number, true) :
      view.setInt32(i * 4, value as number, true))
  );
  return out;
}

/**
 * The answer: JSON, or with the outputs asked for as binary (per output `binary_data`, or
 * `binary_data_output` for all) a JSON header and their bytes after it, its length in the header.
 */
function inferAnswer(c: Context<AppEnv>, header: { model_name: string; model_version: string; id: string },
  outputs: (Tensor & { name: string })[], request: InferRequestBody): Response {
  const allBinary = request.parameters?.binary_data_output === true;
  // An output's own binary_data, when given, overrides binary_data_output (the extension's rule).
  const binary = new Set(
    outputs.filter((o) =>
      request.outputs?.find((r) => r.name === o.name)?.parameters?.binary_data ?? allBinary
    ).map((o) => o.name),
  );
  if (binary.size === 0) return c.json({ ...header, outputs });
  const blobs: Uint8Array[] = [];
  const described = outputs.map(({ data, ...rest }) => {
    if (!binary.has(rest.name)) return { ...rest, data };
    const bytes = tensorBytes({ ...rest, data });
    blobs.push(bytes);
    return { ...rest, parameters: { binary_data_size: bytes.length } };
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...header, outputs: described }));
  const body = new Uint8Array(json.length + blobs.reduce((n, b) => n + b.length, 0));
  body.set(json, 0);
  let at = json.length;
  for (const blob of blobs) {
    body.set(blob, at);
    at += blob.length;
  }
  c.header(HEADER_LENGTH, String(json.length));
  c.header('Content-Type', 'application/octet-stream');
  return c.body(body);
}

const Tensor = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.int()),
  data: z.array(z.union([z.number(), z.string()])) });
const InferResponse = z.object({ model_name: z.string(), model_version: z.string(), id: z.string(),
  outputs: z.array(Tensor) });
const TensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.int()) });
const ModelMetadata = z.object({ name: z.string(), versions: z.array(z.string()), platform: z.string(),
  inputs: z.array(TensorMetadata), outputs: z.array(TensorMetadata) });

/** The v2 routes in the OpenAPI document: written with plain Hono (the protocol fixes their shapes), described here. */
export function documentV2(registry: OpenAPIHono['openAPIRegistry']): void {
  const ok = (schema: z.ZodType, description: string) => ({ 200: jsonResponse(schema, description),
    ...COMMON_RESPONSES });
  const notReady = { 503: jsonResponse(ErrorBody, 'Not ready: loading or draining') };
  const unknown = { 404: jsonResponse(ErrorBody, 'Unknown model or version, or one this bundle does not serve') };
  const get = (path: string, operationId: string, summary: string, responses: Record<number, unknown>,
    params?: z.ZodObject) =>
    registry.registerPath({ method: 'get', path, operationId, summary, tags: ['v2'], ...PUBLIC,
      ...(params ? { request: { params } } : {}), responses: responses as never });
  get('/v2', 'v2ServerMetadata', 'Server metadata: name, version, protocol extensions',
    ok(z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }), 'Server metadata'));
  get('/v2/health/live', 'v2Live', 'Liveness (also on --health-port, answered by its own thread)',
    ok(z.object({ live: z.literal(true) }), 'Live'));
  get('/v2/health/ready', 'v2Ready', 'Readiness: false while loading or draining', {
    ...ok(z.object({ ready: z.literal(true) }), 'Ready'),
    ...notReady,
  });
  const name = z.object({ name: z.enum(MODEL_NAMES) });
  const versioned = name.extend({ version: z.literal(VERSION) });
  for (const [prefix, params, suffix] of [['/v2/models/{name}', name, ''], ['/v2/models/{name}/versions/{version}',
    versioned, 'Versioned']] as const) {
    get(prefix, `v2ModelMetadata${suffix}`, 'Model metadata: its input and outputs with their shapes and datatypes', {
      ...ok(ModelMetadata, 'Model metadata'),
      ...unknown,
    }, params);
    get(`${prefix}/ready`, `v2ModelReady${suffix}`, 'Whether this model can take requests', {
      ...ok(z.object({ name: z.string(), ready: z.literal(true) }), 'Ready'),
      ...unknown,
      ...notReady,
    }, params);
    registry.registerPath({
      method: 'post',
      path: `${prefix}/infer`,
      operationId: `v2Infer${suffix}`,
      tags: ['v2'],
      ...PUBLIC,
      summary:
        'Inference: one FP32 input [batch, features]; outputs probabilities and class (the ensemble also ' +
          'generalist_class and active_specialists); a JSON body is read whatever its Content-Type',
      request: {
        params,
        headers: z.object({
          [HEADER_LENGTH]: z.string().optional().openapi({
            description:
              'Binary tensor data extension: the body is a JSON header of this many bytes, then the binary tensors',
          }),
        }),
        body: {
          content: {
            'application/json': { schema: InferRequest },
            'application/octet-stream': {
              schema: z.string().openapi({ format: 'binary',
                description:
                  `A JSON header (${HEADER_LENGTH} bytes) followed by each binary input's little-endian bytes` }),
            },
          },
          required: true,
        },
      },
      responses: {
        ...ERROR_RESPONSES,
        ...unknown,
        200: {
          description:
            'The requested outputs, or all of them; those asked for as binary follow a JSON header whose length is ' +
              'in Inference-Header-Content-Length',
          headers: { ...ANSWER_HEADERS,
            [HEADER_LENGTH]: header('Present when outputs are binary: the length of the JSON header', 'integer') },
          content: { 'application/json': { schema: InferResponse },
            'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
        },
      } as never,
    });
  }
}

/** GET /v2, /v2/health/{live,ready}, /v2/models/{name}[/ready], POST /v2/models/{name}/infer. */
export function v2Routes(ctx: ServeContext): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/v2', function serverMetadata(c) {
    return c.json({ name: 'distill-serve', version: '1', extensions: EXTENSIONS });
  });
  app.get('/v2/health/live', function live(c) {
    return c.json({ live: true });
  });
  app.get('/v2/health/ready', function ready(c) {
    if (!ctx.lifecycle.isReady) fail(503, 'not ready', { draining: ctx.lifecycle.isDraining });
    return c.json({ ready: true });
  });
  // Each route also under /versions/{version}, which tritonclient uses whenever a version is given.
  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    app.get(prefix, function modelMetadata(c) {
      const set = ctx.registry.current;
      return c.json(metadata(set, modelOf(c.req.param('name') ?? '', set, c.req.param('version'))));
    });
    app.get(`${prefix}/ready`, function modelReady(c) {
      const model = modelOf(c.req.param('name') ?? '', ctx.registry.current, c.req.param('version'));
      if (!ctx.lifecycle.isReady) fail(503, 'not ready', { model, draining: ctx.lifecycle.isDraining });
      return c.json({ name: model, ready: true });
    });
    app.post(`${prefix}/infer`, refuseWhileDraining(ctx.lifecycle),
      jsonBody(ctx.config.limits.maxBodyBytes, { anyType: true }), async function infer(c) {
      const deadlineAt = deadlineOf(c, ctx.config.batching.deadlineMs);
      const lease = ctx.registry.acquire();
      try {
        const model = modelOf(c.req.param('name') ?? '', lease.set, c.req.param('version'));
        c.set('model', model);
        const { body, binary } = await inferBody(c);
        const item = rowsOf(body.inputs[0], lease.set, ctx.config.limits.maxInstances, binary);
        const names = outputNames(model, body.outputs?.map((o) => o.name));
        const raw = await lease.set.predict(model, item, deadlineAt).catch((error: unknown) => {
          if (!(error instanceof NonFiniteRow)) throw error;
          // Triton answers inputs a model cannot take with 400.
          return fail(400, `row ${error.row} of input "${INPUT_NAME}" makes the model's output non-finite`, [{
            path: 'inputs.0.data',
            message: `row ${error.row}: values so far outside the training range that the forward pass overflows`,
          }]);
        });
        return inferAnswer(c, { model_name: model, model_version: VERSION, id: body.id ?? c.get('requestId') },
          outputTensors(raw, lease.set, names), body);
      } finally {
        lease.release();
      }
    });
  }
  return app;
}
