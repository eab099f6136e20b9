import { describe, expect, it } from 'vitest';
import { allowedHostsOf, configFromArgs, parseServeConfig } from '../../src/serve/index.js';

describe('server config', () => {
  it('fills defaults: loopback, 50/50 student/ensemble, no shadow, no admin token', () => {
    const config = parseServeConfig({ bundleDir: 'models/default' });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, workers: 1, shadow: false, blasThreads: 1 });
    expect(config.adminToken).toBeUndefined();
    expect(config.ab).toEqual([{ variant: 'student', weight: 50 }, { variant: 'ensemble', weight: 50 }]);
    expect(config.batching).toEqual({ maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 256, deadlineMs: 5000 });
  });

  it('reads flags over environment variables over defaults', () => {
    const env = { SERVE_BUNDLE: 'models/env', PORT: '9000', SERVE_MAX_BATCH_SIZE: '16',
      SERVE_ADMIN_TOKEN: 'a-token-of-sixteen+', SERVE_SHADOW: 'true' };
    const config = configFromArgs(['--bundle', 'models/flag', '--ab', 'student:90,generalist:10', '--workers', '2',
      '--max-queue-delay-ms', '0.5'], env);
    expect(config).toMatchObject({ bundleDir: 'models/flag', port: 9000, workers: 2, shadow: true,
      adminToken: 'a-token-of-sixteen+' });
    expect(config.batching).toMatchObject({ maxBatchSize: 16, maxQueueDelayMs: 0.5 });
    expect(config.ab).toEqual([{ variant: 'student', weight: 90 }, { variant: 'generalist', weight: 10 }]);
    expect(configFromArgs(['--bundle', 'b', '--shadow']).shadow).toBe(true);
    expect(configFromArgs(['--bundle', 'b'], { SERVE_BLAS_THREADS: '2' }).blasThreads).toBe(2);
    expect(configFromArgs(['--bundle', 'b', '--blas-threads', '4'], { SERVE_BLAS_THREADS: '2' }).blasThreads).toBe(4);
    expect(configFromArgs(['--bundle', 'b']).studentRuntime).toBe('compiled');
    expect(configFromArgs(['--bundle', 'b'], { SERVE_STUDENT_RUNTIME: 'onnx' }).studentRuntime).toBe('onnx');
    expect(() => configFromArgs(['--bundle', 'b', '--student-runtime', 'tflite'])).toThrow(
      /studentRuntime: .*"compiled"/,
    );
  });

  it('answers only loopback Host names when bound to loopback; any when bound wider or told "*"', () => {
    expect(allowedHostsOf(parseServeConfig({ bundleDir: 'b' }))).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(allowedHostsOf(parseServeConfig({ bundleDir: 'b', host: '0.0.0.0' }))).toBeUndefined();
    const named = configFromArgs(['--bundle', 'b', '--host', '0.0.0.0', '--allowed-hosts',
      'Serve.Example.com, localhost']);
    expect(allowedHostsOf(named)).toEqual(['serve.example.com', 'localhost']);
    expect(allowedHostsOf(configFromArgs(['--bundle', 'b', '--allowed-hosts', '*']))).toBeUndefined();
    expect(configFromArgs(['--bundle', 'b'], { SERVE_MAX_CONNECTIONS: '64' }).limits.maxConnections).toBe(64);
    expect(() => configFromArgs(['--bundle', 'b', '--allowed-hosts', ' , '])).toThrow(
      /allowedHosts: name at least one host/,
    );
    expect(() => configFromArgs(['--bundle', 'b', '--max-connections', '0'])).toThrow(/limits\.maxConnections/);
    expect(() => configFromArgs(['--bundle', 'b', '--max-connections', 'lots'])).toThrow(/limits\.maxConnections/);
    const limits = configFromArgs(['--bundle', 'b', '--requests-per-turn', '8'], { SERVE_MAX_WAITING: '16' }).limits;
    expect([limits.requestsPerTurn, limits.maxWaiting]).toEqual([8, 16]);
    expect(configFromArgs(['--bundle', 'b']).limits).toMatchObject({ requestsPerTurn: 64, maxWaiting: 1024,
      bodyBytesPerTurn: 384 * 1024 });
    expect(configFromArgs(['--bundle', 'b', '--body-bytes-per-turn', '65536']).limits.bodyBytesPerTurn).toBe(65536);
    expect(configFromArgs(['--bundle', 'b'], { SERVE_BODY_BYTES_PER_TURN: '2048' }).limits.bodyBytesPerTurn).toBe(2048);
    expect(() => configFromArgs(['--bundle', 'b', '--body-bytes-per-turn', '10'])).toThrow(/limits\.bodyBytesPerTurn/);
    // An empty value is no value (an empty env var), as for every flag: the default stands.
    expect(configFromArgs(['--bundle', 'b', '--requests-per-turn=']).limits.requestsPerTurn).toBe(64);
    for (const bad of ['0', '-1', '2.5', 'NaN', 'Infinity', '1e9']) {
      const args = (flag: string) => ['--bundle', 'b', `--${flag}=${bad}`];
      expect(() => configFromArgs(args('requests-per-turn')), bad).toThrow(/limits\.requestsPerTurn/);
      expect(() => configFromArgs(args('max-waiting')), bad).toThrow(/limits\.maxWaiting/);
    }
    expect(configFromArgs(['--bundle', 'b']).limits.acceptFirstMs).toBe(100);
    expect(configFromArgs(['--bundle', 'b', '--accept-first-ms', '0']).limits.acceptFirstMs).toBe(0);
    expect(configFromArgs(['--bundle', 'b'], { SERVE_ACCEPT_FIRST_MS: '250' }).limits.acceptFirstMs).toBe(250);
    for (const bad of ['-1', '2.5', 'NaN', 'Infinity', '1e9', 'soon']) {
      expect(() => configFromArgs(['--bundle', 'b', `--accept-first-ms=${bad}`]), bad).toThrow(/limits\.acceptFirstMs/);
    }
    expect(() => configFromArgs(['--bundle', 'b', '--health-port', '70000'])).toThrow(/healthPort/);
    expect(() => configFromArgs(['--bundle', 'b', '--health-port', '80.5'])).toThrow(/healthPort/);
  });

  it('rejects bad values naming each field', () => {
    expect(() => configFromArgs(['--port', 'eighty'])).toThrow(/bundleDir[\s\S]*port/);
    expect(() => configFromArgs(['--bundle', 'b', '--ab', 'student:50,oracle:50'])).toThrow(/ab/);
    expect(() => configFromArgs(['--bundle', 'b', '--ab', 'student:0'])).toThrow(/positive weight/);
    expect(() => configFromArgs(['--bundle', 'b', '--ab', 'student:1,student:2'])).toThrow(/twice/);
    expect(() => configFromArgs(['--bundle', 'b', '--admin-token', 'short'])).toThrow(
      /adminToken: must be at least 16/,
    );
    expect(() => configFromArgs(['--bundle', 'b', '--max-batch-size', '0'])).toThrow(/batching\.maxBatchSize/);
    expect(() => configFromArgs(['--bundel', 'b'])).toThrow(/bundel/);
    expect(() => configFromArgs(['--bundle', 'b', '--blas-threads', '0'])).toThrow(/blasThreads/);
  });
});
