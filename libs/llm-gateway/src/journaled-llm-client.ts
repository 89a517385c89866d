import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { describeError } from '@agent-mesh/contracts';
import type { LlmCallOptions, LlmClient, LlmCompletion, LlmCompletionRequest } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';

/** How long a journaled completion is kept by default: 7 days, as the stores' idempotency markers. */
export const LLM_JOURNAL_DEFAULT_TTL_SECONDS = 7 * 24 * 60 * 60;

/** The journal's key of one call: its callKey and a digest of what it asks (a changed request is a new call). */
export function journalKey(callKey: string, request: LlmCompletionRequest): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([request.system ?? null, request.prompt, request.temperature ?? null, request.maxTokens ?? null]),
    )
    .digest('hex')
    .slice(0, 16);
  return `llm:journal:${callKey}:${digest}`;
}

function isCompletion(value: unknown): value is LlmCompletion {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return typeof record['text'] === 'string' && typeof record['model'] === 'string';
}

/**
 * Answers a call it has seen from the journal instead of paying for it again. A call with a
 * callKey (`<taskId>#<n>`, the same on every redelivery, replay and fail-over of the task) is
 * looked up first; when absent it is made and its completion stored (for `ttlSeconds`) before it
 * is returned — so a worker killed between the call and its ack, or a task run again, never pays
 * twice. A journaled answer is streamed to `onToken` as one piece. Calls without a callKey pass through.
 */
export class JournaledLlmClient implements LlmClient {
  private readonly log = new Logger('LlmJournal');

  constructor(
    private readonly inner: LlmClient,
    private readonly store: StateStore,
    private readonly ttlSeconds: number = LLM_JOURNAL_DEFAULT_TTL_SECONDS,
  ) {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0)
      throw new RangeError(`JournaledLlmClient: ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }

  async complete(request: LlmCompletionRequest, options: LlmCallOptions = {}): Promise<LlmCompletion> {
    if (options.callKey === undefined) return this.inner.complete(request, options);
    const key = journalKey(options.callKey, request);
    const journaled = await this.lookup(key);
    if (journaled !== undefined) {
      if (journaled.text !== '') options.onToken?.(journaled.text);
      return journaled;
    }
    const completion = await this.inner.complete(request, options);
    await this.record(key, completion);
    return completion;
  }

  private async lookup(key: string): Promise<LlmCompletion | undefined> {
    const stored = await this.store.get(key);
    if (stored === null) return undefined;
    try {
      const parsed: unknown = JSON.parse(stored);
      if (isCompletion(parsed)) return parsed;
    } catch {
      // unreadable: the call is made again below
    }
    this.log.warn(`journal entry ${key} is not a completion; calling the model again`);
    return undefined;
  }

  /** Stored before the completion is returned; a store failure is logged, not thrown (the call was paid: failing it would pay again). */
  private async record(key: string, completion: LlmCompletion): Promise<void> {
    const entry: LlmCompletion = {
      text: completion.text,
      model: completion.model,
      ...(completion.usage === undefined ? {} : { usage: completion.usage }),
    };
    try {
      await this.store.apply([
        { op: 'set', key, value: JSON.stringify(entry) },
        { op: 'pexpire', key, ms: this.ttlSeconds * 1000 },
      ]);
    } catch (error) {
      this.log.warn(`could not journal LLM call ${key}: ${describeError(error)}`);
    }
  }
}
