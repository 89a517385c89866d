/**
 * The MCP servers one LLM run may use: connects to each named server (streamable HTTP, the
 * official SDK's client), lists its tools as OpenAI function definitions and calls them. The
 * servers come from the operator's LLM_MCP_SERVERS only; a spec names servers, never URLs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { LlmToolDefinition } from './llm-client';

/** `<server>__<tool>`: unique across servers, and within OpenAI's `^[a-zA-Z0-9_-]{1,64}$`. */
const SEPARATOR = '__';

/** One tool call as the output records it. */
export interface RecordedToolCall {
  readonly server: string;
  readonly name: string;
  readonly arguments: unknown;
  /** What the tool answered (its text content), or why the call failed. */
  readonly result: string;
  readonly isError?: boolean;
  readonly ms: number;
}

interface ToolRoute {
  readonly server: string;
  readonly tool: string;
  readonly client: Client;
}

export class McpToolbox {
  readonly definitions: LlmToolDefinition[] = [];
  private readonly routes = new Map<string, ToolRoute>();
  private readonly clients: Client[] = [];

  private constructor(private readonly signal: AbortSignal) {}

  /** Connects to every server (name → URL) and lists its tools; closes what it opened if one fails. */
  static async open(servers: ReadonlyArray<readonly [string, string]>, signal: AbortSignal): Promise<McpToolbox> {
    const box = new McpToolbox(signal);
    try {
      for (const [server, url] of servers) await box.add(server, url);
    } catch (error) {
      await box.close();
      throw error;
    }
    return box;
  }

  private async add(server: string, url: string): Promise<void> {
    const client = new Client({ name: 'agent-mesh-llm', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url)), { signal: this.signal });
    } catch (error) {
      throw new Error(`MCP server ${server} (${url}) is unreachable: ${messageOf(error)}`, { cause: error });
    }
    this.clients.push(client);
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor }, { signal: this.signal });
      for (const tool of page.tools) {
        const name = `${server}${SEPARATOR}${tool.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
        this.routes.set(name, { server, tool: tool.name, client });
        this.definitions.push({
          name,
          ...(tool.description === undefined ? {} : { description: tool.description }),
          parameters: tool.inputSchema,
        });
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  /**
   * Calls the function the model named with its JSON arguments. A call the tool cannot make (an
   * unknown function, arguments that are not JSON, the tool's own error) is answered to the model
   * as an error text, so it can correct itself; a server that fails throws (the run is retried).
   */
  async call(functionName: string, argumentsJson: string): Promise<RecordedToolCall> {
    const started = Date.now();
    const route = this.routes.get(functionName);
    const server = route?.server ?? functionName.split(SEPARATOR)[0];
    const name = route?.tool ?? functionName;
    let args: unknown;
    try {
      args = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
    } catch {
      args = argumentsJson;
    }
    const failed = (result: string): RecordedToolCall => ({
      server,
      name,
      arguments: args,
      result,
      isError: true,
      ms: Date.now() - started,
    });
    if (route === undefined) return failed(`unknown tool ${functionName}`);
    if (args === null || typeof args !== 'object' || Array.isArray(args))
      return failed('the arguments must be a JSON object');
    const answer = await route.client.callTool(
      { name: route.tool, arguments: args as Record<string, unknown> },
      undefined,
      { signal: this.signal },
    );
    const result = resultText(answer);
    return {
      server,
      name,
      arguments: args,
      result,
      ...(answer['isError'] === true ? { isError: true } : {}),
      ms: Date.now() - started,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((client) => client.close()));
  }
}

/** A tool result as text: its text parts joined, else its structured content (or other parts) as JSON. */
function resultText(answer: Record<string, unknown>): string {
  const content = Array.isArray(answer['content']) ? (answer['content'] as unknown[]) : [];
  const texts = content.flatMap((part) =>
    part !== null && typeof part === 'object' && (part as { type?: unknown }).type === 'text'
      ? [String((part as { text?: unknown }).text ?? '')]
      : [],
  );
  if (texts.length > 0) return texts.join('\n');
  if (answer['structuredContent'] !== undefined) return JSON.stringify(answer['structuredContent']);
  return JSON.stringify(content);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
