import { stringify } from 'yaml';
import { WORKER_SUBSCRIPTION } from '@agent-mesh/agents/worker';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';
import { AGENT_CONTAINER_PORT, AGENT_ROLES, type AgentRole } from './topology';

/** The generated files of the Kustomize base in deploy/k8s/base (the rest of it is written by hand). */
export const KUBERNETES_FILES = {
  agents: 'deploy/k8s/base/agents.yaml',
  scaledObject: 'deploy/k8s/base/worker-scaledobject.yaml',
} as const;

/** The Pulsar admin URL and tenant/namespace the autoscaler reads backlogs from (the official chart's broker). */
const PULSAR_ADMIN_URL = 'http://pulsar-broker.pulsar.svc.cluster.local:8080';
const TOPIC_PREFIX = 'persistent://agentmesh/mesh';

type Manifest = Record<string, unknown>;

const labelsOf = (role: AgentRole) => ({ 'app.kubernetes.io/name': 'agent-mesh', 'app.kubernetes.io/component': role });

/** Memory requests sized from the benchmark's per-role figures (docs/deploy.md, "Sizing"). */
const RESOURCES: Readonly<Record<AgentRole, { cpu: string; memory: string; memoryLimit: string }>> = {
  orchestrator: { cpu: '200m', memory: '192Mi', memoryLimit: '512Mi' },
  aggregator: { cpu: '100m', memory: '160Mi', memoryLimit: '384Mi' },
  'market-maker': { cpu: '100m', memory: '160Mi', memoryLimit: '384Mi' },
  'saga-coordinator': { cpu: '100m', memory: '160Mi', memoryLimit: '384Mi' },
  worker: { cpu: '250m', memory: '192Mi', memoryLimit: '512Mi' },
};

function deployment(role: AgentRole): Manifest {
  const probe = (path: string, initialDelaySeconds: number) => ({
    httpGet: { path, port: 'http' },
    initialDelaySeconds,
    periodSeconds: 10,
    timeoutSeconds: 5,
    failureThreshold: 3,
  });
  const { cpu, memory, memoryLimit } = RESOURCES[role];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: role, labels: labelsOf(role) },
    spec: {
      replicas: role === 'worker' ? 2 : 1,
      selector: { matchLabels: labelsOf(role) },
      template: {
        metadata: { labels: labelsOf(role) },
        spec: {
          // Graceful shutdown drains in-flight messages for up to DRAIN_TIMEOUT_MS (30 s).
          terminationGracePeriodSeconds: 45,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
          containers: [
            {
              name: role,
              image: 'agent-mesh',
              args: [role],
              ports: [{ name: 'http', containerPort: AGENT_CONTAINER_PORT }],
              envFrom: [{ configMapRef: { name: 'agent-mesh-config' } }, { secretRef: { name: 'agent-mesh-secrets' } }],
              livenessProbe: probe('/health/live', 20),
              readinessProbe: probe('/health/ready', 5),
              resources: { requests: { cpu, memory }, limits: { memory: memoryLimit } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

/** Workers may lose one pod at a time to a drain; a single-replica role may be moved (its work waits in Pulsar). */
function disruptionBudget(role: AgentRole): Manifest {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: role, labels: labelsOf(role) },
    spec: {
      ...(role === 'worker' ? { minAvailable: 1 } : { maxUnavailable: 1 }),
      selector: { matchLabels: labelsOf(role) },
    },
  };
}

function service(role: AgentRole): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: role, labels: labelsOf(role) },
    spec: { selector: labelsOf(role), ports: [{ name: 'http', port: AGENT_CONTAINER_PORT, targetPort: 'http' }] },
  };
}

/** Deployments, Services (for the API and /metrics) and PodDisruptionBudgets of every role. */
export function agentManifests(): Manifest[] {
  return AGENT_ROLES.flatMap((role) => [deployment(role), service(role), disruptionBudget(role)]);
}

/**
 * The workers' autoscaler: KEDA's Pulsar scaler on the backlog of the workers' subscription of
 * each built-in skill's `tasks.<skill>` topic.
 */
export function workerScaledObject(skills: readonly string[] = createDefaultSkillRegistry().names()): Manifest {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: 'worker', labels: labelsOf('worker') },
    spec: {
      scaleTargetRef: { name: 'worker' },
      minReplicaCount: 1,
      maxReplicaCount: 20,
      pollingInterval: 15,
      cooldownPeriod: 120,
      triggers: [...skills].sort().map((skill) => ({
        type: 'pulsar',
        metadata: {
          adminURL: PULSAR_ADMIN_URL,
          topic: `${TOPIC_PREFIX}/tasks.${skill}`,
          subscription: WORKER_SUBSCRIPTION,
          msgBacklogThreshold: '20',
          isPartitionedTopic: 'false',
        },
      })),
    },
  };
}

const GENERATED = '# Generated from libs/topology by `npm run deploy:generate`; change it there (or in an overlay).\n';

export function renderYamlDocuments(manifests: readonly Manifest[]): string {
  return GENERATED + manifests.map((m) => stringify(m, { lineWidth: 0, version: '1.1' })).join('---\n');
}

/** The generated files of deploy/k8s/base, path → content. */
export function renderKubernetes(): Record<string, string> {
  return {
    [KUBERNETES_FILES.agents]: renderYamlDocuments(agentManifests()),
    [KUBERNETES_FILES.scaledObject]: renderYamlDocuments([workerScaledObject()]),
  };
}
