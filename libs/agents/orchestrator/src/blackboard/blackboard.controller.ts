import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { BoardEntryPostedV1, type BoardEntryPosted, type EventEnvelope } from '@agent-mesh/contracts';
import { OnMeshEvent } from '@agent-mesh/nest-pulsar';
import { BlackboardService } from './blackboard.service';

/**
 * The board controller's subscription: every configured board (`MESH_BOARDS`), Key_Shared by
 * workflow id, so one workflow's entries are materialized and reacted to one at a time, in order.
 */
@Controller()
export class BlackboardController {
  constructor(private readonly blackboard: BlackboardService) {}

  @OnMeshEvent(BoardEntryPostedV1, {
    topic: 'blackboard.{board}',
    subscription: 'blackboard-controller',
    type: 'Key_Shared',
  })
  async onEntry(@Payload() event: EventEnvelope<BoardEntryPosted>): Promise<void> {
    await this.blackboard.onEntry(event);
  }
}
