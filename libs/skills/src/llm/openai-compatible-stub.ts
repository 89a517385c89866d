/**
 * A real, tiny OpenAI-compatible HTTP server for tests: `POST /v1/chat/completions` on
 * 127.0.0.1 (random port), every request recorded, each reply scriptable (echo text, fixed
 * text, error status with Retry-After, raw/malformed body, delay). Anything else is a 404.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubChatMessage {
  readonly role: string;
  readonly content: string;
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
}

export interface OpenAiStub {
  /** `http://127.0.0.1:<port>/v1`, ready for OpenAiCompatibleClient. */
  readonly baseUrl: string;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Chat-completion requests only. */
  chatRequests(): RecordedRequest[];
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
    if (!isRecord(m) || typeof m['role'] !== 'string' || typeof m['content'] !== 'string') return undefined;
    parsed.push({ role: m['role'], content: m['content'] });
  }
  return parsed;
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
  const pending = new Set<NodeJS.Timeout>();
  const defaultModel = options.model ?? 'stub-model';
  let chatCount = 0;
  let closed: Promise<void> | undefined;

  const completion = (
    request: RecordedRequest,
    text: string,
    model?: string,
    omitUsage?: boolean,
  ): Record<string, unknown> => {
    const requested = request.body?.['model'];
    const body: Record<string, unknown> = {
      id: `chatcmpl-stub-${request.index}`,
      object: 'chat.completion',
      created: Math.floor(request.receivedAt / 1000),
      model: model ?? (typeof requested === 'string' ? requested : defaultModel),
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    };
    if (!omitUsage) {
      const promptTokens = request.messages.reduce((n, m) => n + countWords(m.content), 0);
      const completionTokens = countWords(text);
      body['usage'] = {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      };
    }
    return body;
  };

  const send = (res: ServerResponse, request: RecordedRequest, reply: StubReply): void => {
    switch (reply.type) {
      case 'echo': {
        const user = [...request.messages].reverse().find((m) => m.role === 'user');
        sendJson(res, 200, completion(request, echoText(user?.content ?? '')));
        return;
      }
      case 'text':
        sendJson(res, 200, completion(request, reply.text, reply.model, reply.omitUsage));
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
    const request: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      rawBody,
      body,
      messages: messages ?? [],
      receivedAt: Date.now(),
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
    const scripted = options.replies?.[chatCount];
    chatCount += 1;
    const chosen: StubReply = scripted ?? (options.handler ? await options.handler(request) : { type: 'echo' });
    const delayMs = chosen.delayMs ?? 0;
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

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/chat/completions'),
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
