import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import {
  DEAD_LETTER_SUBSCRIPTION,
  defaultRetryTopic,
  failedAttempts,
  retryMessage,
  type BusConnectionStatus,
  type BusMessage,
  type Consumer,
  type SubscribeOptions,
} from '@agent-mesh/bus';
import { describeError, type EventEnvelope, type EventRegistry } from '@agent-mesh/contracts';
import { handleInScope, recordSpanError, type HandledMessage } from '@agent-mesh/telemetry';
import { isObservable, lastValueFrom } from 'rxjs';
import type { MeshHandlerExtras } from './decorators';
import { directHandler, MESH_HANDLER_METHOD, type DirectHandler } from './direct-handler';
import { MeshContext } from './mesh-context';
import { MeshObservers, secondsSince, type MessageOutcome } from './observers';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './mesh-publisher';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from './options';
import { decideFailure, resolveRetry, type HandlerRetry } from './retry';
import {
  conflictingOption,
  resolveSubscriptions,
  toSubscribeOptions,
  type ResolvedSubscription,
} from './subscription-options';
import { traceIdOf } from './trace';

const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** A handler as the server calls it: straight on the controller when nothing runs around it, else through Nest. */
interface RoutedHandler {
  readonly nest: MessageHandler;
  readonly direct?: DirectHandler;
  readonly retry: HandlerRetry;
  /** `ownRegionOnly` of its declaration. */
  readonly ownRegionOnly: boolean;
}

/** A handler as declared with `@OnMeshEvent`, with its subscription resolved (one per topic its template expands to). */
interface DeclaredHandler {
  readonly extras: MeshHandlerExtras;
  readonly subscriptions: readonly ResolvedSubscription[];
  readonly routed: RoutedHandler;
}

/** A decoded message on its way to a handler, with the consumer that settles it. */
interface Delivery {
  readonly envelope: EventEnvelope<object>;
  readonly message: BusMessage;
  readonly consumer: Consumer;
}

/** One consumer: a topic, a subscription and the handlers that share it. */
interface SubscriptionGroup {
  readonly options: SubscribeOptions;
  readonly ordered: boolean;
  /** Keyed `type@version`, or `type@*` for a handler of every version of a type. */
  readonly handlers: Map<string, RoutedHandler>;
  /** The options of the first handler of the group; every other one must agree with them. */
  readonly resolved: ResolvedSubscription;
  /** Ordered groups: the last message started per key, so the next one of that key waits for it. */
  readonly keyChains: Map<string, Promise<void>>;
  /**
   * Where failed messages wait out their backoff; the group consumes it too (see `retryOptions`).
   * None for Failover: delayed delivery does not exist there, and a Shared retry topic would hand
   * retries to a process that is not the active consumer; its retries are nacks (fixed delay).
   */
  readonly retryTopic?: string;
}

/** What `on()` takes: the bus's connection status, on every change. */
export type MeshTransportEvents = {
  status: (status: BusConnectionStatus) => void;
};

/**
 * The NestJS transport of the mesh: every `@OnMeshEvent` handler becomes a consumer on the
 * EventBus. Messages are decoded and validated before a handler sees them; the ones that can
 * never be handled go to the dead-letter topic with the reason. Shutdown stops taking messages,
 * waits for the in-flight ones, then closes the consumers (whatever was not acked returns to
 * the subscription for another process). Its `status` is the bus's connection status.
 */
@Injectable()
export class MeshTransportServer
  extends Server<MeshTransportEvents, BusConnectionStatus>
  implements CustomTransportStrategy, BeforeApplicationShutdown
{
  private readonly log = new Logger('MeshTransport');
  private readonly consumers: Consumer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  private closed?: Promise<void>;

  constructor(
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly options: MeshTransportOptions,
    /** The app's modules, to find the controllers whose handlers can be called directly. */
    @Optional() private readonly modules?: ModulesContainer,
    /** Told how each message was settled (metrics, heartbeats). */
    @Optional() private readonly observers?: MeshObservers,
  ) {
    super();
    this._status$.next(options.bus.connectionStatus);
    options.bus.onConnectionStatus((status) => this._status$.next(status));
  }

  listen(callback: (error?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  /** Subscribes every handler; exposed for tests and for processes without an HTTP app. */
  async start(): Promise<void> {
    try {
      const groups = this.groups();
      for (const group of groups) {
        const listener = (message: BusMessage, c: Consumer) => this.onMessage(group, message, c);
        this.consumers.push(await this.options.bus.subscribe(group.options, listener));
        const { retryTopic } = group;
        const retries =
          retryTopic !== undefined && [...group.handlers.values()].some((h) => h.retry.policy.attempts > 1);
        if (retries)
          this.consumers.push(await this.options.bus.subscribe(this.retryOptions(group, retryTopic), listener));
        this.log.log(
          `${group.options.subscription} (${group.options.type}) on ${group.options.topic}${retries ? ' and its retry topic' : ''}: ${[...group.handlers.keys()].join(', ')}`,
        );
      }
      await this.keepDeadLetters(groups);
    } catch (error) {
      // A process that failed to start must not keep consuming through the consumers it made.
      await Promise.allSettled(this.consumers.map((c) => c.close()));
      this.consumers.length = 0;
      throw error;
    }
  }

  /** Number of messages being handled right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  close(): Promise<void> {
    this.closed ??= this.drainAndClose();
    return this.closed;
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** `on('status', listener)`: the bus's connection status on every change; returns what stops it. */
  on<Event extends keyof MeshTransportEvents>(event: Event, callback: MeshTransportEvents[Event]): () => void {
    return this.options.bus.onConnectionStatus(callback);
  }

  unwrap<T>(): T {
    return this.options.bus as unknown as T;
  }

  private async drainAndClose(): Promise<void> {
    this.closing = true;
    const timeoutMs = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    if (this.inFlight.size > 0) {
      this.log.log(`draining ${this.inFlight.size} in-flight message(s)`);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const outcome = await Promise.race([Promise.allSettled([...this.inFlight]), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.log.warn(
          `${this.inFlight.size} message(s) still in flight after ${timeoutMs} ms; they will be redelivered`,
        );
      }
    }
    await Promise.allSettled(this.consumers.map((c) => c.close()));
    this.consumers.length = 0;
  }

  /** Every `@OnMeshEvent` handler of the app, checked (one per pattern, each a mesh handler), with its subscriptions resolved. */
  private declaredHandlers(): DeclaredHandler[] {
    return [...this.getHandlers()].map(([pattern, handler]) => {
      const extras = handler.extras as MeshHandlerExtras | undefined;
      if (!extras?.eventType || !extras.topic || !extras.subscription) {
        throw new Error(`handler for ${pattern} is not a mesh handler: declare it with @OnMeshEvent`);
      }
      if (handler.next) {
        // Nest chains handlers declared with the same pattern; on the mesh that is a mistake.
        throw new Error(
          `two handlers for ${extras.eventType} in subscription "${extras.subscription}" on ${extras.topic}`,
        );
      }
      const subscriptions = resolveSubscriptions(extras, this.options);
      const retry = resolveRetry(extras.retry, `${extras.eventType} in subscription "${extras.subscription}"`);
      const routed = { nest: handler, direct: this.directCallOf(extras), retry, ownRegionOnly: !!extras.ownRegionOnly };
      return { extras, subscriptions, routed };
    });
  }

  /** One consumer per topic and subscription, with the handlers that share it; their options must agree. */
  private groups(): SubscriptionGroup[] {
    const groups = new Map<string, SubscriptionGroup>();
    for (const { extras, subscriptions, routed } of this.declaredHandlers()) {
      for (const resolved of subscriptions) {
        const id = `${resolved.topic}|${resolved.subscription}`;
        const group = groups.get(id) ?? this.newGroup(resolved);
        groups.set(id, group);
        const conflict = conflictingOption(group.resolved, resolved);
        if (conflict) {
          throw new Error(
            `subscription "${extras.subscription}" on ${resolved.topic} is declared with ${conflict} ${String(group.resolved[conflict])} and ${String(resolved[conflict])}; handlers sharing a subscription must agree`,
          );
        }
        const routeKey = `${extras.eventType}@${extras.eventVersion ?? '*'}`;
        if (group.handlers.has(routeKey)) {
          throw new Error(
            `two handlers for ${extras.eventType} in subscription "${extras.subscription}" on ${resolved.topic}`,
          );
        }
        group.handlers.set(routeKey, routed);
      }
    }
    return [...groups.values()];
  }

  private newGroup(resolved: ResolvedSubscription): SubscriptionGroup {
    return {
      resolved,
      options: toSubscribeOptions(resolved, `${this.options.origin.source}/${resolved.subscription}`),
      ordered: resolved.type !== 'Shared',
      handlers: new Map(),
      keyChains: new Map(),
      retryTopic: resolved.type === 'Failover' ? undefined : defaultRetryTopic(resolved.topic, resolved.subscription),
    };
  }

  /**
   * The group's subscription on its retry topic, as Pulsar's retryLetterTopic: same name, Shared
   * (Key_Shared for a Key_Shared group) since delayed delivery works on those only, from the
   * earliest message (everything on it is for this subscription). Its messages go through the
   * same handlers and, for ordered groups, the same per-key chains.
   */
  private retryOptions(group: SubscriptionGroup, retryTopic: string): SubscribeOptions {
    return {
      ...group.options,
      topic: retryTopic,
      type: group.options.type === 'Key_Shared' ? 'Key_Shared' : 'Shared',
      initialPosition: 'earliest',
    };
  }

  /**
   * Gives each dead-letter topic its durable subscription `mesh-dlq` (the pending dead letters
   * `mesh dlq` lists, replays and purges), so dead letters are kept from the first start on
   * even where the namespace retains nothing without a subscription.
   */
  private async keepDeadLetters(groups: readonly SubscriptionGroup[]): Promise<void> {
    for (const topic of new Set(groups.map((g) => g.resolved.deadLetterTopic))) {
      const keeper = await this.options.bus.subscribe(
        {
          topic,
          subscription: DEAD_LETTER_SUBSCRIPTION,
          type: 'Shared',
          initialPosition: 'earliest',
          receiverQueueSize: 1,
        },
        () => undefined, // never acked: whatever reaches it returns to the subscription on close
      );
      await keeper.close();
    }
  }

  /** The direct call of a handler, unless Nest has to run something around it (see direct-handler.ts). */
  private directCallOf(extras: MeshHandlerExtras): DirectHandler | undefined {
    const target = extras[MESH_HANDLER_METHOD];
    if (this.options.alwaysUseNestPipeline || !this.modules || !target) return undefined;
    const direct = directHandler(this.modules, target);
    if (typeof direct === 'string') {
      this.log.log(`${extras.eventType} runs through Nest's pipeline: ${direct}`);
      return undefined;
    }
    return direct;
  }

  private onMessage(group: SubscriptionGroup, message: BusMessage, consumer: Consumer): void {
    // Not started while closing: left unacked, it returns to the subscription when we close.
    if (this.closing) return;
    let task: Promise<void>;
    if (group.ordered) {
      // One message per key at a time keeps the per-key order the subscription delivers. A key
      // with nothing in flight starts at once (its decode and a synchronous handler run now).
      const chainKey = message.key ?? '';
      const previous = group.keyChains.get(chainKey);
      task = previous
        ? previous.then(() => (this.closing ? undefined : this.handle(group, message, consumer)))
        : this.handle(group, message, consumer);
      group.keyChains.set(chainKey, task);
      void task.then(() => {
        if (group.keyChains.get(chainKey) === task) group.keyChains.delete(chainKey);
      });
    } else {
      task = this.handle(group, message, consumer);
    }
    this.inFlight.add(task);
    void task.then(() => this.inFlight.delete(task));
  }

  /** Decodes, routes, runs the handler and settles the message; never rejects. */
  private async handle(group: SubscriptionGroup, message: BusMessage, consumer: Consumer): Promise<void> {
    const { subscription, topic } = group.options;
    try {
      // The limit publishers keep to holds on receipt too: a larger message (another client, an
      // older build) is never parsed, whatever it holds.
      const limit = this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
      if (message.payload.length > limit) {
        const reason = `payload-too-large: ${message.payload.length} bytes, over the ${limit}-byte limit`;
        this.log.warn(`dead-lettering ${message.messageId} from ${topic} (${subscription}): ${reason}`);
        await consumer.deadLetter(message, reason);
        return;
      }
      const decoded = this.decode(message.payload);
      if (!decoded.ok) {
        this.log.warn(
          `dead-lettering ${message.messageId} from ${topic} (${subscription}): ${decoded.code}: ${decoded.reason}`,
        );
        await consumer.deadLetter(message, `${decoded.code}: ${decoded.reason}`);
        this.settled(group, 'undecodable', 'dead_lettered');
        return;
      }
      const { envelope } = decoded;
      if (!this.takes(envelope)) {
        // Another region's workflow (replicated): left to its home, in the log for an adoption.
        await consumer.ack(message);
        this.settled(group, envelope.type, 'acked');
        return;
      }
      const handler =
        group.handlers.get(`${envelope.type}@${envelope.version}`) ?? group.handlers.get(`${envelope.type}@*`);
      if (!handler) {
        const versions = [...group.handlers.keys()].filter((k) => k.startsWith(`${envelope.type}@`));
        if (versions.length === 0) {
          await consumer.ack(message); // a valid event this subscription has no interest in
          this.settled(group, envelope.type, 'acked');
          return;
        }
        await consumer.deadLetter(
          message,
          `unsupported-version: ${subscription} handles ${versions.join(', ')}, got ${envelope.type}@${envelope.version}`,
        );
        this.settled(group, envelope.type, 'dead_lettered');
        return;
      }
      if (handler.ownRegionOnly && !this.producedHere(envelope)) {
        await consumer.ack(message); // another region's agent's event, replicated here
        this.settled(group, envelope.type, 'acked');
        return;
      }
      const delivery = { envelope, message, consumer };
      // The one place a handler runs: in its message's log fields and trace span.
      await handleInScope(this.scopeOf(delivery), () => this.runAndSettle(group, handler, delivery));
    } catch (error) {
      // The consumer went away (crash, shutdown): the broker redelivers, nothing is lost.
      this.log.debug(`could not settle ${message.messageId} on ${topic}: ${describeError(error)}`);
    }
  }

  /**
   * Homing, the one place (docs/geo.md): in a geo set, whether this process works on the event's
   * workflow — homed in its region, or in a home its region adopted. An event with no home is its
   * producer's region's.
   */
  private takes(envelope: EventEnvelope<object>): boolean {
    return this.options.homing?.takes(envelope.home ?? envelope.region) ?? true;
  }

  /** Whether the event was produced in this process's region (always, outside a geo set). */
  private producedHere(envelope: EventEnvelope<object>): boolean {
    return this.options.homing === undefined || envelope.region === this.options.homing.region;
  }

  /** Runs the handler, then acks; or, when it throws, retries or dead-letters (see `failed`). */
  private async runAndSettle(group: SubscriptionGroup, handler: RoutedHandler, delivery: Delivery): Promise<void> {
    const { envelope, message, consumer } = delivery;
    const started = performance.now();
    try {
      const pending = this.run(handler, envelope, message, group.options.subscription);
      // A synchronous handler is acked in the turn it ran in, before anything it set off.
      if (pending) await pending;
    } catch (error) {
      const failedAfter = secondsSince(started);
      recordSpanError(error);
      const outcome = await this.failed(group, handler.retry, delivery, error);
      this.settled(group, envelope.type, outcome, failedAfter);
      return;
    }
    const handledIn = secondsSince(started);
    await consumer.ack(message);
    this.settled(group, envelope.type, 'acked', handledIn);
    this.log.debug(`${envelope.type} handled`);
  }

  /** What the logs and the trace say about a message being handled. */
  private scopeOf({ envelope, message, consumer }: Delivery): HandledMessage {
    return {
      correlationId: envelope.correlationId,
      eventId: envelope.id,
      eventType: envelope.type,
      topic: message.topic,
      subscription: consumer.subscription,
      agent: this.options.origin.source,
      traceId: traceIdOf(envelope.traceparent),
      traceparent: envelope.traceparent,
      redeliveryCount: failedAttempts(message) - 1,
    };
  }

  /**
   * A handler threw: the message goes to the retry topic with its backoff as delivery delay, then
   * is acked; or to the dead-letter topic (non-retryable, or its attempts spent). If the retry
   * cannot be published, a nack redelivers it after the subscription's fixed delay instead.
   */
  private async failed(
    group: SubscriptionGroup,
    retry: HandlerRetry,
    { envelope, message, consumer }: Delivery,
    error: unknown,
  ): Promise<Exclude<MessageOutcome, 'acked'>> {
    const attempt = failedAttempts(message);
    const outcome = decideFailure(retry, error, attempt);
    const where = `${envelope.type} ${envelope.id} in ${consumer.subscription} (attempt ${attempt})`;
    if (outcome.action === 'dead-letter') {
      this.log.warn(`${where}: dead-lettered: ${outcome.reason}`);
      await consumer.deadLetter(message, outcome.reason, outcome.detail);
      return 'dead_lettered';
    }
    if (!group.retryTopic) {
      this.log.warn(`${where}: ${outcome.reason}; redelivered (nack)`);
      await consumer.nack(message, outcome.reason);
      return 'nacked';
    }
    this.log.warn(`${where}: ${outcome.reason}; retried in ${outcome.delayMs} ms`);
    try {
      await this.options.bus.publish(
        group.retryTopic,
        retryMessage(message, consumer.subscription, outcome.detail, outcome.delayMs),
      );
    } catch (publishError) {
      this.log.warn(`${where}: could not publish the retry (${describeError(publishError)}); nacked instead`);
      await consumer.nack(message, outcome.reason);
      return 'nacked';
    }
    await consumer.ack(message);
    return 'retried';
  }

  /** Tells the observers (metrics, heartbeats) how a message was settled. */
  private settled(group: SubscriptionGroup, type: string, outcome: MessageOutcome, handlerSeconds?: number): void {
    const { topic, subscription } = group.resolved;
    this.observers?.messageSettled({ topic, subscription, type, outcome, handlerSeconds });
  }

  /** The registry's decode; a decoder that throws (it should not) is a decode failure too, never an unsettled message. */
  private decode(payload: Buffer): ReturnType<EventRegistry['decode']> {
    try {
      return this.options.registry.decode(payload);
    } catch (error) {
      return { ok: false, code: 'unparseable', reason: `decoding threw: ${describeError(error)}` };
    }
  }

  /** Runs a handler; undefined once it finished synchronously, else a promise of its end. Throws or rejects with its error. */
  private run(
    handler: RoutedHandler,
    envelope: EventEnvelope<object>,
    message: BusMessage,
    subscription: string,
  ): Promise<unknown> | undefined {
    const context = () => new MeshContext([message, envelope, subscription]);
    if (!handler.direct) return this.runThroughNest(handler.nest, envelope, context());
    const result = handler.direct(envelope, context);
    if (isObservable(result)) return lastValueFrom(result, { defaultValue: undefined });
    if (result instanceof Promise)
      return result.then((value: unknown) =>
        isObservable(value) ? lastValueFrom(value, { defaultValue: undefined }) : value,
      );
    return undefined;
  }

  private async runThroughNest(
    handler: MessageHandler,
    envelope: EventEnvelope<object>,
    context: MeshContext,
  ): Promise<void> {
    const result: unknown = await handler(envelope, context);
    await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
  }
}
