import { DeadLetterProperties, RetryProperties, type BusMessage, type OutgoingMessage } from './event-bus';

/** Most characters of an error (message and stack, or validation errors) kept on a retry or a dead letter. */
export const MAX_FAILURE_DETAIL_CHARS = 4000;

/**
 * Attempts at this message that failed, this one included: the retries before it (carried in
 * `retry.attempts` by the retry topic) plus its redeliveries. 1 on a first delivery.
 */
export function failedAttempts(message: BusMessage): number {
  return intProperty(message, RetryProperties.attempts) + message.redeliveryCount + 1;
}

/**
 * The message a retry topic receives: the original payload, key and properties, plus where it
 * came from and its failures so far (`retry.*`). The caller sets `deliverAfterMs`.
 */
export function retryMessage(
  message: BusMessage,
  subscription: string,
  error: string,
  deliverAfterMs: number,
  now = Date.now(),
): OutgoingMessage {
  const p = message.properties;
  return {
    payload: message.payload,
    key: message.key,
    eventTime: message.eventTime,
    deliverAfterMs,
    properties: {
      ...p,
      [RetryProperties.originTopic]: p[RetryProperties.originTopic] ?? message.topic,
      [RetryProperties.subscription]: p[RetryProperties.subscription] ?? subscription,
      [RetryProperties.attempts]: String(failedAttempts(message)),
      [RetryProperties.firstFailureAt]: p[RetryProperties.firstFailureAt] ?? new Date(now).toISOString(),
      [RetryProperties.lastFailureAt]: new Date(now).toISOString(),
      [RetryProperties.lastError]: bounded(error),
    },
  };
}

/**
 * The message a dead-letter topic receives: the original payload, key and properties, plus why,
 * where it came from and its history (`dlq.*`). Shared by every driver so a dead letter looks the
 * same on each. A message that came through a retry topic names its origin topic, not the retry
 * topic; one replayed from the dead-letter topic before adds its earlier attempts and keeps its
 * first failure time and replay count. `detail` is the error's message and stack, or the
 * validation errors (bounded); the reason when not given.
 */
export function deadLetterMessage(
  message: BusMessage,
  subscription: string,
  reason: string,
  detail: string = reason,
  now = Date.now(),
): OutgoingMessage {
  const p = message.properties;
  const retry = Object.values(RetryProperties) as string[];
  const kept = Object.fromEntries(Object.entries(p).filter(([name]) => !retry.includes(name)));
  const originTopic = p[RetryProperties.originTopic] ?? message.topic;
  const firstFailure = p[DeadLetterProperties.firstFailureAt] ?? p[RetryProperties.firstFailureAt];
  return {
    payload: message.payload,
    key: message.key,
    eventTime: message.eventTime,
    properties: {
      ...kept,
      [DeadLetterProperties.reason]: bounded(reason),
      [DeadLetterProperties.error]: bounded(detail),
      [DeadLetterProperties.originTopic]: originTopic,
      [DeadLetterProperties.originMessageId]: message.messageId,
      [DeadLetterProperties.subscription]: p[RetryProperties.subscription] ?? subscription,
      [DeadLetterProperties.redeliveryCount]: String(message.redeliveryCount),
      [DeadLetterProperties.attempts]: String(
        intProperty(message, DeadLetterProperties.attempts) + failedAttempts(message),
      ),
      [DeadLetterProperties.firstFailureAt]: firstFailure ?? new Date(now).toISOString(),
      [DeadLetterProperties.lastFailureAt]: new Date(now).toISOString(),
      [DeadLetterProperties.pulsarRealTopic]: originTopic,
      [DeadLetterProperties.pulsarOriginMessageId]: message.messageId,
    },
  };
}

function intProperty(message: BusMessage, name: string): number {
  const value = Number(message.properties[name]);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

function bounded(text: string): string {
  return text.length <= MAX_FAILURE_DETAIL_CHARS ? text : `${text.slice(0, MAX_FAILURE_DETAIL_CHARS - 1)}…`;
}
