import type { INestApplication, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { MemoryBroker, type BusMessage, type EventBus } from '@agent-mesh/bus';
import { qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { bootstrapAgent, MeshRuntimeModule } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';

export interface AgentProcessOptions {
  /** Agent modules this "process" runs, e.g. [WorkerModule]. */
  readonly modules: readonly Type<unknown>[];
  readonly role: string;
  readonly instanceId?: string;
  /** State of this process (each process its own connection); default in-memory. */
  readonly stateStore?: StateStore;
  readonly skills?: SkillRegistry;
  readonly env?: Readonly<Record<string, string>>;
  /** Wraps this process's bus client (e.g. a FaultyBus, whose publishes can fail). */
  readonly wrapBus?: (bus: EventBus) => EventBus;
}

/** One agent "process" of the harness: a Nest app with its own bus client. */
export interface AgentProcess {
  readonly role: string;
  readonly app: INestApplication;
  readonly url: string;
  readonly transport: MeshTransportOptions;
  /** Graceful stop: drains in-flight messages, then closes. */
  stop(): Promise<void>;
  /**
   * What a killed process looks like to the broker: its connection drops, unacked messages go
   * to other consumers, and anything it still tries to publish fails.
   */
  crash(): Promise<void>;
}

/**
 * Several agent processes in one Jest process, joined by a MemoryBroker — the same wiring as
 * separate processes on Pulsar, minus the network.
 */
export class InProcessMesh {
  readonly broker = new MemoryBroker();
  readonly naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };
  private readonly processes: AgentProcess[] = [];
  private sequence = 0;
  private observer?: EventBus;

  async start(options: AgentProcessOptions): Promise<AgentProcess> {
    const instanceId = options.instanceId ?? `${options.role}-${++this.sequence}`;
    @Module({
      imports: [
        MeshRuntimeModule.forRoot({
          role: options.role,
          broker: options.wrapBus ? wrappingBroker(this.broker, options.wrapBus) : this.broker,
          stateStore: options.stateStore,
          skills: options.skills,
          env: {
            MESH_TRANSPORT: 'memory',
            MESH_INSTANCE_ID: instanceId,
            MESH_REGION: 'test',
            REDIS_URL: '',
            DRAIN_TIMEOUT_MS: '1000',
            ...options.env,
          },
        }),
        ...options.modules,
      ],
    })
    class AgentProcessModule {}

    const app = await bootstrapAgent(AgentProcessModule, { port: 0, logLevels: ['error'] });
    const transport = app.get<MeshTransportOptions>(MESH_TRANSPORT_OPTIONS);
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    let closed = false;
    const agent: AgentProcess = {
      role: options.role,
      app,
      url,
      transport,
      stop: async () => {
        if (closed) return;
        closed = true;
        await app.close();
      },
      crash: async () => {
        if (closed) return;
        closed = true;
        await transport.bus.close();
        // The app object lingers like a zombie process; close it without waiting for handlers.
        void app.close().catch(() => undefined);
      },
    };
    this.processes.push(agent);
    return agent;
  }

  /** Every message on a topic so far (a reader from earliest), e.g. the dead-letter topic. */
  async readAll(shortTopic: string): Promise<BusMessage[]> {
    this.observer ??= this.broker.connect();
    const reader = await this.observer.createReader({
      topic: qualifyTopic(this.naming, shortTopic),
      startMessageId: 'earliest',
    });
    const messages: BusMessage[] = [];
    while (await reader.hasMessageAvailable()) {
      const message = await reader.readNext(1000);
      if (message) messages.push(message);
    }
    await reader.close();
    return messages;
  }

  deadLetters(): Promise<BusMessage[]> {
    return this.readAll(Topics.deadLetter);
  }

  /** Publishes raw bytes, bypassing validation (for bad-input tests). */
  async publishRaw(shortTopic: string, payload: string, key?: string): Promise<void> {
    this.observer ??= this.broker.connect();
    await this.observer.publish(qualifyTopic(this.naming, shortTopic), { payload, key });
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop()));
    await this.observer?.close();
    this.broker.shutdown();
  }
}

/** The broker as the runtime sees it, except that each client it connects is wrapped. */
function wrappingBroker(broker: MemoryBroker, wrap: (bus: EventBus) => EventBus): MemoryBroker {
  // The runtime only calls connect(); everything else is the broker's own.
  return Object.assign(Object.create(broker) as MemoryBroker, { connect: () => wrap(broker.connect()) });
}

/** Polls until `check` returns a value other than undefined, or fails saying what it waited for. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
