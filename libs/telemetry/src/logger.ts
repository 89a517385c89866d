import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type Level, type Logger } from 'pino';
import type { Options as HttpLogOptions } from 'pino-http';
import pretty from 'pino-pretty';
import { logContextFields } from './log-context';
import { UNTRACED_PATHS } from './http-spans';

/** `LOG_LEVEL` values. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

let logger: Logger | undefined;

/** A terminal's lines: time, level, `[context] message`, the other fields inline. */
const PRETTY = {
  sync: true,
  colorize: true,
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,context',
  messageFormat: '{if context}[{context}] {end}{msg}',
};

/**
 * The process's pino logger: one JSON object per line on stdout — readable, coloured lines
 * instead when stdout is a terminal — each carrying the message being handled and the active
 * trace (see logContextFields). One per process; a later call only sets the level.
 */
export function meshLogger(level: LogLevel = 'info'): Logger {
  if (logger) {
    logger.level = level;
    return logger;
  }
  const options = { level, mixin: logContextFields, base: { pid: process.pid } };
  logger = process.stdout.isTTY
    ? pino(options, pretty(PRETTY))
    : pino(options, pino.destination({ dest: 1, sync: true }));
  return logger;
}

/** pino-http's options: the mesh logger; reads that succeed are debug, errors warn (4xx) or error (5xx); probes unlogged. */
export function httpLogOptions(log: Logger): HttpLogOptions {
  return {
    logger: log,
    autoLogging: { ignore: (request) => UNTRACED_PATHS.test(request.url ?? '') },
    customLogLevel: (request: IncomingMessage, response: ServerResponse, error?: Error): Level => {
      if (error || response.statusCode >= 500) return 'error';
      if (response.statusCode >= 400) return 'warn';
      return request.method === 'GET' ? 'debug' : 'info';
    },
    serializers: {
      req: (request: { id?: unknown; method?: string; url?: string }) => ({
        id: request.id,
        method: request.method,
        url: request.url,
      }),
      res: (response: { statusCode?: number }) => ({ statusCode: response.statusCode }),
    },
  };
}
