import { Inject, Injectable } from '@nestjs/common';
import { ClientProxy, type ReadPacket, type WritePacket } from '@nestjs/microservices';
import type { EventDefinition } from '@agent-mesh/contracts';
import { MeshPublisher, type PublishOptions } from './mesh-publisher';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from './options';

/** What `client.emit(eventType, emit)` takes. */
export interface MeshEmit<TData extends object = object> extends PublishOptions {
  readonly topic: string;
  readonly data: TData;
  /** Schema version; default the highest registered. */
  readonly version?: number;
}

/**
 * A Nest ClientProxy over the mesh, for code written against `ClientProxy.emit`. The mesh is
 * event-driven: `send` (request/response) is refused with an explanation.
 */
@Injectable()
export class MeshClientProxy extends ClientProxy {
  constructor(
    private readonly publisher: MeshPublisher,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly options: MeshTransportOptions,
  ) {
    super();
  }

  async connect(): Promise<void> {
    // The EventBus is connected by the runtime before the app starts.
  }

  async close(): Promise<void> {
    // The bus is closed by the transport module on application shutdown.
  }

  override on(): void {
    // No client events: failures surface as rejected emits.
  }

  unwrap<T>(): T {
    return this.publisher as unknown as T;
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({
      err: new Error('request/response is not supported on the mesh: emit an event and handle its reply event'),
      isDisposed: true,
    });
    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket<MeshEmit>): Promise<T> {
    const type =
      typeof packet.pattern === 'string' ? packet.pattern : String((packet.pattern as { event?: unknown }).event);
    const emit = packet.data;
    const definition = this.definitionFor(type, emit.version);
    const envelope = await this.publisher.publish(emit.topic, definition, emit.data, emit);
    return envelope as unknown as T;
  }

  private definitionFor(type: string, version?: number): EventDefinition {
    const candidates = this.options.registry.list().filter((d) => d.type === type);
    const definition =
      version !== undefined
        ? candidates.find((d) => d.version === version)
        : candidates.sort((a, b) => b.version - a.version)[0];
    if (!definition) throw new Error(`unknown event type ${type}${version !== undefined ? `@${version}` : ''}`);
    return definition;
  }
}
