/** Where the mesh's topics live: persistent://<tenant>/<namespace>/<name>. */
export interface TopicNaming {
  readonly tenant: string;
  readonly namespace: string;
}

export const DEFAULT_TOPIC_NAMING: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };

/** Short topic names. Every topic the mesh uses is named here and nowhere else. */
export const Topics = {
  workflowEvents: 'workflow.events',
  taskResults: 'task.results',
  tasks: (capability: string): string => `tasks.${capability}`,
  marketAsks: 'market.asks',
  marketBids: 'market.bids',
  marketFills: 'market.fills',
  /** Solver rounds run by the market maker. */
  marketRounds: 'market.rounds',
  sagaCommands: 'saga.commands',
  sagaEvents: 'saga.events',
  blackboard: (board: string): string => `blackboard.${board}`,
  timers: 'timers',
  /** The mesh-wide dead-letter topic for events that can never be handled. */
  deadLetter: 'mesh.dlq',
} as const;

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
