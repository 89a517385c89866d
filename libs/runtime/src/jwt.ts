import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { redactCredentials } from '@agent-mesh/contracts';
import type { MeshJwtConfig } from './mesh-config';

/** A verified token's client (`sub:<subject>`), or why it was refused: 401 (the token) or 503 (the JWKS). */
export type JwtOutcome =
  | { readonly ok: true; readonly client: string }
  | { readonly ok: false; readonly status: 401 | 503; readonly message: string };

/** Clocks of the issuer and the agents may differ by this much. */
const CLOCK_TOLERANCE_S = 5;

/** JOSE failures that say nothing about the token: the key set could not be read. */
const JWKS_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

/**
 * Verifies Bearer JWTs (MESH_JWT_*): signed by a key of the issuer's JWKS (fetched, cached, and
 * fetched again when a token names a key it has not seen: the issuer's key rotation), with the
 * configured `iss`, `aud` when set, a `sub`, and not expired.
 */
export function jwtVerifier(config: MeshJwtConfig): (token: string) => Promise<JwtOutcome> {
  const keySet = createRemoteJWKSet(new URL(config.jwksUrl));
  const where = redactCredentials(config.jwksUrl);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims: ['sub'],
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      return { ok: true, client: `sub:${payload.sub}` };
    } catch (error) {
      if (error instanceof errors.JOSEError && !JWKS_UNAVAILABLE.has(error.code))
        return { ok: false, status: 401, message: `token refused: ${error.message}` };
      const why = error instanceof Error ? error.message : String(error);
      return { ok: false, status: 503, message: `cannot verify tokens now: the JWKS at ${where} failed (${why})` };
    }
  };
}
