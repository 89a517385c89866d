import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The part of `fetch` the Pulsar clients use: a URL string and a small init. */
export type HttpFetch = (
  url: string,
  init?: {
    readonly method?: string;
    readonly headers?: Record<string, string>;
    readonly body?: string;
    readonly signal?: AbortSignal;
  },
) => Promise<Response>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/**
 * `fetch` for a broker whose certificate a private CA signed (`PULSAR_TLS_CA_FILE`): Node's
 * global fetch cannot be given a CA, node:https can. Without a CA file it is the global fetch.
 * Network failures reject like fetch's (a TypeError whose `cause` has the code); redirects are
 * followed (the admin API redirects to the broker that owns a topic).
 */
export function trustedFetch(caFile?: string): HttpFetch {
  if (!caFile) return (url, init) => fetch(url, init);
  const ca = readFileSync(caFile);
  const send: (url: string, init: Parameters<HttpFetch>[1], redirects: number) => Promise<Response> = (
    url,
    init = {},
    redirects,
  ) =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(
        target,
        {
          method: init.method ?? 'GET',
          headers: init.headers,
          signal: init.signal,
          ...(target.protocol === 'https:' ? { ca } : {}),
        },
        (response) => {
          const status = response.statusCode ?? 0;
          const location = response.headers.location;
          if (REDIRECTS.has(status) && location && redirects < MAX_REDIRECTS) {
            response.resume();
            resolve(send(new URL(location, target).toString(), init, redirects + 1));
            return;
          }
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (error) => reject(new TypeError('fetch failed', { cause: error })));
          response.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve(
              new Response(body.length > 0 && status !== 204 && status !== 304 ? body : null, {
                status,
                statusText: response.statusMessage,
                headers: toHeaders(response.headers),
              }),
            );
          });
        },
      );
      request.on('error', (error) =>
        reject(
          error.name === 'AbortError'
            ? (init.signal?.reason ?? error)
            : new TypeError('fetch failed', { cause: error }),
        ),
      );
      request.end(init.body);
    });
  return (url, init) => send(url, init, 0);
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
