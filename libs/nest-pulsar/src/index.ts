/**
 * The NestJS transport over the EventBus: `@OnMeshEvent` handlers, MeshContext and MeshPublisher.
 * Start at mesh-transport.server.ts (consumers, acking), then decorators.ts and mesh-publisher.ts.
 */
export { OnMeshEvent, type MeshSubscriptionOptions, type MeshRetryOptions } from './decorators';
export { MeshContext } from './mesh-context';
// Nobody imports it yet, but MeshTransportModule provides it for injection, and injecting it needs the class.
export { MeshClientProxy } from './mesh-client.proxy';
export { MeshPublisher, type PublishOptions } from './mesh-publisher';
export { MeshTransportServer } from './mesh-transport.server';
export { MeshTransportModule } from './mesh-transport.module';
export { MESH_TRANSPORT_OPTIONS, type EventStamp, type EventStamps, type MeshTransportOptions } from './options';
export { nextTraceparent } from './trace';
export { homeOf, regionOfHome, RegionHoming, type Homing } from './region-homing';
export {
  MeshObservers,
  type MeshObserver,
  type MessageOutcome,
  type PublishedEvent,
  type SettledMessage,
} from './observers';
