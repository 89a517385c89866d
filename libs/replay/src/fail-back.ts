import { Logger } from '@nestjs/common';
import type { EventBus } from '@agent-mesh/bus';
import { describeError, qualifyTopic, Topics, type TopicNaming } from '@agent-mesh/contracts';
import { workflowViewOf } from '@agent-mesh/agents/orchestrator';
import { homeOf, RegionHoming } from '@agent-mesh/nest-pulsar';
import type { StateStore } from '@agent-mesh/state';
import { homeOfMessage, readTopic } from './event-log';
import { deleteWorkflowKeys } from './rebuild';
import { REPLAYED_ROLES } from './roles';
import { BEGINNINGS } from './running';

/**
 * Fail-back's stale view (docs/geo.md). A region that comes back still holds, in its Redis, what
 * it knew of its workflows another region adopted — "running", as they were when it was lost.
 * The orchestrator forgets them: at start-up (after RegionHoming read `mesh.regions`) and on each
 * later adoption of one of its homes, it finds in the log the workflows begun with an adopted
 * home, and deletes every role's keys of the ones its state has not ended (its index drops them on
 * the next read). `GET /workflows/:id` then finds no state and answers from the replicated log —
 * the adopter's truth — read-only, with `adoptedBy`. Workflows it had ended keep their state:
 * an adoption takes only running ones, so that view is final.
 */
export class AdoptedWorkflows {
  private readonly log = new Logger('AdoptedWorkflows');
  /** Workflow id → the region that adopted it, for those forgotten here. */
  private readonly adopters = new Map<string, string>();
  private stopFollowing?: () => void;
  private pending = Promise.resolve();

  constructor(
    private readonly bus: EventBus,
    private readonly naming: TopicNaming,
    private readonly state: StateStore,
  ) {}

  /** The region that adopted the workflow, when this region forgot it for that reason. */
  adoptedBy(workflowId: string): string | undefined {
    return this.adopters.get(workflowId);
  }

  /** Forgets the adopted workflows `homing` knows of now, then follows its adoptions. */
  async start(homing: RegionHoming): Promise<void> {
    const own = (home: string) => home.split('#')[0] === homing.region;
    const adopted = new Map<string, string>();
    for (let epoch = 0; epoch < homing.epochOf(homing.region); epoch++) {
      const home = homeOf(homing.region, epoch);
      adopted.set(home, homing.ownerOf(home));
    }
    await this.forget(adopted);
    this.stopFollowing = homing.onAdoption((adoption) => {
      const home = homeOf(adoption.region, adoption.epoch);
      if (!own(home)) return;
      this.pending = this.pending
        .then(async () => void (await this.forget(new Map([[home, adoption.adoptedBy]]))))
        .catch((error: unknown) =>
          this.log.warn(`adopted workflows of ${home} not forgotten: ${describeError(error)}`),
        );
    });
  }

  async stop(): Promise<void> {
    this.stopFollowing?.();
    await this.pending;
  }

  /** Deletes the state of the workflows begun with one of `homes` (home → adopter) that it has not ended. */
  async forget(homes: ReadonlyMap<string, string>): Promise<string[]> {
    if (homes.size === 0) return [];
    const begun = new Map<string, string>();
    await readTopic(this.bus, qualifyTopic(this.naming, Topics.workflowEvents), ({ correlationId, type, message }) => {
      if (!correlationId || !type) return false;
      const adopter = BEGINNINGS.has(type) ? homes.get(homeOfMessage(message.properties) ?? '') : undefined;
      if (adopter) begun.set(correlationId, adopter);
      return false;
    });
    const stale: string[] = [];
    for (const [id, adopter] of begun) {
      this.adopters.set(id, adopter);
      const view = await workflowViewOf(this.state, id);
      if (view && !ENDED_STATUSES.has(view.status)) stale.push(id);
    }
    await deleteWorkflowKeys(this.state, REPLAYED_ROLES, stale);
    if (stale.length > 0)
      this.log.log(`forgot ${stale.length} workflows adopted by another region (answered from the log from now on)`);
    return stale;
  }
}

/** A workflow's terminal statuses: its view no longer changes. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'compensated',
  'cancelled',
  'timed-out',
]);
