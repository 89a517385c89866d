import type { Server } from 'node:http';
import { Logger, type INestApplication, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { MeshTransportServer } from '@agent-mesh/nest-pulsar';
import { httpServerSpans, meshLogger, type LogLevel as PinoLevel } from '@agent-mesh/telemetry';
import type { MeshConfig } from './mesh-config';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { httpGuardMiddleware } from './http-guard';
import { MESH_CONFIG } from './tokens';

let openApiWarned = false;
/** Idle keep-alive connections are kept this long (Node's default is 5 s). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface BootstrapOptions {
  /** Listen on this port instead of the configured one (0 = any free port). */
  readonly port?: number;
  /** Nest log levels, instead of LOG_LEVEL: the lowest one given is the logger's level. */
  readonly logLevels?: LogLevel[];
}

/**
 * Starts one agent: the Nest app, the mesh transport (consumers) and HTTP on PORT. Closing the
 * app drains in-flight messages first; `runAgent` wires that to SIGTERM/SIGINT.
 */
export async function bootstrapAgent(
  rootModule: Type<unknown>,
  options: BootstrapOptions = {},
): Promise<INestApplication> {
  // Nest's start-up lines wait for the JSON logger (LOG_LEVEL) instead of printing as coloured text.
  const app = await NestFactory.create<NestExpressApplication>(rootModule, { abortOnError: false, bufferLogs: true });
  if (options.logLevels) meshLogger(pinoLevelOf(options.logLevels));
  app.useLogger(app.get(PinoNestLogger));
  const config = app.get<MeshConfig>(MESH_CONFIG);
  // Express's 100 kB default refuses fan-outs the contracts allow (up to 1,000 inputs); larger
  // bodies than MESH_BODY_LIMIT answer 413 before anything parses them.
  app.use(httpGuardMiddleware(config, app.get(ThrottlerStorageService))); // credentials and rate limits
  app.useBodyParser('json', { limit: config.bodyLimit });
  app.use(httpServerSpans()); // after the body parser, whose callback would lose the request's span
  app.connectMicroservice({ strategy: app.get(MeshTransportServer) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  if (config.apiKeys.length === 0 && !config.jwt && !openApiWarned) {
    openApiWarned = true; // once per process (the embedded mesh and the tests start several apps)
    new Logger('Security').warn(
      `no MESH_API_KEYS nor MESH_JWT_ISSUER: the HTTP API needs no credentials, open to whoever reaches ${config.bind}` +
        (config.bind === '127.0.0.1' ? ' (this host only; MESH_BIND chooses the address)' : ''),
    );
  }
  await app.listen(options.port ?? config.port, config.bind);
  // Node closes an idle keep-alive connection after 5 s, which races a client (or a load
  // balancer) reusing it: the request dies with "socket hang up". Outlive the usual 60 s idle
  // timeout of clients and balancers instead, so they close first.
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  return app;
}

const PINO_LEVEL_OF: Readonly<Record<LogLevel, PinoLevel>> = {
  verbose: 'trace',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};

function pinoLevelOf(levels: readonly LogLevel[]): PinoLevel {
  const order: readonly PinoLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const given = levels.map((level) => order.indexOf(PINO_LEVEL_OF[level]));
  return given.length === 0 ? 'silent' : (order[Math.min(...given)] ?? 'info');
}

/**
 * `main.ts` of an agent app: start, or print why not and exit 1. SIGTERM or SIGINT stops
 * consuming, waits for in-flight handlers, closes, and exits 0; a second signal exits at once.
 */
export function runAgent(rootModule: Type<unknown>, role: string): void {
  const log = new Logger(role);
  bootstrapAgent(rootModule).then(
    async (app) => {
      log.log(`${role} listening on ${await app.getUrl()}`);
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        stopping = true;
        log.log(`${signal}: draining in-flight messages, then closing`);
        app.close().then(
          () => process.exit(0),
          (error: unknown) => {
            log.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (error: unknown) => {
      log.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
