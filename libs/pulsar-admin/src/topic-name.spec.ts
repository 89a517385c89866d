import { parseTopicName, persistentTopic } from './topic-name';

describe('parseTopicName', () => {
  it('splits persistent://tenant/namespace/name and builds the admin REST path', () => {
    expect(parseTopicName('persistent://agentmesh/mesh/agent.events-v1')).toEqual({
      tenant: 'agentmesh',
      namespace: 'mesh',
      name: 'agent.events-v1',
      fullName: 'persistent://agentmesh/mesh/agent.events-v1',
      restPath: 'persistent/agentmesh/mesh/agent.events-v1',
    });
  });

  it('URL-encodes the topic segment of the REST path', () => {
    expect(parseTopicName('persistent://t/ns/a:b#c').restPath).toBe('persistent/t/ns/a%3Ab%23c');
  });

  it.each([
    ['', /empty/],
    ['my-topic', /not fully qualified/],
    ['non-persistent://t/ns/x', /only persistent topics are supported, not non-persistent:\/\//],
    ['http://t/ns/x', /only persistent topics are supported, not http:\/\//],
    ['persistent://t/ns', /2 path segment\(s\)/],
    ['persistent://t/cluster/ns/x', /4 path segment\(s\)/],
    ['persistent://t/ns/', /topic name is empty/],
    ['persistent:///ns/x', /tenant "" is empty/],
    ['persistent://t/n s/x', /namespace "n s"/],
    ['persistent://t/ns/a b', /whitespace/],
  ])('rejects %j', (topic, why) => {
    expect(() => parseTopicName(topic)).toThrow(why);
    expect(() => parseTopicName(topic)).toThrow(/expected persistent:\/\/<tenant>\/<namespace>\/<name>/);
  });

  it('persistentTopic builds and validates a name', () => {
    expect(persistentTopic('agentmesh', 'mesh', 'x')).toBe('persistent://agentmesh/mesh/x');
    expect(() => persistentTopic('agentmesh', 'mesh/extra', 'x')).toThrow(/4 path segment/);
  });
});
