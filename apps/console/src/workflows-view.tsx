import { useState } from 'react';
import { elapsed, formatDuration, listWorkflows, STATUSES, type WorkflowStatus } from './api';
import type { LiveFeed } from './live-feed';
import { ErrorNote, StatusBadge } from './parts';
import { useNow, useReload } from './use-reload';

const PAGE = 50;

/** Every workflow, newest first, filtered by status; updated live. */
export function WorkflowsView({ feed, apiKey }: { readonly feed: LiveFeed; readonly apiKey: string }) {
  const [status, setStatus] = useState<WorkflowStatus>();
  const [limit, setLimit] = useState(PAGE);
  const now = useNow();
  const { value: page, error } = useReload(() => listWorkflows({ status, limit }), feed.workflowTick, [
    status,
    limit,
    apiKey,
  ]);
  return (
    <section>
      <div className="filters" data-testid="status-filter">
        {[undefined, ...STATUSES].map((option) => (
          <button
            key={option ?? 'all'}
            className={option === status ? 'active' : ''}
            onClick={() => setStatus(option)}
            data-status={option ?? 'all'}
          >
            {option ?? 'all'}
          </button>
        ))}
      </div>
      <ErrorNote error={error} />
      <table className="workflows" data-testid="workflows">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Pattern</th>
            <th>Status</th>
            <th>Submitted</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {page?.workflows.map((workflow) => (
            <tr
              key={workflow.id}
              data-workflow-id={workflow.id}
              onClick={() => (location.hash = `#/workflows/${workflow.id}`)}
            >
              <td>
                <a href={`#/workflows/${workflow.id}`}>{workflow.name ?? workflow.id}</a>
                <div className="id">{workflow.id}</div>
              </td>
              <td>{workflow.pattern ?? '—'}</td>
              <td>
                <StatusBadge status={workflow.status} />
              </td>
              <td>{new Date(workflow.submittedAt).toLocaleTimeString()}</td>
              <td>{formatDuration(elapsed(workflow.submittedAt, workflow.finishedAt, now))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.workflows.length === 0 && <p className="empty">No workflows{status ? ` ${status}` : ''} yet.</p>}
      {page?.nextCursor && (
        <button className="more" onClick={() => setLimit(limit + PAGE)}>
          Show {PAGE} more
        </button>
      )}
    </section>
  );
}
