import type { TimelineEntry } from '@agent-mesh/agents/orchestrator';
import { walkSteps, type StepSpec } from '@agent-mesh/contracts';
import type { WorkflowStatus, WorkflowView } from './api';
import type { Styles } from './live-view';

/**
 * How many steps a spec holds (the plain fan-out `{ skill, inputs }` is one); undefined when
 * it is no spec the CLI can read (the orchestrator says what is wrong with it).
 */
export function stepCount(spec: unknown): number | undefined {
  if (typeof spec !== 'object' || spec === null) return undefined;
  if (!('step' in spec)) return 'skill' in spec ? 1 : undefined;
  let count = 0;
  try {
    walkSteps((spec as { step: StepSpec }).step, () => count++);
  } catch {
    return undefined;
  }
  return count;
}

/** `running  steps 1/3  branches 2/4 (1 failed)  3.2 s`: where a workflow is. */
export function progressLine(view: WorkflowView, s: Styles, totalSteps?: number, now = Date.now()): string {
  const steps = view.steps ?? [];
  const branches = view.branches ?? [];
  const done = steps.filter((step) => step.status === 'completed').length;
  const total = Math.max(totalSteps ?? 0, steps.length);
  const parts = [statusText(view.status, s), `steps ${done}/${total}`];
  if (branches.length > 0) {
    const ended = branches.filter((b) => b.status !== 'pending').length;
    const failed = branches.filter((b) => b.status === 'failed').length;
    parts.push(`branches ${ended}/${branches.length}${failed > 0 ? s.red(` (${failed} failed)`) : ''}`);
  }
  const running = steps.filter((step) => step.status === 'running').map((step) => step.path);
  if (running.length > 0 && !isEnded(view.status)) parts.push(s.dim(`at ${running.at(-1)}`));
  parts.push(s.dim(seconds(elapsedMs(view, now))));
  return parts.join('  ');
}

/** One timeline entry: `12:00:01.234  step.completed  root.stages.0  orchestrator@o-1  detail`. */
export function timelineLine(entry: TimelineEntry, s: Styles): string {
  return [
    s.dim(clock(entry.at)),
    typeStyle(entry.type, s)(entry.type),
    entry.stepPath ?? '',
    s.dim(entry.source),
    entry.detail ?? '',
    entry.late ? s.yellow('(late)') : '',
  ]
    .filter((part) => part !== '')
    .join('  ');
}

/** A key for a timeline entry, to print each one once while polling. */
export function timelineKey(entry: TimelineEntry): string {
  return `${entry.at}|${entry.type}|${entry.stepPath ?? ''}|${entry.source}|${entry.detail ?? ''}`;
}

/** `mesh status`: the workflow, its steps, branches, result or reason, and its events. */
export function workflowReport(view: WorkflowView, s: Styles, now = Date.now()): string[] {
  const lines = [
    `${s.bold('workflow')}   ${view.id}${view.name ? `  (${view.name})` : ''}`,
    `${s.bold('status')}     ${statusText(view.status, s)}${isEnded(view.status) ? ` in ${seconds(elapsedMs(view, now))}` : ''}`,
    `${s.bold('submitted')}  ${view.submittedAt}`,
  ];
  if (view.finishedAt) lines.push(`${s.bold('finished')}   ${view.finishedAt}`);
  if (view.reason) lines.push(`${s.bold('reason')}     ${view.reason}`);
  lines.push(`${s.bold('progress')}   ${progressLine(view, s, undefined, now)}`);
  if (view.usage) lines.push(`${s.bold('usage')}      ${usageText(view.usage)}`);
  const steps = view.steps ?? [];
  const waiting = steps.filter((step) => step.awaiting?.what === 'approval');
  if (waiting.length > 0) {
    lines.push(s.bold('awaiting approval'));
    for (const step of waiting) {
      lines.push(`  ${step.path}${step.awaiting?.prompt ? `  ${s.yellow(step.awaiting.prompt)}` : ''}`);
      lines.push(s.dim(`    mesh approve ${view.id} ${step.path} [--reject] [--comment "..."]`));
    }
  }
  if (steps.length > 0) {
    lines.push(s.bold('steps'));
    for (const step of steps) {
      const attempt = step.attempt > 1 ? `  attempt ${step.attempt}` : '';
      const error = step.error ? `  ${s.red(step.error)}` : '';
      const status = step.awaiting ? s.yellow(`awaiting ${step.awaiting.what}`) : stepStatus(step.status, s);
      const usage = step.usage ? s.dim(`  ${usageText(step.usage)}`) : '';
      lines.push(
        `  ${step.path}  ${step.kind}${step.name ? ` "${step.name}"` : ''}  ${status}${attempt}${error}${usage}`,
      );
    }
  }
  const branches = view.branches ?? [];
  if (branches.length > 0) {
    lines.push(s.bold('branches'));
    for (const b of branches) {
      const who = b.worker ? `  ${s.dim(b.worker)}` : '';
      const took = b.durationMs !== undefined ? `  ${b.durationMs} ms` : '';
      const error = b.error ? `  ${s.red(b.error)}` : '';
      lines.push(`  ${b.stepPath}#${b.index}  ${b.inputId}  ${stepStatus(b.status, s)}${who}${took}${error}`);
    }
  }
  if (view.result !== undefined) lines.push(`${s.bold('result')}     ${JSON.stringify(view.result)}`);
  const timeline = view.timeline ?? [];
  if (timeline.length > 0) {
    lines.push(s.bold('events'));
    for (const entry of timeline) lines.push(`  ${timelineLine(entry, s)}`);
  }
  return lines;
}

/** `1,250 tokens (1,000 prompt + 250 completion), 3 calls, $0.0125`: what model calls used. */
export function usageText(usage: NonNullable<WorkflowView['usage']>): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const tokens = usage.promptTokens + usage.completionTokens;
  const cost =
    usage.costUsd === undefined ? '' : `, $${usage.costUsd.toLocaleString('en-US', { maximumFractionDigits: 6 })}`;
  return `${n(tokens)} tokens (${n(usage.promptTokens)} prompt + ${n(usage.completionTokens)} completion), ${n(usage.calls)} call${usage.calls === 1 ? '' : 's'}${cost}`;
}

export function isEnded(status: WorkflowStatus): boolean {
  return status !== 'accepted' && status !== 'running';
}

export function statusText(status: WorkflowStatus, s: Styles): string {
  if (status === 'completed') return s.green(status);
  if (status === 'running' || status === 'accepted') return s.cyan(status);
  if (status === 'cancelled' || status === 'compensated') return s.yellow(status);
  return s.red(status);
}

/** How long a workflow ran (or has run so far). */
export function elapsedMs(view: { submittedAt: string; finishedAt?: string }, now = Date.now()): number {
  const end = view.finishedAt ? Date.parse(view.finishedAt) : now;
  return Math.max(0, end - Date.parse(view.submittedAt));
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** `HH:MM:SS.mmm` (UTC) of an ISO time or epoch ms. */
export function clock(time: string | number): string {
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(11, 23);
}

function stepStatus(status: string, s: Styles): string {
  if (status === 'completed') return s.green(status);
  if (status === 'failed') return s.red(status);
  return s.cyan(status);
}

function typeStyle(type: string, s: Styles): (text: string) => string {
  if (/(failed|timed-out|cancelled|compensated)$/.test(type)) return s.red;
  if (type.startsWith('workflow.') && type.endsWith('completed')) return s.green;
  return (text) => text;
}
