import { DeadLetterProperties, type BusMessage, type OutgoingMessage } from './event-bus';

/**
 * The message a dead-letter topic receives: the original payload, key and properties, plus
 * why and where it came from. Shared by every driver so a dead letter looks the same on each.
 */
export function deadLetterMessage(message: BusMessage, subscription: string, reason: string): OutgoingMessage {
  return {
    payload: message.payload,
    key: message.key,
    eventTime: message.eventTime,
    properties: {
      ...message.properties,
      [DeadLetterProperties.reason]: reason,
      [DeadLetterProperties.originTopic]: message.topic,
      [DeadLetterProperties.originMessageId]: message.messageId,
      [DeadLetterProperties.subscription]: subscription,
      [DeadLetterProperties.redeliveryCount]: String(message.redeliveryCount),
      [DeadLetterProperties.pulsarRealTopic]: message.topic,
      [DeadLetterProperties.pulsarOriginMessageId]: message.messageId,
    },
  };
}
