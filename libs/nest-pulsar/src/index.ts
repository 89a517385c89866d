export { OnMeshEvent, KeepOriginalErrorFilter, type MeshSubscriptionOptions } from './decorators';
export { MeshContext } from './mesh-context';
export { MeshClientProxy, type MeshEmit } from './mesh-client.proxy';
export { MeshPublisher, type PublishOptions } from './mesh-publisher';
export { MeshTransportServer, type MeshTransportEvents } from './mesh-transport.server';
export { MeshTransportModule, type MeshTransportModuleAsyncOptions } from './mesh-transport.module';
export { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from './options';
export { nextTraceparent, traceIdOf } from './trace';
