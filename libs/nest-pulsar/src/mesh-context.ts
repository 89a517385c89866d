import { BaseRpcContext } from '@nestjs/microservices';
import type { BusMessage } from '@agent-mesh/bus';
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
  getRedeliveryCount(): number {
    return this.args[0].redeliveryCount;
  }
  getTopic(): string {
    return this.args[0].topic;
  }
}
