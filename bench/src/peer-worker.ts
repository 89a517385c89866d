/**
 * A BullMQ worker process for the peer benchmark (bench/src/peer.ts): the fan-out's branches
 * are child jobs running the same `keywords` skill as the mesh's workers; the parent job joins
 * them with the skill's own combine, like the mesh's aggregator. Configured by environment:
 * REDIS_URL, BULL_PREFIX, BULL_CHILDREN, BULL_PARENTS, BULL_CONCURRENCY. Prints `ready` once
 * both workers are connected; SIGTERM closes them.
 */
import { Worker, type Job } from 'bullmq';
import { createDefaultSkillRegistry, type SkillOutput } from '@agent-mesh/skills';

export interface BranchJob {
  readonly index: number;
  readonly id: string;
  readonly text: string;
}

export interface BranchResult {
  readonly index: number;
  readonly inputId: string;
  readonly output: SkillOutput;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`peer-worker: ${name} is not set`);
  return value;
}

export function redisConnection(url: string): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.slice(1) || 0),
    maxRetriesPerRequest: null,
  };
}

async function main(): Promise<void> {
  const connection = redisConnection(env('REDIS_URL'));
  const prefix = env('BULL_PREFIX');
  const concurrency = Number(env('BULL_CONCURRENCY'));
  const keywords = createDefaultSkillRegistry().require('keywords');
  const signal = new AbortController().signal;

  const children = new Worker<BranchJob, BranchResult>(
    env('BULL_CHILDREN'),
    async (job: Job<BranchJob>) => {
      const output = await keywords.run({ id: job.data.id, text: job.data.text }, { signal, taskId: job.id });
      return { index: job.data.index, inputId: job.data.id, output };
    },
    { connection, prefix, concurrency },
  );
  const parents = new Worker<{ readonly branches: number }, SkillOutput>(
    env('BULL_PARENTS'),
    async (job) => {
      const values = Object.values(await job.getChildrenValues<BranchResult>()).sort((a, b) => a.index - b.index);
      return keywords.combine(values.map((v) => ({ inputId: v.inputId, output: v.output })));
    },
    { connection, prefix, concurrency },
  );
  await Promise.all([children.waitUntilReady(), parents.waitUntilReady()]);
  process.stdout.write('ready\n');
  const stop = () => {
    void Promise.allSettled([children.close(), parents.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `peer-worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
