import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeError } from '@agent-mesh/contracts';
import { createStateStore, maskRedisUrl, type RedisTlsOptions, type StateStore } from '@agent-mesh/state';

/** The Redis settings besides REDIS_URL and REDIS_KEY_PREFIX: who the mesh is to Redis, and whom it trusts. */
export interface RedisSecuritySettings {
  readonly REDIS_URL?: string;
  readonly REDIS_USERNAME?: string;
  readonly REDIS_PASSWORD?: string;
  readonly REDIS_PASSWORD_FILE?: string;
  readonly REDIS_TLS_CA_FILE?: string;
  readonly REDIS_TLS_CERT_FILE?: string;
  readonly REDIS_TLS_KEY_FILE?: string;
}

/** The credentials and TLS material the settings name, read and checked at start-up. */
export interface RedisSecurity {
  /** REDIS_USERNAME (a user in REDIS_URL stays in the URL). */
  readonly username?: string;
  /** REDIS_PASSWORD or the content of REDIS_PASSWORD_FILE (a password in REDIS_URL stays in the URL). */
  readonly password?: string;
  /** From REDIS_TLS_*_FILE, for a rediss:// URL. */
  readonly tls?: RedisTlsOptions;
  /** The Redis settings that were given, named in a connection error. */
  readonly settings: readonly string[];
}

const SECURITY_SETTINGS = [
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
  'REDIS_PASSWORD_FILE',
  'REDIS_TLS_CA_FILE',
  'REDIS_TLS_CERT_FILE',
  'REDIS_TLS_KEY_FILE',
] as const;

/**
 * Checks the Redis settings together and reads the files they name, adding one problem per
 * mistake to `problems`, each naming its setting. No message holds a password: REDIS_URL is
 * shown with its password masked, REDIS_PASSWORD and the password file's content never.
 */
export function readRedisSecurity(env: RedisSecuritySettings, problems: string[]): RedisSecurity {
  // Without REDIS_URL the state is in memory, and the rest is not used (the rebuild and the
  // in-process test mesh run roles that way, with the operator's settings otherwise kept).
  if (env.REDIS_URL === undefined) return { settings: [] };
  const settings = ['REDIS_URL', ...SECURITY_SETTINGS.filter((name) => env[name] !== undefined)];
  const url = parseRedisUrl(env.REDIS_URL, problems);
  if (url === undefined) return { settings };

  if (env.REDIS_USERNAME !== undefined && !/^\S{1,256}$/.test(env.REDIS_USERNAME))
    problems.push('REDIS_USERNAME must be a user name without spaces');
  if (env.REDIS_USERNAME !== undefined && url.username !== '')
    problems.push('REDIS_USERNAME and a user in REDIS_URL are both set: name the user once');
  if (env.REDIS_PASSWORD !== undefined && env.REDIS_PASSWORD_FILE !== undefined)
    problems.push('REDIS_PASSWORD and REDIS_PASSWORD_FILE are both set: give the password one way');
  const password = env.REDIS_PASSWORD ?? readPassword(env.REDIS_PASSWORD_FILE, problems);
  if (url.password !== '' && (env.REDIS_PASSWORD !== undefined || env.REDIS_PASSWORD_FILE !== undefined))
    problems.push('REDIS_URL holds a password and REDIS_PASSWORD(_FILE) is set too: give the password one way');
  if ((env.REDIS_USERNAME !== undefined || url.username !== '') && password === undefined && url.password === '')
    problems.push(
      'a Redis user needs its password: set REDIS_PASSWORD_FILE (or REDIS_PASSWORD, or put it in REDIS_URL)',
    );

  const tlsSettings = SECURITY_SETTINGS.filter((name) => name.startsWith('REDIS_TLS_') && env[name] !== undefined);
  if (tlsSettings.length > 0 && url.protocol !== 'rediss:')
    problems.push(`${tlsSettings.join(', ')} set, but REDIS_URL is redis:// (no TLS): use rediss://`);
  if ((env.REDIS_TLS_CERT_FILE === undefined) !== (env.REDIS_TLS_KEY_FILE === undefined))
    problems.push('REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together (the client certificate and its key)');
  const tls = url.protocol === 'rediss:' && tlsSettings.length > 0 ? readTls(env, problems) : undefined;

  return {
    ...(env.REDIS_USERNAME === undefined ? {} : { username: env.REDIS_USERNAME }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
    settings,
  };
}

function parseRedisUrl(value: string, problems: string[]): URL | undefined {
  const problem = `REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379 (got ${JSON.stringify(maskRedisUrl(value))})`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(problem);
    return undefined;
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    problems.push(problem);
    return undefined;
  }
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
    problems.push(
      `REDIS_URL: the path is the database number, e.g. redis://host:6379/0 (got ${JSON.stringify(maskRedisUrl(value))})`,
    );
    return undefined;
  }
  return url;
}

/** The password file's content, trailing line breaks left out; never shown. */
function readPassword(file: string | undefined, problems: string[]): string | undefined {
  if (file === undefined) return undefined;
  const text = readSettingFile('REDIS_PASSWORD_FILE', file, problems);
  if (text === undefined) return undefined;
  const password = text.replace(/[\r\n]+$/, '');
  if (password === '' || /[\r\n]/.test(password)) {
    problems.push(`REDIS_PASSWORD_FILE: ${file} must hold the password on one line (content not shown)`);
    return undefined;
  }
  return password;
}

function readTls(env: RedisSecuritySettings, problems: string[]): RedisTlsOptions | undefined {
  const ca = readCertificate('REDIS_TLS_CA_FILE', env.REDIS_TLS_CA_FILE, problems);
  const cert = readCertificate('REDIS_TLS_CERT_FILE', env.REDIS_TLS_CERT_FILE, problems);
  const key = readKey(env.REDIS_TLS_KEY_FILE, problems);
  if (cert && key && !cert.certificate.checkPrivateKey(key.object))
    problems.push(
      `REDIS_TLS_KEY_FILE: ${env.REDIS_TLS_KEY_FILE} is not the key of the certificate in REDIS_TLS_CERT_FILE`,
    );
  return {
    ...(ca ? { ca: ca.pem } : {}),
    ...(cert ? { cert: cert.pem } : {}),
    ...(key ? { key: key.pem } : {}),
  };
}

function readCertificate(
  setting: string,
  file: string | undefined,
  problems: string[],
): { readonly pem: string; readonly certificate: X509Certificate } | undefined {
  if (file === undefined) return undefined;
  const pem = readSettingFile(setting, file, problems);
  if (pem === undefined) return undefined;
  try {
    return { pem, certificate: new X509Certificate(pem) };
  } catch (error) {
    problems.push(`${setting}: ${file} is not a PEM certificate (${describeError(error)})`);
    return undefined;
  }
}

function readKey(
  file: string | undefined,
  problems: string[],
): { readonly pem: string; readonly object: KeyObject } | undefined {
  if (file === undefined) return undefined;
  const pem = readSettingFile('REDIS_TLS_KEY_FILE', file, problems);
  if (pem === undefined) return undefined;
  try {
    return { pem, object: createPrivateKey(pem) };
  } catch {
    // The error's text is OpenSSL's and holds nothing of the key; still, say only what is wrong.
    problems.push(`REDIS_TLS_KEY_FILE: ${file} is not an unencrypted PEM private key (content not shown)`);
    return undefined;
  }
}

function readSettingFile(setting: string, file: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    problems.push(`${setting}: cannot read ${file} (${typeof code === 'string' ? code : describeError(error)})`);
    return undefined;
  }
}

/**
 * The configured state store (createStateStore), with the Redis credentials and TLS of the
 * settings; a connection that fails names the Redis settings in use, password never shown.
 */
export async function openStateStore(options: {
  readonly redisUrl?: string;
  readonly keyPrefix?: string;
  readonly redisSecurity?: RedisSecurity;
}): Promise<StateStore> {
  const { settings = [], ...security } = options.redisSecurity ?? {};
  try {
    return await createStateStore({ redisUrl: options.redisUrl, keyPrefix: options.keyPrefix, ...security });
  } catch (error) {
    if (settings.length === 0) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message} (Redis settings in use: ${settings.join(', ')})`, { cause: error });
  }
}
