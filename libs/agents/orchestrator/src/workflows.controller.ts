import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  ContractValidationError,
  FanOutWorkflowRequest,
  jsonShapeProblem,
  validatePlain,
  skillsNamedBy,
  validateWorkflowSpec,
  walkSteps,
  type FieldError,
  type StepSpec,
  type WorkflowSpec,
} from '@agent-mesh/contracts';
import { MESH_CONFIG, SKILL_REGISTRY, type MeshConfig } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { WorkflowPage, WorkflowStatus, WorkflowView } from './engine/workflow-state';
import { fanOutSpec, OrchestratorService } from './orchestrator.service';

const STATUSES: readonly WorkflowStatus[] = [
  'accepted',
  'running',
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
];
/** A workflow id (what a cursor is). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
    if (status !== undefined && !STATUSES.includes(status as WorkflowStatus)) {
      throw invalid([{ field: 'status', messages: [`status must be one of ${STATUSES.join(', ')}`] }]);
    }
    const max = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 1000)
      throw invalid([{ field: 'limit', messages: ['limit must be 1-1000'] }]);
    if (cursor !== undefined && !UUID.test(cursor))
      throw invalid([{ field: 'cursor', messages: ['cursor must be a nextCursor from an earlier page'] }]);
    return this.orchestrator.list({ status: status as WorkflowStatus | undefined, limit: max, after: cursor });
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<WorkflowView> {
    const workflow = await this.orchestrator.get(id);
    if (!workflow) throw new NotFoundException({ message: `no workflow ${id}` });
    return workflow;
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
    walkSteps(root, (step, { field }) => {
      for (const named of skillsNamedBy(step)) {
        if (!this.skills.get(named.skill)) {
          errors.push({
            field: `${field}.${named.field}`,
            messages: [`unknown skill "${named.skill}"; known: ${this.skills.names().join(', ')}`],
          });
        }
      }
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
