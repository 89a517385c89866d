/** A fully qualified persistent topic, `persistent://tenant/namespace/name`. */
export interface PersistentTopicName {
  readonly tenant: string;
  readonly namespace: string;
  readonly name: string;
  /** `persistent://tenant/namespace/name` */
  readonly fullName: string;
  /** `persistent/tenant/namespace/name`, each segment URL-encoded: the admin REST path under /admin/v2/. */
  readonly restPath: string;
}

const PREFIX = 'persistent://';
/** Pulsar's rule for tenant and namespace names (NamedEntity): letters, digits, `_ - = : .`. */
const ENTITY = /^[-=:.\w]+$/;

/**
 * Parses `persistent://tenant/namespace/name`. Anything else — a short name (`my-topic`),
 * `non-persistent://…`, a v1 name with a cluster segment, empty segments — throws, saying why.
 */
export function parseTopicName(topic: string): PersistentTopicName {
  const fail = (why: string): never => {
    throw new Error(
      `Invalid topic name ${JSON.stringify(topic)}: ${why}; expected persistent://<tenant>/<namespace>/<name>`,
    );
  };
  if (typeof topic !== 'string' || topic.length === 0) fail('empty');
  if (!topic.startsWith(PREFIX)) {
    const scheme = /^([a-z-]+):\/\//.exec(topic);
    fail(scheme ? `only persistent topics are supported, not ${scheme[1]}://` : 'not fully qualified');
  }
  const segments = topic.slice(PREFIX.length).split('/');
  if (segments.length !== 3) fail(`has ${segments.length} path segment(s) after persistent://, not 3`);
  const [tenant, namespace, name] = segments as [string, string, string];
  if (!ENTITY.test(tenant))
    fail(`tenant ${JSON.stringify(tenant)} is empty or has characters other than letters, digits, _-=:.`);
  if (!ENTITY.test(namespace)) {
    fail(`namespace ${JSON.stringify(namespace)} is empty or has characters other than letters, digits, _-=:.`);
  }
  if (name.length === 0) fail('topic name is empty');
  if (/\s/.test(name)) fail('topic name contains whitespace');
  return {
    tenant,
    namespace,
    name,
    fullName: topic,
    restPath: ['persistent', tenant, namespace, name].map(encodeURIComponent).join('/'),
  };
}

/** Builds `persistent://tenant/namespace/name` (validated by {@link parseTopicName}). */
export function persistentTopic(tenant: string, namespace: string, name: string): string {
  return parseTopicName(`${PREFIX}${tenant}/${namespace}/${name}`).fullName;
}
