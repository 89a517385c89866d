import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Routes open without a key: probes must not need the API's credentials. */
const OPEN_PATHS = /^\/(health|metrics)(\/|\?|$)/;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Express middleware: every HTTP route but `/health` and `/metrics` needs
 * `Authorization: Bearer <key>` with one of `keys` (MESH_API_KEYS) — 401 without or with a wrong
 * one. No keys: everything is open (the agent then listens on 127.0.0.1 only, see bootstrap).
 * Keys are compared by their SHA-256 in constant time, so the comparison leaks no prefix.
 */
export function apiKeyMiddleware(
  keys: readonly string[],
): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  const accepted = keys.map(digest);
  return (request, response, next) => {
    if (accepted.length === 0 || OPEN_PATHS.test(request.url ?? '')) return next();
    const [scheme, token] = (request.headers.authorization ?? '').split(' ', 2);
    const presented = scheme?.toLowerCase() === 'bearer' && token ? digest(token) : undefined;
    if (presented && accepted.some((key) => timingSafeEqual(key, presented))) return next();
    response.statusCode = 401;
    response.setHeader('www-authenticate', 'Bearer');
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(
      JSON.stringify({
        statusCode: 401,
        message: presented
          ? 'wrong API key'
          : 'this route needs an API key: send it as "Authorization: Bearer <key>" (MESH_API_KEYS)',
      }),
    );
  };
}
