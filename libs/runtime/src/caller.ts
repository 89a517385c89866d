import type { IncomingMessage } from 'node:http';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/**
 * Who sent a request, as the HTTP guard authenticated it: `key:<first 12 hex of the API key's
 * SHA-256>` or `sub:<JWT subject>` — never a secret. Held beside the request (not on it), so no
 * header or body can set it.
 */
const callers = new WeakMap<IncomingMessage, string>();

/** The guard's record of a request's caller (httpGuardMiddleware). */
export function recordCaller(request: IncomingMessage, caller: string): void {
  callers.set(request, caller);
}

/** The request's authenticated caller; undefined when no credentials are configured (or on an open route). */
export function callerOf(request: IncomingMessage): string | undefined {
  return callers.get(request);
}

/** A route's parameter: the request's caller (`callerOf`), e.g. `@Caller() by: string | undefined`. */
export const Caller = createParamDecorator((_: unknown, context: ExecutionContext): string | undefined =>
  callerOf(context.switchToHttp().getRequest<IncomingMessage>()),
);
