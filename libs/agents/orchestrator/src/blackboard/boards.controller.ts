import { Controller, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import { BlackboardService, type BlackboardView } from './blackboard.service';

/**
 * `GET /workflows/:id/boards/:stepPath`: the materialized board of a blackboard step;
 * `POST …/rebuild`: rebuilds it from the board's topic (a lost Redis projection) and returns it.
 */
@Controller('workflows')
export class BoardsController {
  constructor(private readonly blackboard: BlackboardService) {}

  @Get(':id/boards/:stepPath')
  async get(@Param('id') id: string, @Param('stepPath') stepPath: string): Promise<BlackboardView> {
    return found(id, stepPath, await this.blackboard.board(id, stepPath));
  }

  @Post(':id/boards/:stepPath/rebuild')
  @HttpCode(200)
  async rebuild(@Param('id') id: string, @Param('stepPath') stepPath: string): Promise<BlackboardView> {
    return found(id, stepPath, await this.blackboard.rebuildBoard(id, stepPath));
  }
}

function found(id: string, stepPath: string, view: BlackboardView | undefined): BlackboardView {
  if (!view) throw new NotFoundException({ message: `workflow ${id} has no blackboard step at ${stepPath}` });
  return view;
}
