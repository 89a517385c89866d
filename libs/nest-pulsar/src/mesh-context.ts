import { BaseRpcContext } from '@nestjs/microservices';
import { failedAttempts, type BusMessage } from '@agent-mesh/bus';
import type { EventEnvelope } from '@agent-mesh/contracts';

type MeshContextArgs = [message: BusMessage, envelope: EventEnvelope<object>, subscription: string];

/** `@Ctx()` of a mesh handler: the broker message behind the event. */
export class MeshContext extends BaseRpcContext<MeshContextArgs> {
  getMessage(): BusMessage {
    return this.args[0];
  }
  getEnvelope(): EventEnvelope<object> {
    return this.args[1];
  }
  getSubscription(): string {
    return this.args[2];
  }
  getMessageId(): string {
    return this.args[0].messageId;
  }
  getKey(): string | undefined {
    return this.args[0].key;
  }
  getProperties(): Readonly<Record<string, string>> {
    return this.args[0].properties;
  }
  /**
   * Deliveries of this message before this one: its redeliveries plus the retries it went
   * through on the retry topic (0 on the first delivery).
   */
  getRedeliveryCount(): number {
    return failedAttempts(this.args[0]) - 1;
  }
  getTopic(): string {
    return this.args[0].topic;
  }
}
