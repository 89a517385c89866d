import { formatDuration } from './api';
import type { LiveFeed } from './live-feed';
import { useNow } from './use-reload';

/** An agent whose last heartbeat is older than this (six default periods) is shown as silent, struck through. */
const SILENT_AFTER_MS = 30_000;

const perSecond = (value?: number) => (value === undefined ? '—' : `${value.toFixed(1)}/s`);

/** Agents from their heartbeats (`mesh.agents`), subscriptions from the broker's figures (`mesh.stats`). */
export function AgentsView({ feed }: { readonly feed: LiveFeed }) {
  const now = useNow();
  const agents = [...feed.agents.values()].sort((a, b) => a.heartbeat.agentId.localeCompare(b.heartbeat.agentId));
  const stats = feed.stats;
  return (
    <section>
      <h2>Agents</h2>
      {agents.length === 0 && (
        <p className="empty">
          No heartbeat yet: every agent sends one every MESH_HEARTBEAT_MS (default 5 s); the first appears within one
          period.
        </p>
      )}
      {agents.length > 0 && (
        <table data-testid="agents">
          <thead>
            <tr>
              <th>Agent</th>
              <th>Role</th>
              <th>Region</th>
              <th>Up</th>
              <th>Last heartbeat</th>
              <th>Handled</th>
              <th>Throughput</th>
              <th>Failed</th>
              <th>Errors</th>
              <th>Dead-lettered</th>
              <th>In flight</th>
            </tr>
          </thead>
          <tbody>
            {agents.map(({ heartbeat, handledPerSecond, failedPerSecond }) => {
              const age = now - Date.parse(heartbeat.at);
              return (
                <tr
                  key={heartbeat.agentId}
                  className={age > SILENT_AFTER_MS ? 'silent' : ''}
                  data-agent-id={heartbeat.agentId}
                >
                  <td>{heartbeat.agentId}</td>
                  <td>{heartbeat.role}</td>
                  <td>{heartbeat.region}</td>
                  <td>{formatDuration(now - Date.parse(heartbeat.startedAt))}</td>
                  <td>{formatDuration(Math.max(0, age))} ago</td>
                  <td>{heartbeat.counters.handled}</td>
                  <td>{perSecond(handledPerSecond)}</td>
                  <td className={heartbeat.counters.failed > 0 ? 'bad' : ''}>{heartbeat.counters.failed}</td>
                  <td>{perSecond(failedPerSecond)}</td>
                  <td className={heartbeat.counters.deadLettered > 0 ? 'bad' : ''}>
                    {heartbeat.counters.deadLettered}
                  </td>
                  <td>{heartbeat.counters.inFlight}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <h2>Subscriptions</h2>
      {!stats && (
        <p className="empty">
          No broker figures yet: the orchestrator publishes them every MESH_STATS_MS (default 10 s).
        </p>
      )}
      {stats && (
        <>
          <p className="facts" data-testid="dead-letters">
            Dead letters waiting on mesh.dlq:{' '}
            <strong className={stats.deadLetters > 0 ? 'bad' : ''}>{stats.deadLetters}</strong> · broker {stats.broker}{' '}
            · figures of {new Date(stats.at).toLocaleTimeString()}
          </p>
          <table data-testid="subscriptions">
            <thead>
              <tr>
                <th>Topic</th>
                <th>Subscription</th>
                <th>Backlog</th>
                <th>Delivered</th>
                <th>Consumers</th>
              </tr>
            </thead>
            <tbody>
              {[...stats.subscriptions]
                .sort((a, b) => b.backlog - a.backlog || a.topic.localeCompare(b.topic))
                .map((sub) => (
                  <tr key={`${sub.topic} ${sub.subscription}`}>
                    <td>{sub.topic}</td>
                    <td>{sub.subscription}</td>
                    <td className={sub.backlog > 0 ? 'warn' : ''}>{sub.backlog}</td>
                    <td>{perSecond(sub.msgRateOut)}</td>
                    <td>{sub.consumers ?? '—'}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
