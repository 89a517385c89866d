import {
  DEFAULT_TOPIC_NAMING,
  isTaskResultsTopic,
  qualifyTopic,
  shortTopicName,
  Topics,
  type TopicNaming,
} from './topics';

const naming: TopicNaming = { tenant: 'agentmesh', namespace: 'mesh' };

describe('qualifyTopic', () => {
  it('turns a short name into persistent://<tenant>/<namespace>/<name>', () => {
    expect(qualifyTopic(naming, 'workflow.events')).toBe('persistent://agentmesh/mesh/workflow.events');
    expect(qualifyTopic(naming, Topics.tasks('keywords'))).toBe('persistent://agentmesh/mesh/tasks.keywords');
    expect(qualifyTopic({ tenant: 'acme', namespace: 'prod-eu' }, 'x')).toBe('persistent://acme/prod-eu/x');
  });

  it('uses agentmesh/mesh as the default naming', () => {
    expect(DEFAULT_TOPIC_NAMING).toEqual(naming);
  });

  it('passes fully qualified names through unchanged', () => {
    for (const topic of ['persistent://other/ns/some.topic', 'non-persistent://t/n/live-feed']) {
      expect(qualifyTopic(naming, topic)).toBe(topic);
    }
  });

  it('throws on names that are not a single topic segment of letters, digits, ".", "_" or "-"', () => {
    for (const bad of ['', ' ', 'a b', '.hidden', '-dash', '_under', 'a/b', 'tasks.{capability}', 'tópico', 'x?y']) {
      expect(() => qualifyTopic(naming, bad)).toThrow(/invalid topic name/);
    }
  });

  it('names every mesh topic with valid short names', () => {
    const shortNames = [
      Topics.workflowEvents,
      Topics.taskResults,
      Topics.sagaTaskResults,
      Topics.solverTaskResults,
      Topics.taskResultsFor('audit'),
      Topics.tasks('summarize'),
      Topics.marketAsks,
      Topics.marketBids,
      Topics.marketFills,
      Topics.sagaCommands,
      Topics.sagaEvents,
      Topics.blackboard('plans'),
      Topics.timers,
      Topics.workflowTimers,
      Topics.deadLetter,
    ];
    for (const name of shortNames) {
      expect(qualifyTopic(naming, name)).toBe(`persistent://${naming.tenant}/${naming.namespace}/${name}`);
    }
  });
});

describe('task results topics', () => {
  it("names a coordinator's reply topic task.results.<name>", () => {
    expect(Topics.taskResultsFor('saga')).toBe('task.results.saga');
    expect(Topics.sagaTaskResults).toBe(Topics.taskResultsFor('saga'));
    expect(Topics.solverTaskResults).toBe(Topics.taskResultsFor('solver-rounds'));
  });

  it('refuses names that would leave the family', () => {
    for (const bad of ['', 'Saga', 'a.b', '-x', 'x y', '../workflow.events']) {
      expect(() => Topics.taskResultsFor(bad)).toThrow(/invalid task results name/);
    }
  });

  it('recognises exactly task.results and task.results.<name>', () => {
    for (const topic of [Topics.taskResults, Topics.sagaTaskResults, Topics.solverTaskResults])
      expect(isTaskResultsTopic(topic)).toBe(true);
    for (const topic of [
      Topics.workflowEvents,
      Topics.tasks('keywords'),
      Topics.deadLetter,
      'task.results.',
      'task.results.a.b',
      'xtask.results',
    ]) {
      expect(isTaskResultsTopic(topic)).toBe(false);
    }
  });
});

describe('shortTopicName', () => {
  it('is the inverse of qualifyTopic for short names', () => {
    for (const name of ['workflow.events', 'tasks.keywords', 'mesh.dlq', 'a_b-c.d']) {
      expect(shortTopicName(qualifyTopic(naming, name))).toBe(name);
    }
  });

  it('returns a name without slashes as it is', () => {
    expect(shortTopicName('task.results')).toBe('task.results');
  });
});
