import { useState } from 'react';
import {
  decideApproval,
  elapsed,
  formatDuration,
  formatUsage,
  getWorkflow,
  type StepState,
  type TimelineEntry,
  type WorkflowView as View,
} from './api';
import type { LiveFeed } from './live-feed';
import { ErrorNote, StatusBadge } from './parts';
import { useNow, useReload } from './use-reload';

/** One workflow: its step tree with each step's state, its fan-outs' branches, and its timeline. */
export function WorkflowView({
  id,
  feed,
  apiKey,
}: {
  readonly id: string;
  readonly feed: LiveFeed;
  readonly apiKey: string;
}) {
  const now = useNow();
  // Read again on this workflow's events only (and on (re)connecting).
  const trigger = feed.lastWorkflowId === id || feed.lastWorkflowId === undefined ? feed.workflowTick : 'other';
  const { value: workflow, error } = useReload(() => getWorkflow(id), trigger, [id, apiKey]);
  return (
    <section className="workflow" data-testid="workflow">
      <a href="#/" className="back">
        ← all workflows
      </a>
      <ErrorNote error={error} />
      {workflow && (
        <>
          <h2>
            {workflow.name ?? workflow.id} <StatusBadge status={workflow.status} />
          </h2>
          <p className="facts">
            <span className="id">{workflow.id}</span> · {workflow.steps.find((s) => s.path === 'root')?.kind ?? '—'} ·
            submitted {new Date(workflow.submittedAt).toLocaleString()} ·{' '}
            {formatDuration(elapsed(workflow.submittedAt, workflow.finishedAt, now))}
            {workflow.finishedAt ? '' : ' so far'}
            {workflow.usage && <span data-testid="workflow-usage"> · {formatUsage(workflow.usage)}</span>}
          </p>
          {workflow.reason && <p className="reason">{workflow.reason}</p>}
          <h3>Steps</h3>
          <div className="tree" data-testid="step-tree">
            <StepTree workflow={workflow} path={rootPath(workflow.steps)} now={now} />
          </div>
          <h3>Timeline</h3>
          <Timeline workflow={workflow} />
        </>
      )}
    </section>
  );
}

const rootPath = (steps: readonly StepState[]): string | undefined =>
  steps.find((step) => !steps.some((other) => step.path.startsWith(`${other.path}.`)))?.path;

/** The nearest recorded step whose path `path` extends: its parent in the tree. */
function parentOf(path: string, steps: readonly StepState[]): string | undefined {
  let parent: string | undefined;
  for (const step of steps)
    if (path.startsWith(`${step.path}.`) && (!parent || step.path.length > parent.length)) parent = step.path;
  return parent;
}

function StepTree({ workflow, path, now }: { readonly workflow: View; readonly path?: string; readonly now: number }) {
  const step = workflow.steps.find((s) => s.path === path);
  if (!step) return <p className="empty">No step has started yet.</p>;
  const children = workflow.steps.filter((s) => parentOf(s.path, workflow.steps) === step.path);
  const branches = workflow.branches.filter((b) => b.stepPath === step.path);
  return (
    <div className={`step ${step.status}`} data-step-path={step.path} data-step-status={step.status}>
      <div className="step-head">
        <span className="kind">{step.kind}</span>
        <span className="path">{step.name ?? (step.path.replace(/^root\.?/, '') || 'root')}</span>
        <StatusBadge status={step.awaiting ? `awaiting ${step.awaiting.what}` : step.status} />
        {step.attempt > 1 && <span className="tag retry">attempt {step.attempt}</span>}
        {step.usage && <span className="tag usage">{formatUsage(step.usage)}</span>}
        <span className="duration">{formatDuration(elapsed(step.startedAt, step.finishedAt, now))}</span>
      </div>
      {step.error && <div className="step-error">{step.error}</div>}
      {step.awaiting?.what === 'approval' && <Approval workflowId={workflow.id} step={step} />}
      {branches.length > 0 && (
        <div className="branches">
          {branches.map((branch) => (
            <span
              key={branch.index}
              className={`branch ${branch.status}`}
              title={branch.error ?? `${branch.worker ?? ''} ${branch.durationMs ?? ''} ms`}
            >
              #{branch.index} {branch.inputId} {branch.status}
              {branch.attempt > 1 ? ` (attempt ${branch.attempt})` : ''}
              {branch.worker ? ` · ${branch.worker}` : ''}
            </span>
          ))}
        </div>
      )}
      {children.length > 0 && (
        <div className="children">
          {children.map((child) => (
            <StepTree key={child.path} workflow={workflow} path={child.path} now={now} />
          ))}
        </div>
      )}
    </div>
  );
}

/** A step waiting for a person: its prompt, and Approve / Reject with an optional comment. */
function Approval({ workflowId, step }: { readonly workflowId: string; readonly step: StepState }) {
  const [comment, setComment] = useState('');
  const [sent, setSent] = useState<'approved' | 'rejected'>();
  const [error, setError] = useState<Error>();
  const decide = (approve: boolean) => {
    setError(undefined);
    decideApproval(workflowId, step.path, approve, comment || undefined).then(
      () => setSent(approve ? 'approved' : 'rejected'),
      (failed: unknown) => setError(failed instanceof Error ? failed : new Error(String(failed))),
    );
  };
  return (
    <div className="approval" data-testid="approval">
      <p className="prompt">{step.awaiting?.prompt ?? 'Approve this step?'}</p>
      {sent ? (
        <p className="sent">{sent}: waiting for the orchestrator…</p>
      ) : (
        <div className="decide">
          <input
            aria-label="comment"
            placeholder="comment (optional)"
            value={comment}
            onChange={(event) => setComment(event.target.value)}
          />
          <button type="button" onClick={() => decide(true)}>
            Approve
          </button>
          <button type="button" className="reject" onClick={() => decide(false)}>
            Reject
          </button>
        </div>
      )}
      <ErrorNote error={error} />
    </div>
  );
}

/** What an entry is, for the eye: a gate's decision, a retry, a compensation, a late result, a failure. */
function tagsOf(entry: TimelineEntry): string[] {
  const detail = entry.detail ?? '';
  const gate = entry.type.startsWith('stage.');
  const tags: string[] = [];
  if (gate) tags.push('gate');
  if (entry.type.includes('retry') || /attempt ([2-9]|\d\d)/.test(detail)) tags.push('retry');
  if (/compensat/.test(`${entry.type} ${detail}`)) tags.push('compensation');
  if (entry.late) tags.push('late');
  if (!gate && /failed|timed-out|cancel/.test(entry.type)) tags.push('failure');
  return tags;
}

function Timeline({ workflow }: { readonly workflow: View }) {
  const start = Date.parse(workflow.submittedAt);
  return (
    <table className="timeline" data-testid="timeline">
      <thead>
        <tr>
          <th>+ms</th>
          <th>Agent</th>
          <th>Event</th>
          <th>Step</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        {workflow.timeline.map((entry, i) => {
          const tags = tagsOf(entry);
          return (
            <tr key={i} className={tags.join(' ')} data-type={entry.type}>
              <td className="offset" title={entry.at}>
                {Date.parse(entry.at) - start}
              </td>
              <td>{entry.source}</td>
              <td>
                {entry.type}
                {tags.map((tag) => (
                  <span key={tag} className={`tag ${tag}`}>
                    {tag}
                  </span>
                ))}
              </td>
              <td className="path">{entry.stepPath ?? ''}</td>
              <td>{entry.detail ?? ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
