import { BoardEntryPostedV1, Topics } from '@agent-mesh/contracts';
import { oneByOne } from '../outgoing';
import type { StepUnit } from '../step-unit';

/**
 * A blackboard: its seed entries posted on `blackboard.<board>`; the orchestrator's
 * BlackboardService reacts to the entries and ends the step.
 */
export function blackboardUnit(): StepUnit<'blackboard'> {
  return {
    start: (step, { plan, path }) => ({
      // One after the other: the board's entries keep the seed order.
      work: [
        oneByOne(
          step.seed.map((entry, i) =>
            plan.events.command(Topics.blackboard(step.board), BoardEntryPostedV1, {
              stepPath: path,
              board: step.board,
              entryId: `seed-${i}`,
              kind: entry.kind,
              text: entry.text,
              postedBy: 'seed',
            }),
          ),
        ),
      ],
    }),
  };
}
