import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { EventBus } from '@agent-mesh/bus';
import type { TopicNaming } from '@agent-mesh/contracts';
import { MESH_TRANSPORT_OPTIONS, type MeshTransportOptions } from '@agent-mesh/nest-pulsar';
import { MeshRuntimeModule, STATE_STORE } from '@agent-mesh/runtime';
import type { SkillRegistry } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { rebuildWorkflows, type RebuildReport, type ReplayedRole } from './rebuild';
import { REPLAYED_ROLES } from './roles';
import { findRunningWorkflows } from './running';
import { adoptRegion, type AdoptionReport } from './adopt';

/** `mesh replay --workflow <id>… | --all-running`. */
export interface ReplayCommandArgs {
  /** The workflows to rebuild (`--workflow`, repeatable). */
  readonly workflow?: readonly string[];
  /** Every workflow the log says is running (`--all-running`), whatever Redis says. */
  readonly allRunning?: boolean;
  /** The mesh's settings, as its agents take them. Default process.env. */
  readonly env?: Readonly<Record<string, string>>;
  /** The mesh's bus, state store and topic naming, instead of the ones the settings name (tests, a region taking over). */
  readonly mesh?: { readonly bus: EventBus; readonly state: StateStore; readonly naming: TopicNaming };
  readonly skills?: SkillRegistry;
  /** Default every role that keeps state (REPLAYED_ROLES). */
  readonly roles?: readonly ReplayedRole[];
}

export interface ReplayReport extends RebuildReport {
  /** What was asked for. */
  readonly selection: 'workflows' | 'all-running';
}

/** Connects to the bus and the state store the settings name, as an agent would (closing it closes both). */
async function connectMesh(env: Readonly<Record<string, string>>): Promise<{
  readonly context: INestApplicationContext;
  readonly mesh: NonNullable<ReplayCommandArgs['mesh']>;
}> {
  @Module({ imports: [MeshRuntimeModule.forRoot({ role: 'replay', env })] })
  class ReplayConnectionModule {}
  const context = await NestFactory.createApplicationContext(ReplayConnectionModule, { logger: ['error', 'warn'] });
  const transport = context.get<MeshTransportOptions>(MESH_TRANSPORT_OPTIONS);
  const state = context.get<StateStore>(STATE_STORE);
  return { context, mesh: { bus: transport.bus, state, naming: transport.naming } };
}

/**
 * The `mesh replay` command: rebuilds the Redis state of the named workflows, or of every
 * workflow the log says is running, from the log (rebuildWorkflows), and says what it did.
 * Throws when neither is asked for.
 */
export async function runReplayCommand(args: ReplayCommandArgs): Promise<ReplayReport> {
  const named = args.workflow ?? [];
  if (named.length === 0 && !args.allRunning)
    throw new Error('mesh replay: name the workflows (--workflow <id>, repeatable) or use --all-running');
  if (named.length > 0 && args.allRunning)
    throw new Error('mesh replay: --workflow and --all-running exclude each other');
  const env = args.env ?? (process.env as Record<string, string>);
  const connection = args.mesh ? undefined : await connectMesh(env);
  const mesh = args.mesh ?? (connection as NonNullable<typeof connection>).mesh;
  try {
    const workflows = args.allRunning ? await findRunningWorkflows(mesh.bus, mesh.naming) : [...new Set(named)];
    const report = await rebuildWorkflows({
      bus: mesh.bus,
      state: mesh.state,
      roles: args.roles ?? REPLAYED_ROLES,
      workflows,
      env: { ...env, PULSAR_TENANT: mesh.naming.tenant, PULSAR_NAMESPACE: mesh.naming.namespace },
      skills: args.skills,
    });
    return { ...report, selection: args.allRunning ? 'all-running' : 'workflows' };
  } finally {
    await connection?.context.close();
  }
}

/** Whether the command should exit non-zero: a handler did not take an event, or decided otherwise than live. */
export function replayFailed(report: RebuildReport): boolean {
  return report.unsettled.length > 0 || report.unmatchedOutputs.length > 0;
}

/** The report as the command prints it: one line per workflow, then the totals and anything a handler did not take. */
export function formatReplayReport(report: ReplayReport): string {
  const lines = report.workflows.map(
    (w) =>
      `rebuilt ${w.workflowId}: ${w.events} events, ${w.deletedKeys} keys replaced` +
      (w.pendingTimers > 0 ? `, ${w.pendingTimers} timers not due yet (they fire live)` : ''),
  );
  if (report.workflows.length === 0)
    lines.push(report.selection === 'all-running' ? 'no running workflow in the log' : 'nothing to rebuild');
  lines.push(
    `replay ${report.runId}: ${report.workflows.length} workflows, ${report.deliveries} handler calls over ${report.topics.length} topics, ${report.dropped} outputs not republished`,
  );
  for (const u of report.unmatchedOutputs)
    lines.push(
      `  decided otherwise than live: made ${u.type} on ${u.topic} for ${u.workflowId ?? '?'} (caused by ${u.causeType ?? '?'} ${u.causationId ?? '?'}), ${u.difference === 'other-data' ? 'with other data than the log’s' : 'not in the log'}`,
    );
  for (const u of report.unsettled)
    lines.push(
      `  not taken (${u.settlement}): ${u.type ?? '?'} ${u.eventId ?? '?'} of ${u.workflowId} in ${u.subscription} on ${u.topic}`,
    );
  return lines.join('\n');
}

/** `mesh geo fail-over --lost <region>`. */
export interface FailOverCommandArgs {
  readonly lost: string;
  /** The mesh's settings, as its agents take them (MESH_REGION names the adopter). Default process.env. */
  readonly env?: Readonly<Record<string, string>>;
  /** The mesh's bus, state store and topic naming, instead of the ones the settings name. */
  readonly mesh?: ReplayCommandArgs['mesh'];
  readonly adoptedBy?: string;
  readonly requestedBy?: string;
  readonly skills?: SkillRegistry;
}

/**
 * The `mesh geo fail-over` command: this region (MESH_REGION) adopts the lost region's workflows
 * (adoptRegion) on this region's broker and Redis. Throws when the lost region is this one.
 */
export async function runFailOverCommand(args: FailOverCommandArgs): Promise<AdoptionReport> {
  const env = args.env ?? (process.env as Record<string, string>);
  const adoptedBy = args.adoptedBy ?? env['MESH_REGION'];
  if (!adoptedBy) throw new Error('mesh geo fail-over: set MESH_REGION to the region that adopts (this one)');
  if (adoptedBy === args.lost) throw new Error(`mesh geo fail-over: ${adoptedBy} cannot adopt its own workflows`);
  const connection = args.mesh ? undefined : await connectMesh(env);
  const mesh = args.mesh ?? (connection as NonNullable<typeof connection>).mesh;
  try {
    return await adoptRegion({
      ...mesh,
      lost: args.lost,
      adoptedBy,
      requestedBy: args.requestedBy ?? `mesh-cli@${adoptedBy}`,
      env,
      skills: args.skills,
    });
  } finally {
    await connection?.context.close();
  }
}

/** The adoption as the command prints it. */
export function formatAdoptionReport(report: AdoptionReport, adoptedBy: string): string {
  return [
    `adopted ${report.home} in ${adoptedBy}: ${report.workflows.length} running workflows rebuilt, ${report.reissuedTasks} tasks and ${report.reissuedAsks} market asks re-issued, ${report.publishedOutputs} outputs the lost region had not published`,
    ...report.workflows.map((id) => `  ${id}`),
  ].join('\n');
}
