import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Container, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { SERVE_ENV_VARIABLES } from '../../src/serve/index.js';

// The deployment files, checked against the Kubernetes API schemas (kubernetes-models' JSON
// schemas) and against the server they deploy: its env variables, its probe routes and ports.

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const MODELS: Record<string, new(data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
};

function manifests(dir: string): { file: string; doc: Manifest }[] {
  return readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => ({ file, doc: d.toJS() as Manifest }))
  );
}

const kubernetes = manifests('deploy/kubernetes');
const kserve = manifests('deploy/kserve');
type PodContainer = { name: string; env?: { name: string }[]; ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: number | string } };
  livenessProbe?: { httpGet: { path: string; port: number | string } } };
const containersOf = (doc: Manifest): PodContainer[] =>
  doc.kind === 'InferenceService' ?
    (doc.spec.predictor as { containers: PodContainer[] }).containers :
    doc.kind === 'Deployment' ?
    (doc.spec.template as { spec: { containers: PodContainer[] } }).spec.containers :
    [];
/** The Dockerfile's ENV settings: the defaults every manifest builds on. */
const dockerEnv = Object.fromEntries(
  [...readFileSync('Dockerfile', 'utf8').matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+)/gm)].map((m) => [m[1], m[2]]),
);

describe('deploy/', () => {
  it('validates every Kubernetes manifest against the API schema', () => {
    expect(kubernetes.map((m) => m.doc.kind).sort()).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'Job', 'Job',
      'Job', 'Service']);
    for (const { file, doc } of kubernetes) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model(doc as never).validate(), file).not.toThrow();
    }
  });

  it('would catch a broken manifest (the check can fail)', () => {
    const deployment = structuredClone(kubernetes.find((m) => m.doc.kind === 'Deployment')!.doc);
    containersOf(deployment)[0].ports![0].containerPort = 'http' as never;
    expect(() => new Deployment(deployment as never).validate()).toThrow();
  });

  it('runs the pipeline as prepare → indexed specialists → assemble, with flags the pipeline script takes', () => {
    const jobs = kubernetes.filter((m) => m.doc.kind === 'Job').map((m) =>
      m.doc as Manifest & {
        spec: { completionMode?: string; completions?: number;
          template: { spec: { containers: { command: string[] }[] } } };
      }
    );
    expect(jobs.map((j) => j.metadata.name)).toEqual(['distill-prepare', 'distill-specialists', 'distill-assemble']);
    const commands = jobs.map((j) => j.spec.template.spec.containers[0].command);
    expect(commands.map((c) => c.slice(0, 4))).toEqual(
      Array(3).fill(['node', '--import', 'tsx', 'scripts/pipeline.ts']),
    );
    expect(commands[0]).toContain('--until');
    const indexed = jobs[1];
    expect(indexed.spec.completionMode).toBe('Indexed');
    expect(commands[1][commands[1].indexOf('--count') + 1]).toBe(String(indexed.spec.completions));
    expect(commands[2]).toContain('--assemble');
    // Every flag used is one scripts/pipeline.ts declares.
    const script = readFileSync('scripts/pipeline.ts', 'utf8');
    for (const flag of commands.flat().filter((a) => a.startsWith('--') && a !== '--import')) {
      expect(script, flag).toMatch(new RegExp(`\\b${flag.slice(2)}: \\{ type:`));
    }
  });

  it('gives the KServe predictor a schema-valid container, as a RawDeployment speaking v2', () => {
    const [{ doc }] = kserve;
    expect(doc).toMatchObject({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService',
      metadata: { annotations: { 'serving.kserve.io/deploymentMode': 'RawDeployment' } } });
    for (const container of containersOf(doc)) expect(() => new Container(container as never).validate()).not.toThrow();
    expect(containersOf(doc)[0].name).toBe('kserve-container');
  });

  it('sets only env variables the server reads, probes its health routes on the probe port, serves on its port', () => {
    expect(Object.keys(dockerEnv).filter((name) => name !== 'NODE_ENV' && !SERVE_ENV_VARIABLES.includes(name))).toEqual(
      [],
    );
    for (const { file, doc } of [...kubernetes, ...kserve]) {
      for (const container of containersOf(doc)) {
        for (const { name } of container.env ?? []) expect(SERVE_ENV_VARIABLES, `${file}: ${name}`).toContain(name);
        const portOf = (
          port: number | string,
        ) => (typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort);
        expect(container.readinessProbe?.httpGet.path).toBe('/v2/health/ready');
        expect(container.livenessProbe?.httpGet.path).toBe('/v2/health/live');
        expect(portOf(container.readinessProbe!.httpGet.port)).toBe(Number(dockerEnv.SERVE_HEALTH_PORT));
        expect(container.ports?.map((p) => p.containerPort)).toContain(Number(dockerEnv.PORT));
      }
    }
  });
});
