import type { IncomingMessage, ServerResponse } from 'node:http';
import { Controller, Get, Inject, Logger, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { BusClosedError, type Reader } from '@agent-mesh/bus';
import { describeError, qualifyTopic, TaskTokenV1, Topics, type TaskToken } from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import type { WorkflowView } from './engine/workflow-state';
import { OrchestratorService } from './orchestrator.service';

/** How long one read waits before the workflow's status is looked at again. */
const READ_WAIT_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

function hasEnded(workflow: WorkflowView | undefined): boolean {
  return workflow === undefined || (workflow.status !== 'accepted' && workflow.status !== 'running');
}

/**
 * `GET /workflows/:id/stream`: the workflow's partial output as Server-Sent Events — each
 * `task.token` on `workflow.stream.<id>` from its start as a `data:` line
 * (`{taskId, stepPath, seq, text}`), then `event: end` with the workflow's status once it has
 * ended and every token is sent. 404 for an unknown workflow; behind the API's credentials and
 * rate limits like every route (the runtime's HTTP guard). A client that leaves closes the reader.
 */
@Controller('workflows')
export class WorkflowStreamController {
  private readonly log = new Logger('WorkflowStream');

  constructor(
    private readonly orchestrator: OrchestratorService,
    @Inject(MESH_TRANSPORT_OPTIONS) private readonly transport: MeshTransportOptions,
  ) {}

  @Get(':id/stream')
  async stream(
    @Param('id') id: string,
    @Req() request: IncomingMessage,
    @Res() response: ServerResponse,
  ): Promise<void> {
    let workflow = await this.orchestrator.get(id);
    if (!workflow) throw new NotFoundException({ message: `no workflow ${id}` });
    const { bus, naming } = this.transport;
    const reader = await bus.createReader({
      topic: qualifyTopic(naming, Topics.workflowStream(id)),
      startMessageId: 'earliest',
    });
    let left = false;
    request.once('close', () => {
      left = true;
      void reader.close().catch(() => undefined);
    });
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    response.write(': stream of workflow tokens\n\n');
    try {
      let lastWrite = Date.now();
      while (!left) {
        if (hasEnded(workflow)) {
          // Every token was published before the task's result, so before the workflow ended: drain and stop.
          while (!left && (await reader.hasMessageAvailable()))
            this.relay(response, await reader.readNext(READ_WAIT_MS));
          break;
        }
        const message = await reader.readNext(READ_WAIT_MS);
        if (message) {
          this.relay(response, message);
          lastWrite = Date.now();
          continue;
        }
        if (Date.now() - lastWrite >= KEEP_ALIVE_MS) {
          response.write(': ping\n\n');
          lastWrite = Date.now();
        }
        workflow = await this.orchestrator.get(id);
      }
      if (!left)
        response.write(`event: end\ndata: ${JSON.stringify({ workflowId: id, status: workflow?.status })}\n\n`);
    } catch (error) {
      if (!left && !(error instanceof BusClosedError))
        this.log.warn(`streaming workflow ${id}: ${describeError(error)}`);
    } finally {
      await reader.close().catch(() => undefined);
      response.end();
    }
  }

  /** One `task.token` as a `data:` line; anything else on the topic is passed over. */
  private relay(response: ServerResponse, message: Awaited<ReturnType<Reader['readNext']>>): void {
    if (!message) return;
    const decoded = this.transport.registry.decode(message.payload);
    if (!decoded.ok || decoded.envelope.type !== TaskTokenV1.type) return;
    const { taskId, stepPath, seq, text } = decoded.envelope.data as TaskToken;
    response.write(`data: ${JSON.stringify({ taskId, stepPath, seq, text })}\n\n`);
  }
}
