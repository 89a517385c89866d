import { Logger, type INestApplication, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MeshTransportServer } from '@agent-mesh/nest-pulsar';
import type { MeshConfig } from './mesh-config';
import { MESH_CONFIG } from './tokens';

export interface BootstrapOptions {
  /** Listen on this port instead of the configured one (0 = any free port). */
  readonly port?: number;
  /** Nest log levels; default all. */
  readonly logLevels?: LogLevel[];
}

/**
 * Starts one agent process: the Nest app, the mesh transport (consumers), HTTP on PORT, and
 * shutdown hooks so SIGTERM drains in-flight messages before the process exits.
 */
export async function bootstrapAgent(rootModule: Type<unknown>, options: BootstrapOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create(rootModule, {
    abortOnError: false,
    ...(options.logLevels ? { logger: options.logLevels } : {}),
  });
  app.enableShutdownHooks();
  app.connectMicroservice({ strategy: app.get(MeshTransportServer) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  const config = app.get<MeshConfig>(MESH_CONFIG);
  await app.listen(options.port ?? config.port, '0.0.0.0');
  return app;
}

/** `main.ts` of an agent app: start, or print why not and exit 1. */
export function runAgent(rootModule: Type<unknown>, role: string): void {
  bootstrapAgent(rootModule).then(
    async (app) => new Logger(role).log(`${role} listening on ${await app.getUrl()}`),
    (error: unknown) => {
      new Logger(role).error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
