/**
 * Hiding credentials in text that is printed (logs, start-up errors, /health): every setting or
 * URL that can carry a secret goes through these before it is shown. Dependency-free, so the
 * bus, the state store and the runtime can all use it.
 */

/** What a hidden secret is shown as. */
export const REDACTED = '***';

/**
 * `scheme://userinfo@`: the userinfo part of any URL in a text, parseable or not (to the last `@`
 * of the authority, so a password with an unescaped `@` is hidden whole).
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s"']*)@/gi;
/** `?password=…`, `&token=…` and the like in a query string. */
const SECRET_QUERY = /([?&](?:password|passwd|pass|pwd|token|access_token|secret|key|api_key|apikey)=)[^&#\s"']*/gi;

/**
 * `text` with the credentials of every URL in it hidden: a password (`redis://user:***@host`),
 * a userinfo with no colon (it may be a token: `pulsar://***@host`), and secret-named query
 * parameters (`?token=***`). Works on text that does not parse as a URL too (a bad setting).
 */
export function redactCredentials(text: string): string {
  return text
    .replace(URL_USERINFO, (_match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:${REDACTED}` : REDACTED}@`;
    })
    .replace(SECRET_QUERY, `$1${REDACTED}`);
}

/**
 * `text` with each of `secrets` (values known to be secret: API keys, tokens, passwords) hidden,
 * then its URLs' credentials (redactCredentials). Empty secrets are ignored.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let redacted = text;
  // longest first, so a secret that contains another is hidden whole
  const known = secrets.filter((s): s is string => !!s).sort((a, b) => b.length - a.length);
  for (const secret of known) redacted = redacted.split(secret).join(REDACTED);
  return redactCredentials(redacted);
}
