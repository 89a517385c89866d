import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { WORKER_SUBSCRIPTION } from '@agent-mesh/agents/worker';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { renderKubernetes } from './kubernetes';
import { AGENT_ROLES, agentEnvironment, meshTopology } from './topology';

const root = join(__dirname, '..', '..', '..');
const base = join(root, 'deploy', 'k8s', 'base');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

/**
 * The base as `kubectl apply -k` would send it: every resource the kustomization lists, with its
 * namespace set. (kustomize itself is not installable here; this reads only what the base uses.)
 */
function renderBase(): Manifest[] {
  const kustomization = parseAllDocuments(readFileSync(join(base, 'kustomization.yaml'), 'utf8'))[0].toJS() as {
    namespace: string;
    resources: string[];
  };
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(base, file), 'utf8')).map((doc) => {
      const manifest = doc.toJS() as Manifest;
      return manifest.kind === 'Namespace'
        ? manifest
        : { ...manifest, metadata: { ...manifest.metadata, namespace: kustomization.namespace } };
    }),
  );
}

/** The maintained models (kubernetes-models, @kubernetes-models/keda) validate against the API's JSON schemas. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
};

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

describe('deploy/k8s (Kustomize base)', () => {
  const manifests = renderBase();
  const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);

  it('holds what libs/topology generates (regenerate with `npm run deploy:generate`)', () => {
    for (const [file, content] of Object.entries(renderKubernetes())) {
      expect({ file, content: readFileSync(join(root, file), 'utf8') }).toEqual({ file, content });
    }
  });

  it('renders, and every object validates against the Kubernetes and KEDA schemas', () => {
    expect(manifests.length).toBeGreaterThan(AGENT_ROLES.length * 3);
    for (const manifest of manifests) {
      expect(() => validate(manifest)).not.toThrow();
    }
  });

  it('the validation can fail: a Deployment with a bad container is refused', () => {
    const deployment = structuredClone(ofKind('Deployment')[0]) as unknown as {
      spec: { template: { spec: { containers: unknown[] } } };
    };
    deployment.spec.template.spec.containers = [{ name: 'x', image: 5 }];
    expect(() => validate(deployment as unknown as Manifest)).toThrow(/image must be string/);
  });

  it('has, for every role, a Deployment with probes and resources, a PodDisruptionBudget and a Service', () => {
    for (const role of AGENT_ROLES) {
      const deployment = new Deployment(ofKind('Deployment').find((d) => d.metadata.name === role) as never);
      const container = deployment.spec?.template.spec?.containers[0];
      expect(container?.args).toEqual([role]);
      expect(container?.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(container?.readinessProbe?.httpGet?.path).toBe('/health/ready');
      expect(container?.resources?.requests?.['memory']).toBeDefined();
      const selector = deployment.spec?.selector.matchLabels;
      const pdb = ofKind('PodDisruptionBudget').find((p) => p.metadata.name === role);
      expect((pdb?.spec?.['selector'] as { matchLabels: unknown }).matchLabels).toEqual(selector);
      expect(ofKind('Service').some((s) => s.metadata.name === role)).toBe(true);
    }
  });

  it('the KEDA ScaledObject scales the workers on the backlog of their subscription of every tasks.<skill>', () => {
    const [scaled] = ofKind('ScaledObject');
    const spec = new ScaledObject(scaled as never).spec;
    expect(ofKind('Deployment').map((d) => d.metadata.name)).toContain(spec.scaleTargetRef.name);
    expect(spec.scaleTargetRef.name).toBe('worker');
    const triggers = spec.triggers.map((t) => ({
      type: t.type,
      topic: t.metadata['topic'],
      subscription: t.metadata['subscription'],
    }));
    expect(triggers).toEqual(
      createDefaultSkillRegistry()
        .names()
        .sort()
        .map((skill) => ({
          type: 'pulsar',
          topic: `persistent://agentmesh/mesh/tasks.${skill}`,
          subscription: WORKER_SUBSCRIPTION,
        })),
    );
  });

  it('the ConfigMap sets every setting an agent gets in compose and locally', () => {
    const [config] = ofKind('ConfigMap');
    const [agent] = meshTopology({ regions: 1, workers: 1 }).regions[0].agents;
    const settings = Object.keys(
      agentEnvironment(agent, {
        pulsarHost: 'h',
        pulsarWebPort: 1,
        pulsarBrokerPort: 1,
        redisHost: 'h',
        redisPort: 1,
        port: 1,
        bind: 'h',
        peerPulsarWebUrls: [],
      }),
    );
    expect(Object.keys(config.data ?? {}).sort()).toEqual(expect.arrayContaining(settings.sort()));
  });
});
