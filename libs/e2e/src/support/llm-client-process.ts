/*
 * One process calling a model endpoint through the LLM gateway, as a worker's LLM skill does (run
 * with `node -r @swc-node/register`): its own Redis connection, the limits and journal of the
 * environment. Prints one line per answer (`answered <text>`), then exits — or, with
 * HOLD_AFTER=1, stays alive holding its answer unacked until it is killed.
 *
 * Environment: STUB_URL, REDIS_URL, KEY_PREFIX, CALLS, CALL_KEY and PROMPT (optional), LLM_MAX_RPM,
 * LLM_MAX_CONCURRENCY, WINDOW_MS, LEASE_MS, HOLD_AFTER, STAMP.
 */
import { gatewayLlmClient } from '@agent-mesh/llm-gateway';
import { OpenAiCompatibleClient, type LlmClient } from '@agent-mesh/skills';
import { RedisStateStore } from '@agent-mesh/state';

const env = (name: string): string | undefined => process.env[name] || undefined;
const int = (name: string): number | undefined => (env(name) === undefined ? undefined : Number(env(name)));

async function main(): Promise<void> {
  const store = await RedisStateStore.connect({ url: env('REDIS_URL') ?? '', keyPrefix: env('KEY_PREFIX') });
  const endpoint = new OpenAiCompatibleClient({ baseUrl: env('STUB_URL') ?? '', model: 'stub-model', maxRetries: 0 });
  // With STAMP=1 each request says when the gateway let it go (this machine's clock): the stub
  // counts the rate by it, free of the time the request then takes to arrive on a loaded machine.
  const stamped: LlmClient = {
    complete: (request, options) =>
      endpoint.complete(
        env('STAMP') === '1' ? { ...request, prompt: `${request.prompt} @${Date.now()}` } : request,
        options,
      ),
  };
  const client = gatewayLlmClient(stamped, store, {
    limits: { maxRpm: int('LLM_MAX_RPM'), maxConcurrency: int('LLM_MAX_CONCURRENCY') },
    journalTtlSeconds: 600,
    scope: 'stub-model',
    windowMs: int('WINDOW_MS'),
    leaseMs: int('LEASE_MS'),
  });
  const callKey = env('CALL_KEY');
  const calls = Array.from({ length: int('CALLS') ?? 1 }, async (_, i) => {
    const completion = await client.complete(
      { prompt: env('PROMPT') ?? `process ${process.pid} call ${i}`, maxTokens: 16 },
      callKey === undefined ? {} : { callKey },
    );
    process.stdout.write(`answered ${completion.text}\n`);
  });
  await Promise.all(calls);
  if (env('HOLD_AFTER') === '1') {
    process.stdout.write('holding\n');
    setInterval(() => undefined, 60_000); // the task is not acked: killed here
    return;
  }
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
