/**
 * Where the real-broker suites find Pulsar, and whether they run. `tools/run-tests.sh` probes
 * the broker (or starts it with deploy/pulsar) and sets MESH_PULSAR_TESTS; in CI it is always
 * 'run', so a missing broker fails the suites instead of skipping them.
 */
export interface PulsarTestEnvironment {
  readonly webUrl: string;
  readonly serviceUrl: string;
  readonly tenant: string;
  readonly namespace: string;
  /** Why the suites are skipped, or undefined when they run. */
  readonly skipReason?: string;
}

export function pulsarTestEnvironment(): PulsarTestEnvironment {
  const webUrl = (process.env['PULSAR_WEB_URL'] || 'http://127.0.0.1:8080').replace(/\/$/, '');
  const decision = process.env['MESH_PULSAR_TESTS'] ?? 'run';
  const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';
  return {
    webUrl,
    serviceUrl: process.env['PULSAR_SERVICE_URL'] || 'pulsar://127.0.0.1:6650',
    tenant: process.env['PULSAR_TENANT'] || 'agentmesh',
    namespace: process.env['PULSAR_NAMESPACE'] || 'mesh',
    skipReason:
      decision.startsWith('skip') && !inCi
        ? `no Pulsar broker at ${webUrl} (${decision}); start one with npm run pulsar:up`
        : undefined,
  };
}

/** `describe` for suites that need the real broker: skipped (and said so) only outside CI. */
export function describeWithPulsar(name: string, body: (env: PulsarTestEnvironment) => void): void {
  const env = pulsarTestEnvironment();
  if (env.skipReason) {
    describe.skip(`${name} [skipped: ${env.skipReason}]`, () => body(env));
    return;
  }
  describe(name, () => body(env));
}

/** Fails with a clear message when the broker does not answer its health check. */
export async function assertPulsarAnswers(env: PulsarTestEnvironment): Promise<void> {
  try {
    const response = await fetch(`${env.webUrl}/admin/v2/brokers/health`, { signal: AbortSignal.timeout(5000) });
    if (response.ok) return;
    throw new Error(`health check answered ${response.status}`);
  } catch (error) {
    throw new Error(
      `This suite needs a real Pulsar broker at ${env.webUrl} (PULSAR_WEB_URL): ${(error as Error).message}. ` +
        'Start it with `npm run pulsar:up` (deploy/pulsar).',
    );
  }
}
