import { PulsarAdminError, PulsarUnreachableError } from './errors';
import { parseTopicName, persistentTopic } from './topic-name';
import { trustedFetch, type HttpFetch } from '@agent-mesh/bus';
import type {
  ClusterData,
  ConsumerStats,
  EnsureResult,
  InitialPosition,
  NamespacePolicies,
  PublisherStats,
  PulsarAdminOptions,
  ReplicatorStats,
  RestMessage,
  RetentionPolicy,
  SchemaCompatibility,
  SchemaCompatibilityStrategy,
  SchemaDefinition,
  StoredSchema,
  SubscriptionStats,
  SubscriptionType,
  TenantInfo,
  TopicStats,
} from './types';

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

interface RequestOptions {
  /** JSON-encoded when defined (also `true`/`false` and arrays). */
  readonly body?: unknown;
  readonly query?: Record<string, string | number | boolean>;
  /** Non-2xx statuses that are not errors (e.g. 409 for "already exists"). */
  readonly accept?: readonly number[];
}

interface RawResponse {
  readonly status: number;
  readonly text: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DEFAULT_TIMEOUT_MS = 10_000;
/** `MessageId.earliest` as the create-subscription body; no body means `latest`. */
const EARLIEST = { ledgerId: -1, entryId: -1, partitionIndex: -1 };

/**
 * A small typed client for Pulsar's admin REST API v2 (plus the REST producer endpoint).
 * Every failure is a {@link PulsarAdminError} (broker answered non-2xx) or a
 * {@link PulsarUnreachableError} (no answer).
 */
export class PulsarAdmin {
  readonly webUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetch: HttpFetch;

  constructor(options: PulsarAdminOptions) {
    if (!/^https?:\/\/[^/]/.test(options.webUrl)) {
      throw new Error(`PulsarAdmin webUrl must be an http(s) URL, got ${JSON.stringify(options.webUrl)}`);
    }
    this.webUrl = options.webUrl.replace(/\/+$/, '');
    this.token = options.token || undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = trustedFetch(options.tlsCaFile);
  }

  // ---------------------------------------------------------------- brokers / clusters

  /** `GET /admin/v2/brokers/health`: true when the broker answers `ok` (the check round-trips a heartbeat message). */
  async health(): Promise<boolean> {
    try {
      const { text } = await this.request('GET', '/admin/v2/brokers/health');
      return text.trim() === 'ok';
    } catch (error) {
      if (error instanceof PulsarAdminError) return false;
      throw error;
    }
  }

  /** The `clusterName` of the broker answering at webUrl (from its runtime configuration). */
  brokerClusterName(): Promise<string> {
    return this.getJson('/admin/v2/brokers/configuration/runtime', (json) => str(object(json), 'clusterName'));
  }

  clusters(): Promise<string[]> {
    return this.getJson('/admin/v2/clusters', stringArray);
  }

  getCluster(name: string): Promise<ClusterData> {
    return this.getJson(`/admin/v2/clusters/${seg(name)}`, (json) => {
      const o = object(json);
      return { serviceUrl: str(o, 'serviceUrl'), brokerServiceUrl: str(o, 'brokerServiceUrl') };
    });
  }

  /** `PUT /admin/v2/clusters/{name}`; true when created, false when it already existed (409; left as it was). */
  async createCluster(name: string, data: ClusterData): Promise<boolean> {
    const { status } = await this.request('PUT', `/admin/v2/clusters/${seg(name)}`, { body: data, accept: [409] });
    return status !== 409;
  }

  /** `POST /admin/v2/clusters/{name}`: replaces the cluster's URLs. */
  async updateCluster(name: string, data: ClusterData): Promise<void> {
    await this.request('POST', `/admin/v2/clusters/${seg(name)}`, { body: data });
  }

  async deleteCluster(name: string): Promise<void> {
    await this.request('DELETE', `/admin/v2/clusters/${seg(name)}`);
  }

  // ---------------------------------------------------------------- tenants

  tenants(): Promise<string[]> {
    return this.getJson('/admin/v2/tenants', stringArray);
  }

  getTenant(tenant: string): Promise<TenantInfo> {
    return this.getJson(`/admin/v2/tenants/${seg(tenant)}`, (json) => {
      const o = object(json);
      return {
        adminRoles: stringArray(o['adminRoles'] ?? []),
        allowedClusters: stringArray(o['allowedClusters'] ?? []),
      };
    });
  }

  /**
   * Creates the tenant (`PUT`); when it exists (409) and its allowed clusters differ (as a set),
   * updates them (`POST`, keeping its admin roles).
   */
  async ensureTenant(
    tenant: string,
    options: { allowedClusters: string[]; adminRoles?: string[] },
  ): Promise<EnsureResult> {
    const path = `/admin/v2/tenants/${seg(tenant)}`;
    const wanted: TenantInfo = { adminRoles: options.adminRoles ?? [], allowedClusters: options.allowedClusters };
    const { status } = await this.request('PUT', path, { body: wanted, accept: [409] });
    if (status !== 409) return 'created';
    const current = await this.getTenant(tenant);
    const rolesDiffer = options.adminRoles !== undefined && !sameSet(current.adminRoles, options.adminRoles);
    if (sameSet(current.allowedClusters, options.allowedClusters) && !rolesDiffer) return 'unchanged';
    await this.request('POST', path, {
      body: { adminRoles: options.adminRoles ?? current.adminRoles, allowedClusters: options.allowedClusters },
    });
    return 'updated';
  }

  /** Fails with 409 while the tenant still has namespaces. */
  async deleteTenant(tenant: string): Promise<void> {
    await this.request('DELETE', `/admin/v2/tenants/${seg(tenant)}`);
  }

  // ---------------------------------------------------------------- namespaces

  /** Fully qualified names, e.g. `agentmesh/mesh`. */
  namespaces(tenant: string): Promise<string[]> {
    return this.getJson(`/admin/v2/namespaces/${seg(tenant)}`, stringArray);
  }

  /**
   * Creates the namespace (409 = exists, fine), then applies each given policy (each a POST,
   * idempotent). 'updated' when it existed and policies were given.
   */
  async ensureNamespace(tenant: string, namespace: string, policies: NamespacePolicies = {}): Promise<EnsureResult> {
    const { status } = await this.request('PUT', nsPath(tenant, namespace), { accept: [409] });
    if (policies.retention !== undefined) await this.setRetention(tenant, namespace, policies.retention);
    if (policies.deduplication !== undefined) await this.setDeduplication(tenant, namespace, policies.deduplication);
    if (policies.replicationClusters !== undefined) {
      await this.setReplicationClusters(tenant, namespace, policies.replicationClusters);
    }
    if (policies.messageTtlSeconds !== undefined)
      await this.setMessageTtl(tenant, namespace, policies.messageTtlSeconds);
    if (status !== 409) return 'created';
    return Object.values(policies).some((value) => value !== undefined) ? 'updated' : 'unchanged';
  }

  /**
   * Deletes the namespace. With `force`, first deletes its topics (partitioned ones included,
   * each with force=true) — the broker itself refuses `?force=true` on namespaces (405) unless
   * `forceDeleteNamespaceAllowed` is on, and a namespace with topics answers 409.
   */
  async deleteNamespace(tenant: string, namespace: string, options: { force?: boolean } = {}): Promise<void> {
    if (options.force) {
      const partitioned = await this.getJson(
        `/admin/v2/persistent/${seg(tenant)}/${seg(namespace)}/partitioned`,
        stringArray,
      );
      for (const topic of partitioned) {
        await this.request('DELETE', `/admin/v2/${parseTopicName(topic).restPath}/partitions`, {
          query: { force: true },
          accept: [404],
        });
      }
      for (const topic of await this.listTopics(tenant, namespace)) {
        await this.request('DELETE', `/admin/v2/${parseTopicName(topic).restPath}`, {
          query: { force: true },
          accept: [404],
        });
      }
    }
    await this.request('DELETE', nsPath(tenant, namespace));
  }

  async setRetention(tenant: string, namespace: string, retention: RetentionPolicy): Promise<void> {
    await this.request('POST', `${nsPath(tenant, namespace)}/retention`, {
      body: { retentionTimeInMinutes: retention.minutes, retentionSizeInMB: retention.sizeMB },
    });
  }

  /** null when the namespace has no retention policy of its own (the broker answers 200 with an empty body). */
  getRetention(tenant: string, namespace: string): Promise<RetentionPolicy | null> {
    return this.getJson(`${nsPath(tenant, namespace)}/retention`, (json) => {
      if (json === null) return null;
      const o = object(json);
      return { minutes: num(o, 'retentionTimeInMinutes'), sizeMB: num(o, 'retentionSizeInMB') };
    });
  }

  async setDeduplication(tenant: string, namespace: string, enabled: boolean): Promise<void> {
    await this.request('POST', `${nsPath(tenant, namespace)}/deduplication`, { body: enabled });
  }

  /** null when not set on the namespace (the broker-wide default applies). */
  getDeduplication(tenant: string, namespace: string): Promise<boolean | null> {
    return this.getJson(`${nsPath(tenant, namespace)}/deduplication`, (json) => {
      if (json === null || typeof json === 'boolean') return json;
      throw new TypeError(`expected true/false, got ${JSON.stringify(json)}`);
    });
  }

  async setReplicationClusters(tenant: string, namespace: string, clusters: string[]): Promise<void> {
    await this.request('POST', `${nsPath(tenant, namespace)}/replication`, { body: clusters });
  }

  getReplicationClusters(tenant: string, namespace: string): Promise<string[]> {
    return this.getJson(`${nsPath(tenant, namespace)}/replication`, stringArray);
  }

  /**
   * The namespace's own `allowed_clusters` (Pulsar ≥ 3.3, PIP-321); empty when not set, which
   * allows every cluster the tenant allows. When set, the replication clusters must be within it.
   */
  getNamespaceAllowedClusters(tenant: string, namespace: string): Promise<string[]> {
    return this.getJson(`${nsPath(tenant, namespace)}/allowedClusters`, (json) => stringArray(json ?? []));
  }

  async setNamespaceAllowedClusters(tenant: string, namespace: string, clusters: string[]): Promise<void> {
    await this.request('POST', `${nsPath(tenant, namespace)}/allowedClusters`, { body: clusters });
  }

  /**
   * Caps how fast this cluster's replicators send each topic of the namespace to the other
   * clusters (messages per second per topic); null removes the cap. The geo suite slows
   * replication with it, so that the lost region dies with events the survivor never saw.
   */
  async setReplicatorDispatchRate(tenant: string, namespace: string, messagesPerSecond: number | null): Promise<void> {
    if (messagesPerSecond === null) {
      await this.request('DELETE', `${nsPath(tenant, namespace)}/replicatorDispatchRate`);
      return;
    }
    await this.request('POST', `${nsPath(tenant, namespace)}/replicatorDispatchRate`, {
      body: { dispatchThrottlingRateInMsg: messagesPerSecond, dispatchThrottlingRateInByte: -1, ratePeriodInSecond: 1 },
    });
  }

  async setMessageTtl(tenant: string, namespace: string, seconds: number): Promise<void> {
    await this.request('POST', `${nsPath(tenant, namespace)}/messageTTL`, { body: seconds });
  }

  /** null when not set on the namespace. */
  getMessageTtl(tenant: string, namespace: string): Promise<number | null> {
    return this.getJson(`${nsPath(tenant, namespace)}/messageTTL`, (json) => {
      if (json === null || typeof json === 'number') return json;
      throw new TypeError(`expected a number, got ${JSON.stringify(json)}`);
    });
  }

  // ---------------------------------------------------------------- schemas

  /** The strategy the registry checks a new schema of the namespace's topics with (`UNDEFINED`: the broker's default). */
  async setSchemaCompatibilityStrategy(
    tenant: string,
    namespace: string,
    strategy: SchemaCompatibilityStrategy,
  ): Promise<void> {
    await this.request('PUT', `${nsPath(tenant, namespace)}/schemaCompatibilityStrategy`, { body: strategy });
  }

  getSchemaCompatibilityStrategy(tenant: string, namespace: string): Promise<string> {
    return this.getJson(`${nsPath(tenant, namespace)}/schemaCompatibilityStrategy`, (json) => {
      if (typeof json === 'string') return json;
      throw new TypeError(`expected a strategy name, got ${JSON.stringify(json)}`);
    });
  }

  /** Whether producers and consumers that send no schema are refused on the namespace's topics with one (must stay false for the mesh). */
  getSchemaValidationEnforced(tenant: string, namespace: string): Promise<boolean> {
    return this.getJson(`${nsPath(tenant, namespace)}/schemaValidationEnforced`, (json) => {
      if (typeof json === 'boolean') return json;
      throw new TypeError(`expected true/false, got ${JSON.stringify(json)}`);
    });
  }

  /**
   * Registers `schema` for the topic and returns its version: the same schema again keeps its
   * version; a schema the namespace's compatibility strategy refuses is a 409 PulsarAdminError.
   */
  async uploadSchema(topic: string, schema: SchemaDefinition): Promise<number> {
    const { text } = await this.request('POST', `${schemaPath(topic)}/schema`, { body: schemaBody(schema) });
    try {
      const version = object(object(parseJson(text))['version'] ?? null)['version'];
      if (typeof version === 'number') return version;
      throw new TypeError('no version');
    } catch {
      throw new PulsarAdminError(200, 'POST', `${schemaPath(topic)}/schema`, `unexpected answer: ${excerpt(text)}`);
    }
  }

  /** The topic's latest schema, or null when it has none. */
  async getSchema(topic: string): Promise<StoredSchema | null> {
    const { status, text } = await this.request('GET', `${schemaPath(topic)}/schema`, { accept: [404] });
    if (status === 404) return null;
    const o = object(parseJson(text));
    const data = str(o, 'data');
    return { version: num(o, 'version'), type: str(o, 'type'), schema: JSON.parse(data) as unknown };
  }

  /** Deletes every version of the topic's schema (fine when it has none). */
  async deleteSchema(topic: string): Promise<void> {
    await this.request('DELETE', `${schemaPath(topic)}/schema`, { accept: [404] });
  }

  /**
   * Asks the registry whether `schema` is compatible with the topic's registered ones under the
   * namespace's strategy, registering nothing. The broker answers an incompatible schema with an
   * error (409, or 500 carrying an IncompatibleSchemaException): both are `compatible: false`.
   */
  async checkSchemaCompatibility(topic: string, schema: SchemaDefinition): Promise<SchemaCompatibility> {
    const path = `${schemaPath(topic)}/compatibility`;
    const { status, text } = await this.request('POST', path, { body: schemaBody(schema), accept: [409, 500] });
    if (status === 409 || (status === 500 && /Incompatible|SchemaValidationException/.test(text))) {
      return { compatible: false, reason: incompatibility(text) };
    }
    if (status === 500) throw new PulsarAdminError(status, 'POST', path, reasonOf(text, 'server error'));
    const o = object(parseJson(text));
    return { compatible: o['compatibility'] === true, strategy: optStr(o, 'schemaCompatibilityStrategy') };
  }

  /**
   * Sets the namespace's compatibility strategy (BACKWARD unless told), then registers each
   * topic's schema (short names, in the namespace) and returns their versions. The first schema
   * the registry refuses stops it with an error naming the topic.
   */
  async registerSchemas(
    tenant: string,
    namespace: string,
    schemas: readonly { readonly topic: string; readonly schema: SchemaDefinition }[],
    strategy: SchemaCompatibilityStrategy = 'BACKWARD',
  ): Promise<Record<string, number>> {
    await this.setSchemaCompatibilityStrategy(tenant, namespace, strategy);
    const versions: Record<string, number> = {};
    for (const { topic, schema } of schemas) {
      try {
        versions[topic] = await this.uploadSchema(persistentTopic(tenant, namespace, topic), schema);
      } catch (error) {
        if (!(error instanceof PulsarAdminError)) throw error;
        throw new PulsarAdminError(error.status, error.method, error.path, `schema of ${topic}: ${error.reason}`);
      }
    }
    return versions;
  }

  // ---------------------------------------------------------------- topics

  /** Persistent topics of the namespace, fully qualified (partitions appear as `…-partition-N`). */
  listTopics(tenant: string, namespace: string): Promise<string[]> {
    return this.getJson(`/admin/v2/persistent/${seg(tenant)}/${seg(namespace)}`, stringArray);
  }

  /** Creates a non-partitioned topic; false when it already existed (409). */
  async createTopic(topic: string): Promise<boolean> {
    const { status } = await this.request('PUT', topicPath(topic), { accept: [409] });
    return status !== 409;
  }

  /** `force` also disconnects producers/consumers; without it a topic with connected clients answers 412. */
  async deleteTopic(topic: string, options: { force?: boolean } = {}): Promise<void> {
    await this.request('DELETE', topicPath(topic), { query: { force: options.force ?? false } });
  }

  /**
   * A topic-level retention policy, overriding the namespace's for this topic (needs the broker's
   * topicLevelPoliciesEnabled, the default). The topic must exist.
   */
  async setTopicRetention(topic: string, retention: RetentionPolicy): Promise<void> {
    await this.request('POST', `${topicPath(topic)}/retention`, {
      body: { retentionTimeInMinutes: retention.minutes, retentionSizeInMB: retention.sizeMB },
    });
  }

  /** The topic's own retention policy; null when it has none (the namespace's applies). */
  getTopicRetention(topic: string): Promise<RetentionPolicy | null> {
    return this.getJson(`${topicPath(topic)}/retention`, (json) => {
      if (json === null) return null;
      const o = object(json);
      return { minutes: num(o, 'retentionTimeInMinutes'), sizeMB: num(o, 'retentionSizeInMB') };
    });
  }

  /** Closes the topic on its broker (clients reconnect; counters restart). */
  async unloadTopic(topic: string): Promise<void> {
    await this.request('PUT', `${topicPath(topic)}/unload`);
  }

  async topicStats(topic: string): Promise<TopicStats> {
    return this.getJson(`${topicPath(topic)}/stats`, toTopicStats);
  }

  /** `msgBacklog` of one subscription; 404 PulsarAdminError when the topic or subscription is missing. */
  async backlog(topic: string, subscription: string): Promise<number> {
    const stats = await this.topicStats(topic);
    const sub = stats.subscriptions[subscription];
    if (!sub) {
      throw new PulsarAdminError(
        404,
        'GET',
        `${topicPath(topic)}/stats`,
        `Subscription ${subscription} not found on ${topic}`,
      );
    }
    return sub.msgBacklog;
  }

  subscriptions(topic: string): Promise<string[]> {
    return this.getJson(`${topicPath(topic)}/subscriptions`, stringArray);
  }

  /**
   * Creates a durable subscription at the earliest or latest (default) message; false when it
   * already existed (409; its position is left alone).
   */
  async createSubscription(
    topic: string,
    subscription: string,
    position: InitialPosition = 'latest',
  ): Promise<boolean> {
    const { status } = await this.request('PUT', `${topicPath(topic)}/subscription/${seg(subscription)}`, {
      body: position === 'earliest' ? EARLIEST : undefined,
      accept: [409],
    });
    return status !== 409;
  }

  async deleteSubscription(topic: string, subscription: string, options: { force?: boolean } = {}): Promise<void> {
    await this.request('DELETE', `${topicPath(topic)}/subscription/${seg(subscription)}`, {
      query: { force: options.force ?? false },
    });
  }

  /** Moves the subscription's cursor forward by `count` messages. */
  async skipMessages(topic: string, subscription: string, count: number): Promise<void> {
    await this.request('POST', `${topicPath(topic)}/subscription/${seg(subscription)}/skip/${count}`);
  }

  async clearBacklog(topic: string, subscription: string): Promise<void> {
    await this.request('POST', `${topicPath(topic)}/subscription/${seg(subscription)}/skip_all`);
  }

  /**
   * Publishes through the broker's REST producer (`POST /topics/persistent/{t}/{ns}/{topic}`),
   * returning the message ids. Useful for tooling and tests without a Pulsar client. Caveats
   * (4.2.4): it registers a STRING schema on the topic; it fails with a NullPointerException on
   * namespaces with deduplication enabled; it does not count in `msgInCounter`/`publishers`.
   * A per-message failure (HTTP 200 with `errorCode` ≠ 0) throws a PulsarAdminError.
   */
  async publishViaRest(
    topic: string,
    messages: ReadonlyArray<string | RestMessage>,
    producerName?: string,
  ): Promise<string[]> {
    const path = `/topics/${parseTopicName(topic).restPath}`;
    const body = {
      ...(producerName ? { producerName } : {}),
      messages: messages.map((m) => (typeof m === 'string' ? { payload: m } : m)),
    };
    const { status, text } = await this.request('POST', path, { body });
    const results = arrayOf(object(parseJson(text))['messagePublishResults'] ?? null);
    return results.map((entry, index) => {
      const result = object(entry);
      const errorCode = typeof result['errorCode'] === 'number' ? result['errorCode'] : 0;
      if (errorCode !== 0) {
        const msg = typeof result['errorMsg'] === 'string' ? result['errorMsg'] : 'unknown error';
        throw new PulsarAdminError(
          status,
          'POST',
          path,
          `message ${index} of ${messages.length} rejected (errorCode ${errorCode}): ${msg}`,
        );
      }
      return str(result, 'messageId');
    });
  }

  // ---------------------------------------------------------------- HTTP

  private async getJson<T>(path: string, decode: (json: Json) => T): Promise<T> {
    const { text } = await this.request('GET', path);
    try {
      return decode(parseJson(text));
    } catch (error) {
      throw new PulsarAdminError(
        200,
        'GET',
        path,
        `unexpected response body (${(error as Error).message}): ${excerpt(text)}`,
      );
    }
  }

  private async request(method: Method, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const query = options.query
      ? `?${new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)])).toString()}`
      : '';
    const url = `${this.webUrl}${path}${query}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new PulsarUnreachableError(this.webUrl, method, path, describeNetworkError(error, this.timeoutMs), {
        cause: error,
      });
    }
    if (response.ok || options.accept?.includes(response.status)) return { status: response.status, text };
    throw new PulsarAdminError(response.status, method, path, reasonOf(text, response.statusText));
  }
}

// ------------------------------------------------------------------ helpers

function seg(value: string): string {
  if (!value) throw new Error('Pulsar admin: empty path segment (tenant, namespace, cluster or subscription name)');
  return encodeURIComponent(value);
}

function nsPath(tenant: string, namespace: string): string {
  return `/admin/v2/namespaces/${seg(tenant)}/${seg(namespace)}`;
}

/** `/admin/v2/schemas/<tenant>/<namespace>/<topic>` of a persistent topic. */
function schemaPath(topic: string): string {
  const name = parseTopicName(topic);
  return `/admin/v2/schemas/${[name.tenant, name.namespace, name.name].map(encodeURIComponent).join('/')}`;
}

/** The line of the broker's answer that says why a schema is incompatible (its `Message:`). */
function incompatibility(text: string): string {
  const lines = reasonOf(text, 'incompatible')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const message = lines.find((line) => line.startsWith('Message:')) ?? lines[0] ?? 'incompatible';
  return excerpt(message.replace(/^Message:\s*/, ''));
}

function schemaBody(schema: SchemaDefinition): object {
  return { type: schema.type, schema: JSON.stringify(schema.schema), properties: schema.properties ?? {} };
}

function topicPath(topic: string): string {
  return `/admin/v2/${parseTopicName(topic).restPath}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

/** Empty body (the broker's "not set") → null. */
function parseJson(text: string): Json {
  return text.trim() === '' ? null : (JSON.parse(text) as Json);
}

function reasonOf(text: string, statusText: string): string {
  try {
    const json = parseJson(text);
    if (json && typeof json === 'object' && !Array.isArray(json)) {
      for (const key of ['reason', 'message', 'error']) {
        const value = json[key];
        if (typeof value === 'string' && value) return value;
      }
    }
  } catch {
    // not JSON: Jetty's HTML error page or plain text
  }
  const title = /<title>([^<]*)<\/title>/i.exec(text);
  if (title?.[1]) return title[1].trim();
  return excerpt(text) || statusText;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/** Reads fetch's failure. Duck-typed: undici's errors may come from another realm (e.g. under Jest), so no instanceof. */
function describeNetworkError(error: unknown, timeoutMs: number): string {
  const field = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  const name = field(error, 'name');
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = field(error, 'cause');
  const code = field(cause, 'code');
  const causeMessage = field(cause, 'message');
  if (typeof code === 'string') return typeof causeMessage === 'string' ? `${code} (${causeMessage})` : code;
  if (typeof causeMessage === 'string') return causeMessage;
  const message = field(error, 'message');
  return typeof message === 'string' ? message : String(error);
}

function object(json: Json): JsonObject {
  if (json && typeof json === 'object' && !Array.isArray(json)) return json;
  throw new TypeError(`expected an object, got ${JSON.stringify(json)?.slice(0, 80)}`);
}

function arrayOf(json: Json): Json[] {
  if (Array.isArray(json)) return json;
  throw new TypeError(`expected an array, got ${JSON.stringify(json)?.slice(0, 80)}`);
}

function stringArray(json: Json): string[] {
  return arrayOf(json).map((x) => {
    if (typeof x !== 'string') throw new TypeError(`expected strings, got ${JSON.stringify(x)}`);
    return x;
  });
}

function num(o: JsonObject, key: string): number {
  const value = o[key];
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number') throw new TypeError(`${key}: expected a number, got ${JSON.stringify(value)}`);
  return value;
}

function str(o: JsonObject, key: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw new TypeError(`${key}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function optStr(o: JsonObject, key: string): string | undefined {
  const value = o[key];
  return typeof value === 'string' ? value : undefined;
}

const SUBSCRIPTION_TYPES: ReadonlyArray<SubscriptionType | 'None'> = [
  'Exclusive',
  'Shared',
  'Failover',
  'Key_Shared',
  'None',
];

function toConsumerStats(json: Json): ConsumerStats {
  const o = object(json);
  return {
    consumerName: optStr(o, 'consumerName') ?? '',
    unackedMessages: num(o, 'unackedMessages'),
    msgOutCounter: num(o, 'msgOutCounter'),
    availablePermits: num(o, 'availablePermits'),
    address: optStr(o, 'address'),
    connectedSince: optStr(o, 'connectedSince'),
  };
}

function toSubscriptionStats(json: Json): SubscriptionStats {
  const o = object(json);
  const type = SUBSCRIPTION_TYPES.find((t) => t === o['type']);
  if (!type) throw new TypeError(`subscription type: unexpected ${JSON.stringify(o['type'])}`);
  return {
    msgBacklog: num(o, 'msgBacklog'),
    unackedMessages: num(o, 'unackedMessages'),
    type,
    msgOutCounter: num(o, 'msgOutCounter'),
    msgRateOut: num(o, 'msgRateOut'),
    isDurable: o['isDurable'] !== false,
    consumers: arrayOf(o['consumers'] ?? []).map(toConsumerStats),
  };
}

function toPublisherStats(json: Json): PublisherStats {
  const o = object(json);
  return {
    producerName: optStr(o, 'producerName') ?? '',
    producerId: num(o, 'producerId'),
    accessMode: optStr(o, 'accessMode') ?? 'Shared',
    msgRateIn: num(o, 'msgRateIn'),
    address: optStr(o, 'address'),
    connectedSince: optStr(o, 'connectedSince'),
  };
}

function toTopicStats(json: Json): TopicStats {
  const o = object(json);
  const subscriptions: Record<string, SubscriptionStats> = {};
  for (const [name, sub] of Object.entries(object(o['subscriptions'] ?? {})))
    subscriptions[name] = toSubscriptionStats(sub);
  const replication: Record<string, ReplicatorStats> = {};
  for (const [cluster, stats] of Object.entries(object(o['replication'] ?? {})))
    replication[cluster] = toReplicatorStats(stats);
  return {
    msgInCounter: num(o, 'msgInCounter'),
    msgOutCounter: num(o, 'msgOutCounter'),
    bytesInCounter: num(o, 'bytesInCounter'),
    bytesOutCounter: num(o, 'bytesOutCounter'),
    storageSize: num(o, 'storageSize'),
    backlogSize: num(o, 'backlogSize'),
    subscriptions,
    publishers: arrayOf(o['publishers'] ?? []).map(toPublisherStats),
    deduplicationStatus: optStr(o, 'deduplicationStatus'),
    replication,
  };
}

function toReplicatorStats(json: Json): ReplicatorStats {
  const o = object(json);
  return {
    replicationBacklog: num(o, 'replicationBacklog'),
    msgRateOut: num(o, 'msgRateOut'),
    msgRateIn: num(o, 'msgRateIn'),
    replicationDelayInSeconds: num(o, 'replicationDelayInSeconds'),
    connected: o['connected'] === true,
  };
}
