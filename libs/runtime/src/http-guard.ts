import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { apiKeyMatcher } from './api-keys';
import { recordCaller } from './caller';
import { jwtVerifier, type JwtOutcome } from './jwt';
import type { MeshConfig } from './mesh-config';

/** Routes open without credentials or limits: probes must not need the API's credentials. */
const OPEN_PATHS = /^\/(health|metrics)(\/|\?|$)/;
/**
 * The console's page and its built assets hold no data (its data comes from the keyed API), and a
 * browser cannot send a key when it opens a page: open. `/console/events` is not among them.
 */
const OPEN_CONSOLE = /^\/console(\/|\/assets\/(?![^?]*\.\.)[^?]*)?(\?|$)/;

type Middleware = (request: IncomingMessage, response: ServerResponse, next: () => void) => void;

/**
 * Who a request comes from, or why it may not go on: `client` names it for the rate limits
 * (`key:…`, `sub:…`, or `ip:…` with no credentials configured); `caller` is who presented
 * credentials (`key:…`, `sub:…`), absent when there are none to present.
 */
type Authentication =
  { readonly ok: true; readonly client: string; readonly caller?: string } | Extract<JwtOutcome, { ok: false }>;

/**
 * Express middleware on every HTTP route but `/health` and `/metrics`:
 * 1. authentication — `Authorization: Bearer <token>`, the token one of MESH_API_KEYS or a JWT
 *    the MESH_JWT_* issuer signed; 401 otherwise. With neither configured, everything is open;
 * 2. rate limits (MESH_RATE_LIMIT per MESH_RATE_LIMIT_WINDOW_MS, @nestjs/throttler's storage) per
 *    client: the API key, the token's `sub`, or the IP address when there is no credential (a
 *    request refused 401 counts against its IP, so guessing keys is limited too); 429 with
 *    `Retry-After` past the limit.
 * The authenticated caller is recorded for routes to read (`callerOf`, `@Caller()`).
 * Middleware rather than a guard: an APP_GUARD would also run on the mesh transport's handlers.
 */
export function httpGuardMiddleware(
  config: Pick<MeshConfig, 'apiKeys' | 'jwt' | 'rateLimit'>,
  storage: ThrottlerStorage,
): Middleware {
  const authenticate = authenticator(config);
  const { limit, windowMs } = config.rateLimit;
  return (request, response, next) => {
    const url = request.url ?? '';
    if (OPEN_PATHS.test(url) || OPEN_CONSOLE.test(url)) return next();
    void (async () => {
      const auth = await authenticate(request);
      if (limit > 0) {
        const client = auth.ok ? auth.client : `ip:${request.socket.remoteAddress ?? 'unknown'}`;
        // blockDuration 0: a sliding window, a client is let in again as its oldest request ages out
        const record = await storage.increment(client, windowMs, limit, 0, 'http');
        if (record.isBlocked) {
          const retryAfterS = Math.max(1, record.timeToBlockExpire);
          response.setHeader('retry-after', String(retryAfterS));
          return reply(response, 429, `rate limit: ${limit} requests per ${windowMs} ms; retry in ${retryAfterS} s`);
        }
      }
      if (!auth.ok) {
        if (auth.status === 401) response.setHeader('www-authenticate', 'Bearer');
        return reply(response, auth.status, auth.message);
      }
      if (auth.caller) recordCaller(request, auth.caller);
      next();
    })().catch((error: unknown) =>
      reply(response, 503, `cannot check this request now: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
}

function authenticator(
  config: Pick<MeshConfig, 'apiKeys' | 'jwt'>,
): (request: IncomingMessage) => Promise<Authentication> {
  const matchKey = apiKeyMatcher(config.apiKeys);
  const verifyJwt = config.jwt ? jwtVerifier(config.jwt) : undefined;
  const open = config.apiKeys.length === 0 && !verifyJwt;
  return async (request) => {
    const ip = `ip:${request.socket.remoteAddress ?? 'unknown'}`;
    if (open) return { ok: true, client: ip };
    const [scheme, token] = (request.headers.authorization ?? '').split(' ', 2);
    if (scheme?.toLowerCase() !== 'bearer' || !token)
      return {
        ok: false,
        status: 401,
        message: `this route needs credentials: send "Authorization: Bearer <token>" (${
          verifyJwt ? 'an API key of MESH_API_KEYS or a JWT of MESH_JWT_ISSUER' : 'MESH_API_KEYS'
        })`,
      };
    const key = matchKey(token);
    if (key) return { ok: true, client: key, caller: key };
    if (verifyJwt && (config.apiKeys.length === 0 || looksLikeJwt(token))) {
      const outcome = await verifyJwt(token);
      return outcome.ok ? { ...outcome, caller: outcome.client } : outcome;
    }
    return { ok: false, status: 401, message: 'wrong API key' };
  };
}

/** `header.payload.signature`, each base64url. */
const looksLikeJwt = (token: string): boolean => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);

function reply(response: ServerResponse, status: number, message: string): void {
  response.statusCode = status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(JSON.stringify({ statusCode: status, message }));
}
