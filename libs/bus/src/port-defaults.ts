/** The EventBus port's defaults (see event-bus.ts), in one place for every driver. */

/** Most messages delivered to a consumer and not yet settled (`SubscribeOptions.receiverQueueSize`). */
export const DEFAULT_RECEIVER_QUEUE_SIZE = 100;
/** Delay before a nacked message is redelivered (`SubscribeOptions.nackRedeliveryDelayMs`). */
export const DEFAULT_NACK_DELAY_MS = 1000;
/** How long `Reader.readNext()` waits without a timeout of its own. */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;
