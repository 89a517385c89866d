import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustedFetch } from './trusted-fetch';

/** A private CA and a server certificate for 127.0.0.1, made with openssl as pulsar.sh --tls does. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
  );
  writeFileSync(at('ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.crt'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    at('ext'),
    '-out',
    at('server.crt'),
  );
  return { ca: at('ca.crt'), key: at('server.key'), cert: at('server.crt') };
}

describe('trustedFetch (https with a private CA)', () => {
  let dir: string;
  let ca: string;
  let server: Server;
  let base: string;
  const seen: { method?: string; authorization?: string; body: string }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trusted-fetch-'));
    const files = makeCertificates(dir);
    ca = files.ca;
    server = createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method, authorization: request.headers.authorization, body });
        if (request.url === '/moved') {
          response.writeHead(307, { location: '/answer' }).end();
        } else if (request.url === '/silent') {
          // never answers
        } else if (request.url === '/empty') {
          response.writeHead(204).end();
        } else {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('trusts the broker certificate its CA signed, sending method, headers and body', async () => {
    const response = await trustedFetch(ca)(`${base}/answer`, {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
      body: '[1]',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ method: 'POST', authorization: 'Bearer t', body: '[1]' });
    expect((await trustedFetch(ca)(`${base}/empty`)).status).toBe(204);
  });

  it('follows a redirect (the admin API redirects to the broker that owns a topic)', async () => {
    const response = await trustedFetch(ca)(`${base}/moved`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"ok":true}');
  });

  it('without the CA, the certificate is not trusted (global fetch)', async () => {
    const failure = await trustedFetch()(`${base}/answer`).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure?.name).toBe('TypeError'); // fetch's own, from another realm than Jest's
    expect(String((failure?.cause as NodeJS.ErrnoException | undefined)?.code)).toMatch(/CERT|SIGNATURE|ISSUER/);
  });

  it('rejects like fetch: a TypeError with the network code, the signal’s reason on a timeout', async () => {
    const refused = await trustedFetch(ca)('https://127.0.0.1:1/').catch((error: Error) => error);
    expect(refused).toBeInstanceOf(TypeError);
    expect((refused as TypeError & { cause: NodeJS.ErrnoException }).cause.code).toBe('ECONNREFUSED');
    const timedOut = await trustedFetch(ca)(`${base}/silent`, { signal: AbortSignal.timeout(200) }).catch(
      (error: Error) => error,
    );
    expect((timedOut as Error).name).toBe('TimeoutError');
  });
});
