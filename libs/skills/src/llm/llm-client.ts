/**
 * A minimal client for OpenAI-compatible chat-completions endpoints (OpenAI, Ollama, vLLM,
 * llama.cpp server, LM Studio, ...). Node's global fetch, no SDK.
 */

export interface LlmCompletionRequest {
  /** System message (the instruction); omitted from the request when undefined. */
  readonly system?: string;
  /** User message. */
  readonly prompt: string;
  readonly temperature?: number;
  /** Sent as `max_tokens`. */
  readonly maxTokens?: number;
}

export interface LlmUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface LlmCompletion {
  readonly text: string;
  /** The model the server says answered (falls back to the configured one). */
  readonly model: string;
  readonly usage?: LlmUsage;
}

/** What LlmSkill needs; OpenAiCompatibleClient is the real one. */
export interface LlmClient {
  complete(request: LlmCompletionRequest, signal?: AbortSignal): Promise<LlmCompletion>;
}

export interface OpenAiCompatibleClientOptions {
  /** Up to and including the version segment, e.g. `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer <apiKey>` when set. */
  readonly apiKey?: string;
  /** Per-attempt limit (request and response body), default 30 000. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt, default 2. */
  readonly maxRetries?: number;
  /** First backoff step; doubles per retry, with jitter. Default 250. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound on any wait between attempts, including a server's Retry-After. Default 30 000. */
  readonly maxRetryDelayMs?: number;
}

export const LLM_DEFAULT_TIMEOUT_MS = 30_000;
export const LLM_DEFAULT_MAX_RETRIES = 2;
export const LLM_DEFAULT_RETRY_BASE_DELAY_MS = 250;
export const LLM_DEFAULT_MAX_RETRY_DELAY_MS = 30_000;

export interface LlmRequestErrorDetails {
  /** HTTP status when the server answered; undefined for timeouts and network errors. */
  readonly status?: number;
  /** The server's own error message (OpenAI-style `error.message`, or the body text). */
  readonly serverMessage?: string;
  /** Attempts made, including the failing one. */
  readonly attempts: number;
  /** Whether the failure was of a retryable kind (network, timeout, 429, 5xx). */
  readonly retryable: boolean;
  readonly cause?: unknown;
}

/** The endpoint refused the request, failed, timed out or was unreachable. */
export class LlmRequestError extends Error {
  readonly status?: number;
  readonly serverMessage?: string;
  readonly attempts: number;
  readonly retryable: boolean;

  constructor(message: string, details: LlmRequestErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LlmRequestError';
    this.status = details.status;
    this.serverMessage = details.serverMessage;
    this.attempts = details.attempts;
    this.retryable = details.retryable;
  }
}

/** The endpoint answered 2xx with a body that is not a chat completion. Not retried. */
export class LlmResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LlmResponseError';
  }
}

/** Milliseconds to wait from a Retry-After header (delta-seconds or HTTP date); undefined if absent or unparsable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

type AttemptOutcome =
  | { readonly kind: 'done'; readonly completion: LlmCompletion }
  | {
      readonly kind: 'failed';
      readonly message: string;
      readonly retryable: boolean;
      readonly status?: number;
      readonly serverMessage?: string;
      readonly retryAfterMs?: number;
      readonly cause?: unknown;
    };

const BODY_SNIPPET = 300;

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > BODY_SNIPPET ? `${flat.slice(0, BODY_SNIPPET)}...` : flat;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The server's message from an error body: `{error:{message}}`, `{error:"..."}`, `{message}` or the text itself. */
function serverErrorMessage(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed)) {
      const error = parsed['error'];
      if (isRecord(error) && typeof error['message'] === 'string') {
        const type = typeof error['type'] === 'string' ? ` (${error['type']})` : '';
        return `${error['message']}${type}`;
      }
      if (typeof error === 'string') return error;
      if (typeof parsed['message'] === 'string') return parsed['message'];
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = snippet(body);
  return text === '' ? undefined : text;
}

/** An error's message, duck-typed: fetch's errors come from another realm under Jest, so `instanceof Error` is unreliable. */
function messageOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const message: unknown = (value as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

/** fetch's "fetch failed" plus the underlying cause (e.g. `connect ECONNREFUSED 127.0.0.1:1234`). */
function describeNetworkError(error: unknown): string {
  const message = messageOf(error) ?? String(error);
  const cause = messageOf((error as { cause?: unknown } | null)?.cause);
  return cause !== undefined && cause !== message ? `${message}: ${cause}` : message;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function positiveNumber(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`OpenAiCompatibleClient: ${name} must be a positive number, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`OpenAiCompatibleClient: ${name} must be an integer >= 0, got ${value}`);
  return value;
}

export class OpenAiCompatibleClient implements LlmClient {
  readonly model: string;
  /** `{baseUrl}/chat/completions`. */
  readonly url: string;
  private readonly apiKey?: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(options: OpenAiCompatibleClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new Error(`OpenAiCompatibleClient: baseUrl is not a valid URL: "${options.baseUrl}"`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new Error(`OpenAiCompatibleClient: baseUrl must be http or https, got "${options.baseUrl}"`);
    }
    if (typeof options.model !== 'string' || options.model.trim() === '') {
      throw new Error('OpenAiCompatibleClient: model is required');
    }
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
    this.model = options.model.trim();
    this.apiKey = options.apiKey === undefined || options.apiKey === '' ? undefined : options.apiKey;
    this.timeoutMs = positiveNumber('timeoutMs', options.timeoutMs ?? LLM_DEFAULT_TIMEOUT_MS);
    this.maxRetries = nonNegativeInteger('maxRetries', options.maxRetries ?? LLM_DEFAULT_MAX_RETRIES);
    this.retryBaseDelayMs = positiveNumber(
      'retryBaseDelayMs',
      options.retryBaseDelayMs ?? LLM_DEFAULT_RETRY_BASE_DELAY_MS,
    );
    this.maxRetryDelayMs = positiveNumber('maxRetryDelayMs', options.maxRetryDelayMs ?? LLM_DEFAULT_MAX_RETRY_DELAY_MS);
  }

  /**
   * One chat completion. Network errors, per-attempt timeouts, 429 and 5xx are retried up to
   * `maxRetries` times (Retry-After honoured, capped at `maxRetryDelayMs`; otherwise
   * exponential backoff with jitter). Other 4xx throw LlmRequestError at once; a 2xx that is
   * not a chat completion throws LlmResponseError. When `signal` aborts, the call rejects at
   * once with the signal's reason, whether mid-request or between attempts.
   */
  async complete(request: LlmCompletionRequest, signal?: AbortSignal): Promise<LlmCompletion> {
    signal?.throwIfAborted();
    const body = JSON.stringify(this.requestBody(request));
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(body, signal);
      if (outcome.kind === 'done') return outcome.completion;
      if (!outcome.retryable || attempt > this.maxRetries) {
        const suffix = attempt > 1 ? ` (gave up after ${attempt} attempts)` : '';
        throw new LlmRequestError(`${outcome.message}${suffix}`, {
          status: outcome.status,
          serverMessage: outcome.serverMessage,
          attempts: attempt,
          retryable: outcome.retryable,
          cause: outcome.cause,
        });
      }
      await sleep(this.retryDelay(attempt, outcome.retryAfterMs), signal);
    }
  }

  /** Wait before retry number `retry` (1-based). */
  private retryDelay(retry: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(retryAfterMs, this.maxRetryDelayMs);
    const step = Math.min(this.retryBaseDelayMs * 2 ** (retry - 1), this.maxRetryDelayMs);
    return step / 2 + Math.random() * (step / 2);
  }

  private requestBody(request: LlmCompletionRequest): Record<string, unknown> {
    const messages: { role: 'system' | 'user'; content: string }[] = [];
    if (request.system !== undefined) messages.push({ role: 'system', content: request.system });
    messages.push({ role: 'user', content: request.prompt });
    const body: Record<string, unknown> = { model: this.model, messages, stream: false };
    if (request.temperature !== undefined) body['temperature'] = request.temperature;
    if (request.maxTokens !== undefined) body['max_tokens'] = request.maxTokens;
    return body;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.apiKey !== undefined) headers['authorization'] = `Bearer ${this.apiKey}`;
    return headers;
  }

  private async attempt(body: string, signal: AbortSignal | undefined): Promise<AttemptOutcome> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      let status: number;
      let ok: boolean;
      let retryAfter: string | null;
      let text: string;
      try {
        const response = await fetch(this.url, { method: 'POST', headers: this.headers(), body, signal: combined });
        status = response.status;
        ok = response.ok;
        retryAfter = response.headers.get('retry-after');
        text = await response.text();
      } catch (error) {
        signal?.throwIfAborted();
        if (timeout.signal.aborted) {
          return { kind: 'failed', message: `POST ${this.url} timed out after ${this.timeoutMs} ms`, retryable: true };
        }
        return {
          kind: 'failed',
          message: `POST ${this.url} failed: ${describeNetworkError(error)}`,
          retryable: true,
          cause: error,
        };
      }
      if (!ok) {
        const serverMessage = serverErrorMessage(text);
        const retryable = status === 429 || status >= 500;
        return {
          kind: 'failed',
          message: `POST ${this.url} returned HTTP ${status}${serverMessage === undefined ? '' : `: ${serverMessage}`}`,
          retryable,
          status,
          serverMessage,
          retryAfterMs: retryable ? parseRetryAfter(retryAfter) : undefined,
        };
      }
      return { kind: 'done', completion: this.parseCompletion(text, status) };
    } finally {
      clearTimeout(timer);
    }
  }

  private parseCompletion(text: string, status: number): LlmCompletion {
    const fail = (problem: string): never => {
      throw new LlmResponseError(
        `POST ${this.url} returned HTTP ${status} but ${problem}: ${snippet(text) || '(empty body)'}`,
      );
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail('the body is not JSON');
    }
    if (!isRecord(parsed)) return fail('the body is not a JSON object');
    const choices = parsed['choices'];
    if (!Array.isArray(choices) || choices.length === 0) return fail('"choices" is missing or empty');
    const first: unknown = choices[0];
    const message = isRecord(first) ? first['message'] : undefined;
    const content = isRecord(message) ? message['content'] : undefined;
    if (typeof content !== 'string') return fail('"choices[0].message.content" is not a string');
    const model = typeof parsed['model'] === 'string' && parsed['model'] !== '' ? parsed['model'] : this.model;
    const usage = parsed['usage'];
    if (
      isRecord(usage) &&
      typeof usage['prompt_tokens'] === 'number' &&
      typeof usage['completion_tokens'] === 'number'
    ) {
      return {
        text: content,
        model,
        usage: { promptTokens: usage['prompt_tokens'], completionTokens: usage['completion_tokens'] },
      };
    }
    return { text: content, model };
  }
}
