import { randomBytes } from 'node:crypto';
import { schemaRegistrations, type TopicNaming } from '@agent-mesh/contracts';
import { PulsarAdmin } from '@agent-mesh/pulsar-admin';
import { createDefaultSkillRegistry } from '@agent-mesh/skills';

/** Where the broker is: a PulsarTestEnvironment of @agent-mesh/bus/testing fits. */
export interface PulsarTarget {
  readonly webUrl: string;
  readonly tenant: string;
}

/**
 * A namespace of a suite's own on a shared broker, with a unique name (`<prefix>-<8 hex>`), so
 * suites running in parallel never see each other's topics. `create` in beforeAll, `delete` in
 * afterAll.
 */
export class PulsarNamespace {
  readonly name: string;
  readonly tenant: string;
  readonly webUrl: string;
  readonly admin: PulsarAdmin;

  constructor(target: PulsarTarget, prefix: string) {
    this.name = `${prefix}-${randomBytes(4).toString('hex')}`;
    this.tenant = target.tenant;
    this.webUrl = target.webUrl;
    this.admin = new PulsarAdmin({ webUrl: target.webUrl });
  }

  get naming(): TopicNaming {
    return { tenant: this.tenant, namespace: this.name };
  }

  /** The environment that puts an agent on this namespace (pulsar transport, pulsar-ws driver by web URL). */
  meshEnv(): Record<string, string> {
    return {
      MESH_TRANSPORT: 'pulsar',
      PULSAR_WEB_URL: this.webUrl,
      PULSAR_TENANT: this.tenant,
      PULSAR_NAMESPACE: this.name,
    };
  }

  /**
   * Creates the namespace (idempotent), keeping messages an hour so readers from 'earliest' see
   * them, and registers the contracts' schemas on its topics as the bootstrap does (strategy
   * BACKWARD; `tasks.<skill>` for the built-in skills), so suites run where production runs.
   */
  async create(): Promise<void> {
    await this.admin.ensureNamespace(this.tenant, this.name, { retention: { minutes: 60, sizeMB: 100 } });
    await this.admin.registerSchemas(
      this.tenant,
      this.name,
      schemaRegistrations({ skill: createDefaultSkillRegistry().names() }),
    );
  }

  /** Deletes the namespace and its topics; a failure is ignored (teardown must go on). */
  async delete(): Promise<void> {
    await this.admin.deleteNamespace(this.tenant, this.name, { force: true }).catch(() => undefined);
  }
}
