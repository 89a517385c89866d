import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { describeError } from '@agent-mesh/contracts';
import type { LlmCallOptions, LlmClient, LlmCompletion, LlmCompletionRequest } from '@agent-mesh/skills';
import { windowMember, type StateStore, type WindowClaim } from '@agent-mesh/state';
import { waitFor } from './wait';

/** The limits every process of the mesh shares on one model endpoint; an absent limit is no limit. */
export interface LlmRateLimits {
  /** Requests per minute (LLM_MAX_RPM). */
  readonly maxRpm?: number;
  /** Tokens per minute (LLM_MAX_TPM): maxTokens plus the prompt's estimate before a call, its usage after. */
  readonly maxTpm?: number;
  /** Calls in flight at once (LLM_MAX_CONCURRENCY). */
  readonly maxConcurrency?: number;
}

export interface RateLimitedLlmClientOptions {
  /** Names the limited endpoint in the store's keys (the model): clients with the same scope share limits. */
  readonly scope: string;
  /** The rate window, default one minute (tests shorten it). */
  readonly windowMs?: number;
  /** How long a concurrency slot lasts unless renewed (renewed every third of it while the call runs); a killed worker's slot frees itself after it. Default 30 s. */
  readonly leaseMs?: number;
  /** Longest single wait before asking the store again, default 200 ms (a slot freed early is seen soon). */
  readonly maxWaitStepMs?: number;
  /** Completion tokens counted for a call without maxTokens, default 1024. */
  readonly defaultCompletionTokens?: number;
}

export const LLM_RATE_WINDOW_MS = 60_000;
export const LLM_LEASE_MS = 30_000;
const DEFAULT_MAX_WAIT_STEP_MS = 200;
const DEFAULT_COMPLETION_TOKENS = 1024;
/** A rough tokenizer-free estimate: about four characters per token for English text. */
const CHARS_PER_TOKEN = 4;

/** The tokens a request may use: its prompt's estimate plus what it may complete. */
export function estimateTokens(request: LlmCompletionRequest, defaultCompletionTokens: number): number {
  const chars = (request.system?.length ?? 0) + request.prompt.length;
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN) + (request.maxTokens ?? defaultCompletionTokens));
}

interface Grant {
  /** The claims' score, on the store's clock. */
  readonly at: number;
  /** When it was granted, on this process's clock (to renew the lease on the store's). */
  readonly localAt: number;
}

/**
 * Holds every call to the limits shared by all processes through the StateStore (Redis in a
 * mesh): a call first reserves one request, its estimated tokens and a concurrency slot, all at
 * once; a caller over a limit waits (with jitter, honouring its AbortSignal) and asks again rather
 * than failing. After the call the token claim is corrected to the usage reported and the slot
 * is released. A call that made no claim (no limit set) passes straight through.
 */
export class RateLimitedLlmClient implements LlmClient {
  private readonly log = new Logger('LlmRateLimit');
  private readonly windowMs: number;
  private readonly leaseMs: number;
  private readonly maxWaitStepMs: number;
  private readonly defaultCompletionTokens: number;
  private readonly keys: { readonly rpm: string; readonly tpm: string; readonly slots: string };

  constructor(
    private readonly inner: LlmClient,
    private readonly store: StateStore,
    private readonly limits: LlmRateLimits,
    options: RateLimitedLlmClientOptions,
  ) {
    for (const [name, value] of Object.entries(limits))
      if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0))
        throw new RangeError(`RateLimitedLlmClient: ${name} must be a positive integer, got ${String(value)}`);
    this.windowMs = options.windowMs ?? LLM_RATE_WINDOW_MS;
    this.leaseMs = options.leaseMs ?? LLM_LEASE_MS;
    this.maxWaitStepMs = options.maxWaitStepMs ?? DEFAULT_MAX_WAIT_STEP_MS;
    this.defaultCompletionTokens = options.defaultCompletionTokens ?? DEFAULT_COMPLETION_TOKENS;
    const base = `llm:limits:${options.scope}`;
    this.keys = { rpm: `${base}:rpm`, tpm: `${base}:tpm`, slots: `${base}:slots` };
  }

  async complete(request: LlmCompletionRequest, options: LlmCallOptions = {}): Promise<LlmCompletion> {
    const id = randomUUID();
    const estimate = estimateTokens(request, this.defaultCompletionTokens);
    const claims = this.claims(id, estimate);
    if (claims.length === 0) return this.inner.complete(request, options);
    const grant = await this.acquire(claims, options.signal);
    const renewal = this.limits.maxConcurrency === undefined ? undefined : this.renewLease(id, grant);
    let completion: LlmCompletion | undefined;
    try {
      completion = await this.inner.complete(request, options);
      return completion;
    } finally {
      if (renewal !== undefined) clearInterval(renewal);
      await this.settle(id, grant, estimate, completion);
    }
  }

  private claims(id: string, estimate: number): WindowClaim[] {
    const { maxRpm, maxTpm, maxConcurrency } = this.limits;
    const claims: WindowClaim[] = [];
    if (maxRpm !== undefined)
      claims.push({ key: this.keys.rpm, member: windowMember(1, id), limit: maxRpm, windowMs: this.windowMs });
    if (maxTpm !== undefined)
      claims.push({ key: this.keys.tpm, member: windowMember(estimate, id), limit: maxTpm, windowMs: this.windowMs });
    if (maxConcurrency !== undefined)
      claims.push({ key: this.keys.slots, member: windowMember(1, id), limit: maxConcurrency, windowMs: this.leaseMs });
    return claims;
  }

  /** Reserves the claims, waiting while they do not fit: each wait at most maxWaitStepMs, spread by up to half again. */
  private async acquire(claims: readonly WindowClaim[], signal: AbortSignal | undefined): Promise<Grant> {
    for (;;) {
      signal?.throwIfAborted();
      const result = await this.store.reserve(claims);
      if (result.granted) return { at: result.at, localAt: Date.now() };
      const step = Math.min(result.retryAfterMs, this.maxWaitStepMs);
      await waitFor(step + Math.random() * (step / 2), signal);
    }
  }

  /** Keeps the concurrency slot while the call runs (score moved forward on the store's clock, as seen from here). */
  private renewLease(id: string, grant: Grant): NodeJS.Timeout {
    const timer = setInterval(
      () => {
        const score = grant.at + (Date.now() - grant.localAt);
        this.store
          .apply([
            { op: 'zadd', key: this.keys.slots, score, member: windowMember(1, id) },
            { op: 'pexpire', key: this.keys.slots, ms: this.leaseMs },
          ])
          .catch((error: unknown) =>
            this.log.warn(`could not renew LLM concurrency slot ${id}: ${describeError(error)}`),
          );
      },
      Math.max(1, Math.floor(this.leaseMs / 3)),
    );
    timer.unref();
    return timer;
  }

  /** Frees the slot and corrects the token claim to the usage reported; a failure only logs (the slot then expires). */
  private async settle(
    id: string,
    grant: Grant,
    estimate: number,
    completion: LlmCompletion | undefined,
  ): Promise<void> {
    const ops = [];
    if (this.limits.maxConcurrency !== undefined)
      ops.push({ op: 'zrem' as const, key: this.keys.slots, member: windowMember(1, id) });
    const usage = completion?.usage;
    const used = usage === undefined ? undefined : Math.max(1, usage.promptTokens + usage.completionTokens);
    if (this.limits.maxTpm !== undefined && used !== undefined && used !== estimate)
      ops.push(
        { op: 'zrem' as const, key: this.keys.tpm, member: windowMember(estimate, id) },
        { op: 'zadd' as const, key: this.keys.tpm, score: grant.at, member: windowMember(used, id) },
      );
    if (ops.length === 0) return;
    try {
      await this.store.apply(ops);
    } catch (error) {
      this.log.warn(`could not settle LLM call ${id}'s limits: ${describeError(error)}`);
    }
  }
}
