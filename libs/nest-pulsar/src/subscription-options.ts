import type { InitialPosition, SubscribeOptions, SubscriptionType } from '@agent-mesh/bus';
import { qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import type { MeshSubscriptionOptions } from './decorators';

/** Every default of a handler's subscription, in one place (README "Subscription options"). */
export const SUBSCRIPTION_DEFAULTS = {
  type: 'Shared',
  maxRedeliverCount: 5,
  deadLetterTopic: Topics.deadLetter,
  /** 0: no ack timeout. */
  ackTimeoutMs: 0,
  nackRedeliveryDelayMs: 1000,
  initialPosition: 'earliest',
  concurrency: 16,
} as const satisfies Omit<ResolvedSubscription, 'topic' | 'subscription'>;

/** A handler's subscription with its templates expanded, its topics qualified and every default applied. */
export interface ResolvedSubscription {
  readonly topic: string;
  readonly subscription: string;
  readonly type: SubscriptionType;
  readonly maxRedeliverCount: number;
  readonly deadLetterTopic: string;
  readonly ackTimeoutMs: number;
  readonly nackRedeliveryDelayMs: number;
  readonly initialPosition: InitialPosition;
  readonly concurrency: number;
}

/** Options that must agree between handlers sharing one consumer. */
export const SHARED_OPTIONS = [
  'type',
  'maxRedeliverCount',
  'deadLetterTopic',
  'ackTimeoutMs',
  'nackRedeliveryDelayMs',
  'initialPosition',
  'concurrency',
] as const satisfies readonly (keyof ResolvedSubscription)[];

export interface SubscriptionContext {
  readonly naming: TopicNaming;
  /** Values for `{name}` placeholders, e.g. `{ capability: ['keywords'] }`. */
  readonly topicVariables?: Readonly<Record<string, readonly string[]>>;
}

/** One resolved subscription per topic the declaration's `{variable}` placeholders expand to. */
export function resolveSubscriptions(
  declared: MeshSubscriptionOptions,
  context: SubscriptionContext,
): ResolvedSubscription[] {
  const subscription = expandSubscription(declared.subscription, context);
  const deadLetterTopic = qualifyTopic(
    context.naming,
    declared.deadLetterTopic ?? SUBSCRIPTION_DEFAULTS.deadLetterTopic,
  );
  return expandTopic(declared.topic, context).map((shortTopic) => ({
    topic: qualifyTopic(context.naming, shortTopic),
    subscription,
    type: declared.type ?? SUBSCRIPTION_DEFAULTS.type,
    maxRedeliverCount: declared.maxRedeliverCount ?? SUBSCRIPTION_DEFAULTS.maxRedeliverCount,
    deadLetterTopic,
    ackTimeoutMs: declared.ackTimeoutMs ?? SUBSCRIPTION_DEFAULTS.ackTimeoutMs,
    nackRedeliveryDelayMs: declared.nackRedeliveryDelayMs ?? SUBSCRIPTION_DEFAULTS.nackRedeliveryDelayMs,
    initialPosition: declared.initialPosition ?? SUBSCRIPTION_DEFAULTS.initialPosition,
    concurrency: declared.concurrency ?? SUBSCRIPTION_DEFAULTS.concurrency,
  }));
}

/** The bus's options for a consumer of this subscription; `consumerName` names the process. */
export function toSubscribeOptions(resolved: ResolvedSubscription, consumerName: string): SubscribeOptions {
  return {
    topic: resolved.topic,
    subscription: resolved.subscription,
    type: resolved.type,
    initialPosition: resolved.initialPosition,
    ackTimeoutMs: resolved.ackTimeoutMs,
    nackRedeliveryDelayMs: resolved.nackRedeliveryDelayMs,
    receiverQueueSize: resolved.concurrency,
    consumerName,
    deadLetter: { maxRedeliverCount: resolved.maxRedeliverCount, deadLetterTopic: resolved.deadLetterTopic },
  };
}

/** The first option two resolutions of one subscription disagree on, or undefined. */
export function conflictingOption(
  a: ResolvedSubscription,
  b: ResolvedSubscription,
): (typeof SHARED_OPTIONS)[number] | undefined {
  return SHARED_OPTIONS.find((option) => a[option] !== b[option]);
}

/** `bidder-{instance}`: a subscription of this process's own (every instance sees every message). */
function expandSubscription(template: string, context: SubscriptionContext): string {
  return template.replace(/\{([a-zA-Z]+)\}/g, (_whole, name: string) => {
    const values = context.topicVariables?.[name];
    if (values?.length !== 1) {
      throw new Error(
        `subscription "${template}" needs exactly one value of topicVariables.${name} in the mesh transport options`,
      );
    }
    return values[0];
  });
}

/** `tasks.{capability}`: one topic per value of each placeholder. */
function expandTopic(template: string, context: SubscriptionContext): string[] {
  let topics = [template];
  for (const match of template.matchAll(/\{([a-zA-Z]+)\}/g)) {
    const values = context.topicVariables?.[match[1]];
    if (!values?.length) {
      throw new Error(
        `topic "${template}" needs topicVariables.${match[1]} (one value at least) in the mesh transport options`,
      );
    }
    topics = topics.flatMap((t) => (t.includes(match[0]) ? values.map((v) => t.replaceAll(match[0], v)) : [t]));
  }
  return topics;
}
