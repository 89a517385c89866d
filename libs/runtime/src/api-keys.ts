import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Which of `keys` (MESH_API_KEYS) a presented token is: `key:<first 12 hex of its SHA-256>` (the
 * client's name for rate limits and logs, never the key itself), or undefined. Keys are compared
 * by their SHA-256 in constant time, so the comparison leaks no prefix.
 */
export function apiKeyMatcher(keys: readonly string[]): (token: string) => string | undefined {
  const accepted = keys.map(digest);
  return (token) => {
    const presented = digest(token);
    let match: Buffer | undefined;
    // every key is compared, so the time taken does not say which one matched
    for (const key of accepted) if (timingSafeEqual(key, presented)) match = key;
    return match ? `key:${match.toString('hex').slice(0, 12)}` : undefined;
  };
}
