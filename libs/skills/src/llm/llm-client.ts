/**
 * A minimal client for OpenAI-compatible chat-completions endpoints (OpenAI, Ollama, vLLM,
 * llama.cpp server, LM Studio, ...). Node's global fetch, no SDK.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';

export interface LlmCompletionRequest {
  /** System message (the instruction); omitted from the request when undefined. */
  readonly system?: string;
  /** User message. */
  readonly prompt: string;
  readonly temperature?: number;
  /** Sent as `max_tokens`. */
  readonly maxTokens?: number;
  /** Messages after the user's: the model's tool calls and their results, in order (a tool loop). */
  readonly conversation?: readonly LlmConversationMessage[];
  /** Functions the model may call (sent as OpenAI `tools`). */
  readonly tools?: readonly LlmToolDefinition[];
  /** Asks for JSON conforming to a schema (`response_format: {type: 'json_schema', ...}`, strict). */
  readonly responseFormat?: LlmResponseFormat;
}

/** A function the model asked to call; `arguments` is the model's JSON text, unparsed. */
export interface LlmToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

export type LlmConversationMessage =
  | { readonly role: 'assistant'; readonly content: string; readonly toolCalls: readonly LlmToolCall[] }
  | { readonly role: 'tool'; readonly toolCallId: string; readonly content: string };

export interface LlmToolDefinition {
  /** `^[a-zA-Z0-9_-]{1,64}$`, as OpenAI requires. */
  readonly name: string;
  readonly description?: string;
  /** JSON schema of the arguments object. */
  readonly parameters: Record<string, unknown>;
}

export interface LlmResponseFormat {
  /** `^[a-zA-Z0-9_-]{1,64}$`. */
  readonly name: string;
  readonly schema: Record<string, unknown>;
}

export interface LlmUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface LlmCompletion {
  /** The answer's text; empty when the model only asked for tool calls. */
  readonly text: string;
  /** The model the server says answered (falls back to the configured one). */
  readonly model: string;
  readonly usage?: LlmUsage;
  /** Functions the model asked to call instead of (or beside) answering. */
  readonly toolCalls?: readonly LlmToolCall[];
}

/** How one call is made, beside what is asked. */
export interface LlmCallOptions {
  /** Aborts the call (and any wait between attempts). */
  readonly signal?: AbortSignal;
  /**
   * Identifies this call across redeliveries, replays and fail-overs (`<taskId>#<n>` for a task's
   * n-th call): a journaling client answers a call it has seen from its journal instead of paying again.
   */
  readonly callKey?: string;
  /** Receives the completion's text as it streams (the request is then sent with `stream: true`). */
  readonly onToken?: (text: string) => void;
}

/** What LlmSkill needs; OpenAiCompatibleClient is the real one, the worker wraps it (journal, rate limits). */
export interface LlmClient {
  complete(request: LlmCompletionRequest, options?: LlmCallOptions): Promise<LlmCompletion>;
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

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (not Node's AbortError). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return delay(ms, undefined, { signal }).catch((error: unknown) => {
    throw signal?.aborted ? signal.reason : error;
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
  async complete(request: LlmCompletionRequest, options: LlmCallOptions = {}): Promise<LlmCompletion> {
    const { signal, onToken } = options;
    signal?.throwIfAborted();
    const body = JSON.stringify(this.requestBody(request, onToken !== undefined));
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(body, signal, onToken);
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
    // Never before the provider's Retry-After, and spread up to a quarter past it (at most 1 s), so
    // every worker told "1 s" by one 429 does not come back in the same millisecond.
    if (retryAfterMs !== undefined)
      return Math.min(retryAfterMs + Math.random() * Math.min(retryAfterMs / 4, 1000), this.maxRetryDelayMs);
    const step = Math.min(this.retryBaseDelayMs * 2 ** (retry - 1), this.maxRetryDelayMs);
    return step / 2 + Math.random() * (step / 2);
  }

  private requestBody(request: LlmCompletionRequest, stream: boolean): Record<string, unknown> {
    const messages: Record<string, unknown>[] = [];
    if (request.system !== undefined) messages.push({ role: 'system', content: request.system });
    messages.push({ role: 'user', content: request.prompt });
    for (const message of request.conversation ?? []) {
      messages.push(
        message.role === 'assistant'
          ? {
              role: 'assistant',
              content: message.content,
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function',
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : { role: 'tool', tool_call_id: message.toolCallId, content: message.content },
      );
    }
    const body: Record<string, unknown> = { model: this.model, messages, stream };
    // Without include_usage a streamed answer reports no tokens (OpenAI, vLLM and Ollama honour it).
    if (stream) body['stream_options'] = { include_usage: true };
    if (request.temperature !== undefined) body['temperature'] = request.temperature;
    if (request.maxTokens !== undefined) body['max_tokens'] = request.maxTokens;
    if (request.tools !== undefined && request.tools.length > 0) {
      body['tools'] = request.tools.map((tool) => ({
        type: 'function',
        function: {
          name: tool.name,
          ...(tool.description === undefined ? {} : { description: tool.description }),
          parameters: tool.parameters,
        },
      }));
    }
    if (request.responseFormat !== undefined) {
      body['response_format'] = {
        type: 'json_schema',
        json_schema: { name: request.responseFormat.name, schema: request.responseFormat.schema, strict: true },
      };
    }
    return body;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.apiKey !== undefined) headers['authorization'] = `Bearer ${this.apiKey}`;
    return headers;
  }

  private async attempt(
    body: string,
    signal: AbortSignal | undefined,
    onToken: ((text: string) => void) | undefined,
  ): Promise<AttemptOutcome> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      let status: number;
      let ok: boolean;
      let retryAfter: string | null;
      let text = '';
      let completion: LlmCompletion | undefined;
      try {
        const response = await fetch(this.url, { method: 'POST', headers: this.headers(), body, signal: combined });
        status = response.status;
        ok = response.ok;
        retryAfter = response.headers.get('retry-after');
        const streamed = ok && onToken !== undefined && isEventStream(response.headers.get('content-type'));
        if (streamed) completion = await this.readStream(response, onToken);
        else text = await response.text();
      } catch (error) {
        if (error instanceof LlmResponseError) throw error;
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
      return { kind: 'done', completion: completion ?? this.parseCompletion(text, status) };
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
    const toolCalls = isRecord(message) ? parseToolCalls(message['tool_calls']) : undefined;
    if (toolCalls === null) return fail('"choices[0].message.tool_calls" is not a list of function calls');
    if (typeof content !== 'string' && !(toolCalls && (content === null || content === undefined)))
      return fail('"choices[0].message.content" is not a string');
    return {
      text: typeof content === 'string' ? content : '',
      model: this.modelOf(parsed),
      ...usageOf(parsed['usage']),
      ...(toolCalls ? { toolCalls } : {}),
    };
  }

  private modelOf(body: Record<string, unknown>): string {
    return typeof body['model'] === 'string' && body['model'] !== '' ? body['model'] : this.model;
  }

  /**
   * A streamed completion (`text/event-stream`): each `data:` chunk's `choices[0].delta` adds
   * content (passed to `onToken`) or tool-call fragments; the last chunk before `[DONE]` carries
   * the usage. Parsed with eventsource-parser.
   */
  private async readStream(response: Response, onToken: (text: string) => void): Promise<LlmCompletion> {
    const stream = new StreamedCompletion(onToken);
    const parser = createParser({ onEvent: (event) => stream.onData(event.data) });
    const decoder = new TextDecoder();
    const reader = response.body?.getReader();
    if (reader === undefined) throw new LlmResponseError(`POST ${this.url} streamed no body`);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (stream.problem !== undefined) break;
    }
    if (stream.problem !== undefined)
      throw new LlmResponseError(`POST ${this.url} streamed a bad chunk: ${stream.problem}`);
    if (!stream.sawChunk) throw new LlmResponseError(`POST ${this.url} streamed no completion chunk`);
    return stream.completion(this.model);
  }
}

function isEventStream(contentType: string | null): boolean {
  return contentType?.toLowerCase().startsWith('text/event-stream') ?? false;
}

/** `{usage}` from an OpenAI usage object, or nothing when it is absent or malformed. */
function usageOf(usage: unknown): { usage?: LlmUsage } {
  if (isRecord(usage) && typeof usage['prompt_tokens'] === 'number' && typeof usage['completion_tokens'] === 'number')
    return { usage: { promptTokens: usage['prompt_tokens'], completionTokens: usage['completion_tokens'] } };
  return {};
}

/** The function calls of a message; undefined when there are none, null when they are malformed. */
function parseToolCalls(value: unknown): LlmToolCall[] | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return null;
  const calls: LlmToolCall[] = [];
  for (const item of value) {
    const fn = isRecord(item) ? item['function'] : undefined;
    if (!isRecord(item) || typeof item['id'] !== 'string' || !isRecord(fn) || typeof fn['name'] !== 'string')
      return null;
    calls.push({
      id: item['id'],
      name: fn['name'],
      arguments: typeof fn['arguments'] === 'string' ? fn['arguments'] : '',
    });
  }
  return calls.length === 0 ? undefined : calls;
}

/** What the chunks of one streamed completion add up to. */
class StreamedCompletion {
  sawChunk = false;
  problem?: string;
  private text = '';
  private model?: string;
  private usage?: LlmUsage;
  /** Tool calls by their `index`: id and name come in the first fragment, arguments in pieces. */
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  constructor(private readonly onToken: (text: string) => void) {}

  onData(data: string): void {
    if (data.trim() === '[DONE]' || this.problem !== undefined) return;
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      this.problem = `not JSON: ${snippet(data)}`;
      return;
    }
    if (!isRecord(chunk) || isRecord(chunk['error'])) {
      this.problem = snippet(data);
      return;
    }
    this.sawChunk = true;
    if (typeof chunk['model'] === 'string' && chunk['model'] !== '') this.model = chunk['model'];
    const { usage } = usageOf(chunk['usage']);
    if (usage) this.usage = usage;
    const choices = chunk['choices'];
    const delta = Array.isArray(choices) && isRecord(choices[0]) ? choices[0]['delta'] : undefined;
    if (!isRecord(delta)) return; // the usage chunk has no choices
    const content = delta['content'];
    if (typeof content === 'string' && content !== '') {
      this.text += content;
      this.onToken(content);
    }
    if (Array.isArray(delta['tool_calls'])) delta['tool_calls'].forEach((part: unknown) => this.addToolCallPart(part));
  }

  private addToolCallPart(part: unknown): void {
    if (!isRecord(part)) return;
    const index = typeof part['index'] === 'number' ? part['index'] : this.calls.size;
    const fn = isRecord(part['function']) ? part['function'] : {};
    const call = this.calls.get(index) ?? { id: '', name: '', arguments: '' };
    if (typeof part['id'] === 'string') call.id = part['id'];
    if (typeof fn['name'] === 'string') call.name += fn['name'];
    if (typeof fn['arguments'] === 'string') call.arguments += fn['arguments'];
    this.calls.set(index, call);
  }

  completion(configuredModel: string): LlmCompletion {
    const toolCalls = [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    return {
      text: this.text,
      model: this.model ?? configuredModel,
      ...(this.usage ? { usage: this.usage } : {}),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    };
  }
}
