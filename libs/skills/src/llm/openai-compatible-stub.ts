/**
 * A real, tiny OpenAI-compatible HTTP server for tests: `POST /v1/chat/completions` on
 * 127.0.0.1 (random port), every request recorded with its arrival time, each reply scriptable
 * (echo text, fixed text, JSON, tool calls, error status with Retry-After, raw/malformed body,
 * delay, the first N requests throttled with 429). A request with `stream: true` is answered with
 * server-sent events (content deltas, then a usage chunk when `stream_options.include_usage`,
 * then `[DONE]`). Anything else is a 404. It counts the chat requests in flight (arrival to reply
 * sent) and the most there ever were, and logs the usage it reported (rate-limit tests).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubChatMessage {
  readonly role: string;
  /** The content ('' when the message has none, e.g. an assistant's tool calls). */
  readonly content: string;
  /** An assistant message's tool calls (function name and JSON arguments). */
  readonly toolCalls?: readonly { readonly id: string; readonly name: string; readonly arguments: string }[];
  /** A tool message's call id. */
  readonly toolCallId?: string;
}

/** A tool call the stub answers with; `arguments` as an object is sent as its JSON. */
export interface StubToolCall {
  readonly name: string;
  readonly arguments: Record<string, unknown> | string;
  readonly id?: string;
}

export interface RecordedRequest {
  /** Position of the request, from 0 (404s included). */
  readonly index: number;
  readonly method: string;
  /** Path and query as received, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The parsed JSON body; undefined when the body is not JSON. */
  readonly body: Record<string, unknown> | undefined;
  /** Messages from a valid chat-completions body, else empty. */
  readonly messages: readonly StubChatMessage[];
  /** Date.now() when the request arrived. */
  readonly receivedAt: number;
  /** The same as receivedAt (rate-limit measurements read `{at, body}`). */
  readonly at: number;
}

interface Delayed {
  /** Wait this long before answering (the client may time out first). */
  readonly delayMs?: number;
}

export type StubReply =
  /** `echo:<first 5 words of the last user message>` (the default). */
  | ({ readonly type: 'echo' } & Delayed)
  /** A well-formed completion with this text. */
  | ({ readonly type: 'text'; readonly text: string; readonly model?: string; readonly omitUsage?: boolean } & Delayed)
  /** A completion whose text is this value's JSON. */
  | ({ readonly type: 'json'; readonly value: unknown; readonly model?: string } & Delayed)
  /** A completion asking for these tool calls (`finish_reason: tool_calls`, content null). */
  | ({ readonly type: 'tool-calls'; readonly calls: readonly StubToolCall[] } & Delayed)
  /** An OpenAI-style error body `{error:{message,type}}` with this status. */
  | ({
      readonly type: 'error';
      readonly status: number;
      readonly message?: string;
      readonly errorType?: string;
      /** Retry-After header value (seconds or an HTTP date). */
      readonly retryAfter?: number | string;
    } & Delayed)
  /** Exactly this body (malformed JSON, wrong shape, ...), default status 200. */
  | ({
      readonly type: 'raw';
      readonly body: string;
      readonly status?: number;
      readonly contentType?: string;
    } & Delayed);

export type StubHandler = (request: RecordedRequest) => StubReply | Promise<StubReply>;

export interface OpenAiStubOptions {
  /** Replies for chat requests in order: the n-th chat request gets `replies[n]`; later ones go to `handler`. */
  readonly replies?: readonly StubReply[];
  /** Decides replies not scripted by `replies`; default echo. */
  readonly handler?: StubHandler;
  /** Model reported when the request names none. Default `stub-model`. */
  readonly model?: string;
  /** The first `times` chat requests answer 429 with `Retry-After: retryAfter` (seconds, default 1). */
  readonly throttle?: { readonly times: number; readonly retryAfter?: number | string };
  /** Requests offering `tools` (not scripted by replies/handler): the calls to answer with, or undefined to answer normally. */
  readonly toolCalls?: (request: RecordedRequest) => readonly StubToolCall[] | undefined;
  /** Requests with a json_schema `response_format` (not scripted otherwise): the JSON to answer. */
  readonly json?: (request: RecordedRequest) => unknown;
  /** Holds every chat reply this long unless the reply has its own `delayMs` (calls in flight overlap). */
  readonly holdMs?: number;
}

/** The usage the stub reported for one request, as it sent it. */
export interface StubReportedUsage {
  /** The request's index (see RecordedRequest.index). */
  readonly index: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export interface OpenAiStub {
  /** `http://127.0.0.1:<port>/v1`, ready for OpenAiCompatibleClient. */
  readonly baseUrl: string;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Chat-completion requests only. */
  chatRequests(): RecordedRequest[];
  /** The user messages of every chat request, in arrival order. */
  prompts(): string[];
  /** Every usage the stub reported (body or final stream chunk), in reply order. */
  readonly reportedUsage: readonly StubReportedUsage[];
  /** Chat requests received and not yet answered (their reply not yet handed to the socket). */
  inFlight(): number;
  /** The most chat requests ever in flight at once. */
  maxInFlight(): number;
  /** Stops the server, dropping open connections and pending delayed replies. Idempotent. */
  close(): Promise<void>;
}

export const ECHO_WORDS = 5;

/** The stub's deterministic echo: `echo:` + the first five whitespace-separated words. */
export function echoText(prompt: string): string {
  return `echo:${prompt.trim().split(/\s+/).filter(Boolean).slice(0, ECHO_WORDS).join(' ')}`;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseMessages(body: Record<string, unknown> | undefined): StubChatMessage[] | undefined {
  const messages = body?.['messages'];
  if (!Array.isArray(messages)) return undefined;
  const parsed: StubChatMessage[] = [];
  for (const m of messages) {
    if (!isRecord(m) || typeof m['role'] !== 'string') return undefined;
    const content = m['content'];
    const toolCalls = Array.isArray(m['tool_calls'])
      ? m['tool_calls'].map((call: unknown) => {
          const fn = isRecord(call) && isRecord(call['function']) ? call['function'] : {};
          return {
            id: isRecord(call) ? String(call['id']) : '',
            name: String(fn['name']),
            arguments: String(fn['arguments']),
          };
        })
      : undefined;
    if (typeof content !== 'string' && !(content === null && toolCalls)) return undefined;
    parsed.push({
      role: m['role'],
      content: content ?? '',
      ...(toolCalls ? { toolCalls } : {}),
      ...(typeof m['tool_call_id'] === 'string' ? { toolCallId: m['tool_call_id'] } : {}),
    });
  }
  return parsed;
}

/** The body's `stream: true`, and whether it asked for a final usage chunk. */
function streamOf(body: Record<string, unknown> | undefined): { stream: boolean; includeUsage: boolean } {
  const options = body?.['stream_options'];
  return { stream: body?.['stream'] === true, includeUsage: isRecord(options) && options['include_usage'] === true };
}

/** Splits a text into the pieces a stream sends: each word with the space before it. */
function streamPieces(text: string): string[] {
  return text.match(/\s*\S+\s*$|\s*\S+/g) ?? (text === '' ? [] : [text]);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(message: string, type: string): { error: { message: string; type: string } } {
  return { error: { message, type } };
}

export async function startOpenAiStub(options: OpenAiStubOptions = {}): Promise<OpenAiStub> {
  const requests: RecordedRequest[] = [];
  const reportedUsage: StubReportedUsage[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const pending = new Set<NodeJS.Timeout>();
  const defaultModel = options.model ?? 'stub-model';
  let chatCount = 0;
  let closed: Promise<void> | undefined;

  /** Usage in words: every message's words in, the answer's (or the tool calls' arguments') out. */
  const usageOf = (request: RecordedRequest, answer: string): Omit<StubReportedUsage, 'index'> => {
    const promptTokens = request.messages.reduce((n, m) => n + countWords(m.content), 0);
    const completionTokens = countWords(answer);
    return {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
  };

  const modelOf = (request: RecordedRequest, model?: string): string => {
    const requested = request.body?.['model'];
    return model ?? (typeof requested === 'string' ? requested : defaultModel);
  };

  /** A completion of `text`, or of tool calls: one JSON body, or SSE chunks when the request streams. */
  const answer = (
    res: ServerResponse,
    request: RecordedRequest,
    content: { text: string; toolCalls?: readonly StubToolCall[] },
    model?: string,
    omitUsage?: boolean,
  ): void => {
    const toolCalls = content.toolCalls?.map((call, i) => ({
      id: call.id ?? `call-${request.index}-${i}`,
      type: 'function',
      function: {
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    }));
    const counted = toolCalls ? toolCalls.map((c) => c.function.arguments).join(' ') : content.text;
    const usage = omitUsage ? undefined : usageOf(request, counted);
    const head = {
      id: `chatcmpl-stub-${request.index}`,
      created: Math.floor(request.receivedAt / 1000),
      model: modelOf(request, model),
    };
    const finishReason = toolCalls ? 'tool_calls' : 'stop';
    const { stream, includeUsage } = streamOf(request.body);
    if (usage && (!stream || includeUsage)) reportedUsage.push({ index: request.index, ...usage });
    if (!stream) {
      const message = toolCalls
        ? { role: 'assistant', content: null, tool_calls: toolCalls }
        : { role: 'assistant', content: content.text };
      sendJson(res, 200, {
        ...head,
        object: 'chat.completion',
        choices: [{ index: 0, message, finish_reason: finishReason }],
        ...(usage ? { usage } : {}),
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const chunk = (data: Record<string, unknown>): void => {
      res.write(`data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...data })}\n\n`);
    };
    const delta = (d: Record<string, unknown>, finish: string | null = null): void =>
      chunk({ choices: [{ index: 0, delta: d, finish_reason: finish }] });
    delta({ role: 'assistant', content: '' });
    for (const piece of streamPieces(content.text)) delta({ content: piece });
    toolCalls?.forEach((call, index) => {
      // id and name first, then the arguments in two fragments, as OpenAI streams them
      const args = call.function.arguments;
      const half = Math.ceil(args.length / 2);
      delta({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }],
      });
      delta({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] });
      delta({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] });
    });
    delta({}, finishReason);
    if (includeUsage && usage) chunk({ choices: [], usage });
    res.end('data: [DONE]\n\n');
  };

  const send = (res: ServerResponse, request: RecordedRequest, reply: StubReply): void => {
    switch (reply.type) {
      case 'echo': {
        const user = [...request.messages].reverse().find((m) => m.role === 'user');
        answer(res, request, { text: echoText(user?.content ?? '') });
        return;
      }
      case 'text':
        answer(res, request, { text: reply.text }, reply.model, reply.omitUsage);
        return;
      case 'json':
        answer(res, request, { text: JSON.stringify(reply.value) }, reply.model);
        return;
      case 'tool-calls':
        answer(res, request, { text: '', toolCalls: reply.calls });
        return;
      case 'error': {
        const headers: Record<string, string> =
          reply.retryAfter === undefined ? {} : { 'retry-after': String(reply.retryAfter) };
        const type = reply.errorType ?? (reply.status >= 500 ? 'server_error' : 'invalid_request_error');
        sendJson(res, reply.status, errorBody(reply.message ?? `stub error ${reply.status}`, type), headers);
        return;
      }
      case 'raw':
        res.writeHead(reply.status ?? 200, {
          'content-type': reply.contentType ?? 'application/json',
          'content-length': Buffer.byteLength(reply.body),
        });
        res.end(reply.body);
        return;
    }
  };

  /** Throttled, else scripted, else the handler's, else tool calls or JSON when asked for, else echo. */
  const choose = async (request: RecordedRequest): Promise<StubReply> => {
    const n = chatCount;
    chatCount += 1;
    if (options.throttle && n < options.throttle.times) {
      return {
        type: 'error',
        status: 429,
        errorType: 'rate_limit_exceeded',
        retryAfter: options.throttle.retryAfter ?? 1,
      };
    }
    const scripted = options.replies?.[n - (options.throttle?.times ?? 0)];
    if (scripted) return scripted;
    if (options.handler) return options.handler(request);
    const calls = Array.isArray(request.body?.['tools']) ? options.toolCalls?.(request) : undefined;
    if (calls !== undefined && calls.length > 0) return { type: 'tool-calls', calls };
    const format = request.body?.['response_format'];
    if (options.json && isRecord(format) && format['type'] === 'json_schema')
      return { type: 'json', value: options.json(request) };
    return { type: 'echo' };
  };

  const reply = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawBody = await readBody(req);
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(rawBody);
      body = isRecord(parsed) ? parsed : undefined;
    } catch {
      body = undefined;
    }
    const messages = parseMessages(body);
    const path = req.url ?? '/';
    const receivedAt = Date.now();
    const request: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      rawBody,
      body,
      messages: messages ?? [],
      receivedAt,
      at: receivedAt,
    };
    requests.push(request);

    if (request.method !== 'POST' || path.split('?')[0] !== '/v1/chat/completions') {
      sendJson(res, 404, errorBody(`No route for ${request.method} ${path}`, 'invalid_request_error'));
      return;
    }
    if (messages === undefined || messages.length === 0) {
      sendJson(
        res,
        400,
        errorBody('"messages" must be a non-empty array of {role, content} strings', 'invalid_request_error'),
      );
      return;
    }
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let answered = false;
    const done = (): void => {
      if (answered) return;
      answered = true;
      inFlight -= 1;
    };
    res.on('finish', done);
    res.on('close', done);
    const chosen = await choose(request);
    const delayMs = chosen.delayMs ?? options.holdMs ?? 0;
    if (delayMs <= 0) {
      send(res, request, chosen);
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (!res.destroyed) send(res, request, chosen);
    }, delayMs);
    pending.add(timer);
    // The client gave up (timeout, abort): drop the reply.
    res.on('close', () => {
      clearTimeout(timer);
      pending.delete(timer);
    });
  };

  const server = createServer((req, res) => {
    reply(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(`stub failure: ${String(error)}`, 'server_error'));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const chatRequests = (): RecordedRequest[] =>
    requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/chat/completions');

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    chatRequests,
    prompts: () => chatRequests().flatMap((r) => r.messages.filter((m) => m.role === 'user').map((m) => m.content)),
    reportedUsage,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        for (const timer of pending) clearTimeout(timer);
        pending.clear();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
