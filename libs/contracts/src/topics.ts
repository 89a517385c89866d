/** Where the mesh's topics live: persistent://<tenant>/<namespace>/<name>. */
export interface TopicNaming {
  readonly tenant: string;
  readonly namespace: string;
}

export const DEFAULT_TOPIC_NAMING: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };

/** A family name after `task.results.`: lower-case letters, digits and '-'. */
const RESULTS_FAMILY_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * `task.results` or `task.results.<name>`: the only topics a worker may be asked to reply on
 * (`TaskAssigned.replyTopic`), so a task can never make a worker publish anywhere else.
 */
export const TASK_RESULTS_TOPIC_PATTERN = /^task\.results(\.[a-z][a-z0-9-]*)?$/;

/** Short topic names. Every topic the mesh uses is named here and nowhere else. */
export const Topics = {
  workflowEvents: 'workflow.events',
  /** Results of the orchestrator's tasks (and of assignments that name no reply topic). */
  taskResults: 'task.results',
  /**
   * Results of one coordinator's own tasks, e.g. `task.results.saga`: the coordinator names it
   * as the reply topic of the tasks it assigns, so only it receives (and pays for) them.
   */
  taskResultsFor: (name: string): string => {
    if (!RESULTS_FAMILY_NAME.test(name)) throw new Error(`invalid task results name "${name}": use a-z, 0-9 and '-'`);
    return `task.results.${name}`;
  },
  /** Results of saga steps and compensations: the saga coordinator's reply topic. */
  sagaTaskResults: 'task.results.saga',
  /** Results of solver tasks: the market maker's reply topic for its solver rounds. */
  solverTaskResults: 'task.results.solver-rounds',
  tasks: (capability: string): string => `tasks.${capability}`,
  marketAsks: 'market.asks',
  marketBids: 'market.bids',
  marketFills: 'market.fills',
  /** Solver rounds run by the market maker. */
  marketRounds: 'market.rounds',
  sagaCommands: 'saga.commands',
  sagaEvents: 'saga.events',
  blackboard: (board: string): string => `blackboard.${board}`,
  /** A workflow's live output (`task.token`): what `GET /workflows/:id/stream` relays. */
  workflowStream: (workflowId: string): string => `workflow.stream.${workflowId}`,
  timers: 'timers',
  /**
   * The orchestrator's deadlines (`workflow.deadline`, delayed delivery): a topic of their own,
   * so the saga coordinator's and market maker's `timers` subscriptions do not hold every
   * workflow's timer for its whole deadline.
   */
  workflowTimers: 'workflow.timers',
  /** The mesh-wide dead-letter topic for events that can never be handled. */
  deadLetter: 'mesh.dlq',
  /** Every agent's heartbeat (`agent.heartbeat`); read from the latest message, never subscribed durably. */
  agents: 'mesh.agents',
  /** The broker's backlog figures (`broker.stats`), from one role; read like `mesh.agents`. */
  stats: 'mesh.stats',
  /** Adoptions of a lost region's workflows (`region.adopted`, docs/geo.md); read whole by every agent of a geo set. */
  regions: 'mesh.regions',
} as const;

/** Whether `topic` is a short name of the task-results family (see TASK_RESULTS_TOPIC_PATTERN). */
export function isTaskResultsTopic(topic: string): boolean {
  return TASK_RESULTS_TOPIC_PATTERN.test(topic);
}

const SHORT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** Turns a short name into a fully qualified Pulsar topic; fully qualified names pass through. */
export function qualifyTopic(naming: TopicNaming, name: string): string {
  if (name.startsWith('persistent://') || name.startsWith('non-persistent://')) return name;
  if (!SHORT_NAME.test(name)) {
    throw new Error(`invalid topic name "${name}": use letters, digits, '.', '_' or '-'`);
  }
  return `persistent://${naming.tenant}/${naming.namespace}/${name}`;
}

/** The short name of a qualified topic (the last path segment). */
export function shortTopicName(topic: string): string {
  const slash = topic.lastIndexOf('/');
  return slash < 0 ? topic : topic.slice(slash + 1);
}
