import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Optional,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApprovalDecision,
  ContractValidationError,
  FanOutWorkflowRequest,
  jsonShapeProblem,
  validatePlain,
  unknownSkillErrors,
  validateWorkflowSpec,
  walkSteps,
  type FieldError,
  type StepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import { Caller, MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { WORKFLOW_STATUSES, type WorkflowPage, type WorkflowStatus, type WorkflowView } from './engine/workflow-state';
import { fanOutSpec, OrchestratorService } from './orchestrator.service';
import { WORKFLOW_LOG_READER, type WorkflowLogReader } from './workflow-log-reader';

/** A workflow id (what a cursor is). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A workflow this region does not run, shown from its replicated events (docs/geo.md). */
export interface ReadOnlyWorkflowView extends WorkflowView {
  readonly readOnly: true;
  /** The region that adopted it, when it was this region's workflow (after a fail-back). */
  readonly adoptedBy?: string;
}

function invalid(errors: readonly FieldError[]): BadRequestException {
  return new BadRequestException({ message: 'invalid workflow request', errors });
}

/**
 * `POST /workflows` takes a workflow spec (`{ name?, step }`, docs/patterns.md) or the plain
 * fan-out `{ skill, inputs, params? }`; a bad body is 400 with every bad field named.
 */
@Controller('workflows')
export class WorkflowsController {
  constructor(
    private readonly orchestrator: OrchestratorService,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
    @Optional() @Inject(WORKFLOW_LOG_READER) private readonly logReader?: WorkflowLogReader,
  ) {}

  @Post()
  @HttpCode(202)
  async submit(@Body() body: unknown): Promise<{ workflowId: string; status: string }> {
    const spec = this.parse(body);
    const workflowId = await this.orchestrator.submit(spec);
    return { workflowId, status: 'accepted' };
  }

  @Get()
  async list(
    @Query('status') status?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ): Promise<WorkflowPage> {
    if (status !== undefined && !WORKFLOW_STATUSES.includes(status as WorkflowStatus)) {
      throw invalid([{ field: 'status', messages: [`status must be one of ${WORKFLOW_STATUSES.join(', ')}`] }]);
    }
    const max = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 1000)
      throw invalid([{ field: 'limit', messages: ['limit must be 1-1000'] }]);
    if (cursor !== undefined && !UUID.test(cursor))
      throw invalid([{ field: 'cursor', messages: ['cursor must be a nextCursor from an earlier page'] }]);
    return this.orchestrator.list({ status: status as WorkflowStatus | undefined, limit: max, after: cursor });
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<WorkflowView | ReadOnlyWorkflowView> {
    const workflow = await this.orchestrator.get(id);
    if (workflow) return workflow;
    // Not in this region's state: another region's workflow may be in the replicated log.
    const fromLog = this.logReader && UUID.test(id) ? await this.logReader.read(id) : undefined;
    if (!fromLog) throw new NotFoundException({ message: `no workflow ${id}` });
    return { ...fromLog, readOnly: true };
  }

  @Post(':id/cancel')
  @HttpCode(202)
  async cancel(
    @Param('id') id: string,
    @Body() body: { reason?: unknown } = {},
  ): Promise<{ workflowId: string; status: string }> {
    const workflow = await this.orchestrator.get(id);
    if (!workflow) throw new NotFoundException({ message: `no workflow ${id}` });
    if (workflow.status !== 'running' && workflow.status !== 'accepted') {
      throw new BadRequestException({
        message: `workflow ${id} is ${workflow.status}; only a running workflow can be cancelled`,
      });
    }
    await this.orchestrator.cancel(id, typeof body?.reason === 'string' ? body.reason : 'cancelled over HTTP');
    return { workflowId: id, status: 'cancelling' };
  }

  /**
   * Decides a waiting approval step: `{ approve, comment? }`. 202 once the decision is out (the
   * step ends when the orchestrator handles it); 404 for an unknown workflow; 409 when the step
   * is not waiting for approval or a decision on it is already out. The decision records who
   * made it (`by`): the caller the HTTP guard authenticated, never anything the body says.
   */
  @Post(':id/approvals/:stepPath')
  @HttpCode(202)
  async decide(
    @Param('id') id: string,
    @Param('stepPath') stepPath: string,
    @Body() body: unknown,
    @Caller() by: string | undefined,
  ): Promise<{ workflowId: string; stepPath: string; decision: 'approved' | 'rejected' }> {
    let decision: ApprovalDecision;
    try {
      decision = validatePlain(ApprovalDecision, body ?? {}, 'approval decision');
    } catch (error) {
      if (error instanceof ContractValidationError)
        throw new BadRequestException({ message: 'invalid approval decision', errors: error.fieldErrors });
      throw error;
    }
    const outcome = await this.orchestrator.decide(id, stepPath, decision, by);
    if (outcome === 'unknown-workflow') throw new NotFoundException({ message: `no workflow ${id}` });
    if (outcome === 'not-waiting')
      throw new ConflictException({ message: `step ${stepPath} of workflow ${id} is not waiting for approval` });
    if (outcome === 'already-decided')
      throw new ConflictException({ message: `step ${stepPath} of workflow ${id} has already been decided` });
    return { workflowId: id, stepPath, decision: decision.approve ? 'approved' : 'rejected' };
  }

  private parse(body: unknown): WorkflowSpec {
    // Checked before anything recursive runs (class-transformer, class-validator, the step walk):
    // a 5,000-level spec is a 400, never a stack overflow's 500; a `__proto__` key pollutes nothing.
    const shape = jsonShapeProblem(body);
    if (shape) throw invalid([{ field: 'body', messages: [`the request body is ${shape}`] }]);
    let spec: WorkflowSpec;
    try {
      const isSpec = typeof body === 'object' && body !== null && 'step' in body;
      spec = isSpec
        ? validateWorkflowSpec(body)
        : fanOutSpec(validatePlain(FanOutWorkflowRequest, body, 'workflow request'));
    } catch (error) {
      if (error instanceof ContractValidationError) throw invalid(error.fieldErrors);
      throw error;
    }
    const errors: FieldError[] = [];
    this.checkSteps(spec.step, errors);
    if (errors.length > 0)
      throw invalid(
        errors.map((e) =>
          spec.step.kind === 'fan-out' && !('step' in (body as object))
            ? { ...e, field: e.field.replace(/^step\./, '') }
            : e,
        ),
      );
    return spec;
  }

  /** What only the running mesh knows: which skills exist, which boards it serves. */
  private checkSteps(root: StepSpec, errors: FieldError[]): void {
    errors.push(...unknownSkillErrors(root, this.skills.names()));
    walkSteps(root, (step, { field }) => {
      if (step.kind === 'blackboard' && !this.config.boards.includes(step.board)) {
        errors.push({
          field: `${field}.board`,
          messages: [
            `unknown board "${step.board}"; this mesh serves boards: ${this.config.boards.join(', ')} (MESH_BOARDS)`,
          ],
        });
      }
    });
  }
}
