/** The broker answered with a non-2xx status (or rejected a REST-published message). */
export class PulsarAdminError extends Error {
  override readonly name = 'PulsarAdminError';

  constructor(
    readonly status: number,
    readonly method: string,
    /** Request path, e.g. `/admin/v2/persistent/t/ns/topic/stats`. */
    readonly path: string,
    /** The broker's `reason` (JSON body `{"reason": …}`), else a short excerpt of the body. */
    readonly reason: string,
  ) {
    super(`Pulsar admin ${method} ${path} failed: ${status}${reason ? ` — ${reason}` : ''}`);
  }
}

/** The broker could not be reached (connection refused, DNS, timeout). */
export class PulsarUnreachableError extends Error {
  override readonly name = 'PulsarUnreachableError';

  constructor(
    /** The configured webUrl. */
    readonly url: string,
    readonly method: string,
    readonly path: string,
    /** e.g. `ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:8080)`, `no answer within 10000 ms`. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Pulsar admin URL ${url} is unreachable (${method} ${path}): ${detail}`, options);
  }
}
