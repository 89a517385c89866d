import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { flushTracing, httpLogOptions, meshLogger, startTracing } from '@agent-mesh/telemetry';
import type { MeshConfig } from './mesh-config';
import { MESH_ROLE } from './role';
import { MESH_CONFIG } from './tokens';

/**
 * Starts tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (service `OTEL_SERVICE_NAME`, default
 * `agent-mesh-<role>`), and sends the spans still buffered when the app closes — after the
 * transport drained its in-flight handlers (their spans included).
 */
@Injectable()
export class TracingLifecycle implements OnApplicationShutdown {
  constructor(@Inject(MESH_CONFIG) config: MeshConfig, @Inject(MESH_ROLE) role: string) {
    startTracing({
      endpoint: config.otlpEndpoint,
      serviceName: config.otelServiceName ?? `agent-mesh-${role}`,
      serviceInstanceId: `${role}@${config.instanceId}`,
      region: config.region,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await flushTracing();
  }
}

/** nestjs-pino over the mesh logger at LOG_LEVEL: Nest's own logs, the agents' and HTTP requests', as JSON lines. */
export const MeshLoggerModule = LoggerModule.forRootAsync({
  inject: [MESH_CONFIG],
  useFactory: (config: MeshConfig) => ({ pinoHttp: httpLogOptions(meshLogger(config.logLevel)) }),
});
