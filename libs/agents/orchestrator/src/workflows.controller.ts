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
  ValidationPipe,
} from '@nestjs/common';
import { flattenValidationErrors, FanOutWorkflowRequest } from '@agent-mesh/contracts';
import { SKILL_REGISTRY } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import { OrchestratorService } from './orchestrator.service';
import type { WorkflowView } from './workflow-store';

/** 400 body: `{ message, errors: [{ field, messages }] }`, each error naming its field. */
const requestValidation = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  exceptionFactory: (errors) =>
    new BadRequestException({ message: 'invalid workflow request', errors: flattenValidationErrors(errors) }),
});

@Controller('workflows')
export class WorkflowsController {
  constructor(
    private readonly orchestrator: OrchestratorService,
    @Inject(SKILL_REGISTRY) private readonly skills: SkillRegistry,
  ) {}

  @Post()
  @HttpCode(202)
  async submit(@Body(requestValidation) request: FanOutWorkflowRequest): Promise<{ workflowId: string; status: string }> {
    if (!this.skills.get(request.skill)) {
      throw new BadRequestException({
        message: 'invalid workflow request',
        errors: [{ field: 'skill', messages: [`unknown skill "${request.skill}"; known: ${this.skills.names().join(', ')}`] }],
      });
    }
    const workflowId = await this.orchestrator.submit(request);
    return { workflowId, status: 'accepted' };
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<WorkflowView> {
    const workflow = await this.orchestrator.get(id);
    if (!workflow) throw new NotFoundException({ message: `no workflow ${id}` });
    return workflow;
  }
}
