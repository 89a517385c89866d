import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { MeshClientProxy } from './mesh-client.proxy';
import { MeshPublisher } from './mesh-publisher';
import { MeshObservers } from './observers';
import { MeshTransportServer } from './mesh-transport.server';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from './options';

/** Closes the bus after the server has drained (Nest runs shutdown hooks after dispose). */
@Injectable()
class MeshBusLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly options: MeshTransportOptions,
    private readonly server: MeshTransportServer,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.server.close();
    await this.options.homing?.close?.();
    await this.options.bus.close();
  }
}

export interface MeshTransportModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: (InjectionToken | OptionalFactoryDependency)[];
  readonly useFactory: (...args: never[]) => MeshTransportOptions | Promise<MeshTransportOptions>;
}

/**
 * Provides the mesh transport to a Nest app: MeshPublisher and MeshClientProxy for sending,
 * MeshTransportServer to pass to `app.connectMicroservice({ strategy })`.
 */
@Module({})
export class MeshTransportModule {
  static forRoot(options: MeshTransportOptions): DynamicModule {
    return MeshTransportModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync(options: MeshTransportModuleAsyncOptions): DynamicModule {
    return {
      module: MeshTransportModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        { provide: MESH_TRANSPORT_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        MeshPublisher,
        MeshClientProxy,
        MeshTransportServer,
        MeshBusLifecycle,
        MeshObservers,
      ],
      exports: [MESH_TRANSPORT_OPTIONS, MeshPublisher, MeshClientProxy, MeshTransportServer, MeshObservers],
    };
  }
}
