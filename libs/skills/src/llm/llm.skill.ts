import { SkillInputError, type Skill, type SkillContext, type SkillInput, type SkillOutput } from '../skill';
import { ensureNotAborted, OutputReader, requireText, type BranchOutput } from '../builtins/common';
import {
  LlmRequestError,
  OpenAiCompatibleClient,
  type LlmCallOptions,
  type LlmClient,
  type LlmCompletion,
  type LlmCompletionRequest,
  type LlmConversationMessage,
  type OpenAiCompatibleClientOptions,
} from './llm-client';
import {
  LLM_MAX_TEMPERATURE,
  LLM_MAX_TOKENS,
  LLM_MAX_TOOL_ROUNDS,
  LLM_SKILL_NAME,
  parseLlmParams,
  type LlmParams,
  type PeerAnswer,
} from './llm-params';
import { costUsd, parseLlmPrices, parseMcpServers, type LlmPriceTable, type McpServerTable } from './llm-settings';
import type { RecordedToolCall } from './mcp-tools';
import { renderTemplate, TemplateError } from './prompt-template';

export { LLM_MAX_TEMPERATURE, LLM_MAX_TOKENS, LLM_SKILL_NAME, parseLlmParams, type LlmParams } from './llm-params';

export type LlmOutput = {
  text: string;
  /**
   * The answer strategies compare (majority-vote / ranked-fusion `field: "answer"`): with a
   * `schema`, the JSON's `answer` property (or the whole JSON when it has none); else the trimmed text.
   */
  answer: unknown;
  /** The parsed answer, when the step asked for a `schema`. */
  json?: unknown;
  model: string;
  /** Summed over the run's model calls (a tool loop makes several). */
  promptTokens?: number;
  completionTokens?: number;
  /** Summed over the priced calls (LLM_PRICES); absent when the model has no price. */
  costUsd?: number;
  /** The model calls the run made. */
  calls: number;
  toolCalls?: RecordedToolCall[];
  /** Solver rounds: echoed from the params, so the next round can tell whose answer is whose. */
  round?: number;
  solver?: number;
};

export type CombinedLlmOutput = {
  /** Each input's completion in branch order. */
  outputs: { inputId: string; text: string; answer: unknown }[];
  /** Every completion in branch order, separated by blank lines. */
  text: string;
};

/** What the skill needs beside a client. */
export interface LlmSkillOptions {
  /** Prices per model (LLM_PRICES): each call's usage is recorded with its cost. */
  readonly prices?: LlmPriceTable;
  /** The MCP servers specs may name in `tools` (LLM_MCP_SERVERS). */
  readonly mcpServers?: McpServerTable;
  /** The configured model, priced when the server reports a name the table lacks (e.g. a dated version). */
  readonly model?: string;
}

/** HTTP statuses that mean the endpoint rejected this request's content: redelivery cannot help. */
const INPUT_REJECTED_STATUSES = new Set([400, 413, 422]);

/** The heading of the solver section of the prompt (docs/ai.md). */
export const PEERS_HEADING = 'Previous round';

/**
 * The user message: the `prompt` template rendered (or the text), then — in solver rounds — the
 * previous round's answers: this solver's own and the others'.
 */
export function userMessage(input: SkillInput, text: string, params: LlmParams): string {
  let message: string;
  try {
    message =
      params.prompt === undefined
        ? text
        : renderTemplate(params.prompt, { text, id: input.id, params: input.params ?? {} });
  } catch (error) {
    if (error instanceof TemplateError)
      throw new SkillInputError(LLM_SKILL_NAME, `input ${input.id}: param "prompt": ${error.message}`);
    throw error;
  }
  return params.peers === undefined || params.peers.length === 0
    ? message
    : `${message}\n\n${peersSection(params.peers, params.solver)}`;
}

function peersSection(peers: readonly PeerAnswer[], solver: number | undefined): string {
  const own = peers.find((p) => solver !== undefined && p.solver === solver);
  const others = peers.filter((p) => p !== own);
  const lines = [`## ${PEERS_HEADING}`];
  if (own) lines.push(`Your previous answer: ${own.answer}`);
  if (others.length > 0) {
    lines.push('Answers of the other solvers:');
    for (const p of others) lines.push(p.solver === undefined ? `- ${p.answer}` : `- solver ${p.solver}: ${p.answer}`);
  }
  lines.push('Consider these answers, then give your own best answer.');
  return lines.join('\n');
}

function isClient(value: LlmClient | OpenAiCompatibleClientOptions): value is LlmClient {
  return typeof (value as Partial<LlmClient>).complete === 'function';
}

/** One run's model calls: numbered call keys, usage recorded per call and summed. */
class RunCalls {
  count = 0;
  promptTokens = 0;
  completionTokens = 0;
  costUsd?: number;
  sawUsage = false;

  constructor(
    private readonly client: LlmClient,
    private readonly input: SkillInput,
    private readonly context: SkillContext,
    private readonly prices: LlmPriceTable,
    private readonly configuredModel: string | undefined,
  ) {}

  async complete(request: LlmCompletionRequest): Promise<LlmCompletion> {
    this.count += 1;
    const { taskId, emit, signal } = this.context;
    const options: LlmCallOptions = {
      signal,
      ...(taskId === undefined ? {} : { callKey: `${taskId}#${this.count}` }),
      ...(emit === undefined ? {} : { onToken: emit }),
    };
    let completion: LlmCompletion;
    try {
      completion = await this.client.complete(request, options);
    } catch (error) {
      if (error instanceof LlmRequestError && error.status !== undefined && INPUT_REJECTED_STATUSES.has(error.status)) {
        throw new SkillInputError(
          LLM_SKILL_NAME,
          `input ${this.input.id}: the endpoint rejected the request: ${error.message}`,
        );
      }
      throw error;
    }
    if (completion.usage)
      this.record(completion.model, completion.usage.promptTokens, completion.usage.completionTokens);
    return completion;
  }

  private record(model: string, promptTokens: number, completionTokens: number): void {
    const cost =
      costUsd(this.prices, model, promptTokens, completionTokens) ??
      (this.configuredModel === undefined
        ? undefined
        : costUsd(this.prices, this.configuredModel, promptTokens, completionTokens));
    this.sawUsage = true;
    this.promptTokens += promptTokens;
    this.completionTokens += completionTokens;
    if (cost !== undefined) this.costUsd = Number(((this.costUsd ?? 0) + cost).toPrecision(12));
    this.context.recordUsage?.({
      model,
      promptTokens,
      completionTokens,
      ...(cost === undefined ? {} : { costUsd: cost }),
    });
  }
}

/**
 * Runs the input through a chat model: the `instruction` param is the system message, the
 * `prompt` template (or the text) the user message. Optional: a `schema` the answer must
 * conform to, MCP `tools` the model may call, and — in solver rounds — the peers' previous
 * answers in the prompt. Tokens stream to `context.emit`; each call's usage goes to
 * `context.recordUsage`. Endpoint failures are retried by the client; a 400/413/422 (the
 * endpoint rejects this request) becomes a SkillInputError so the mesh does not redeliver it.
 * See docs/ai.md.
 */
export class LlmSkill implements Skill {
  readonly name = LLM_SKILL_NAME;
  readonly description: string;
  private readonly client: LlmClient;
  private readonly prices: LlmPriceTable;
  private readonly mcpServers: McpServerTable;
  private readonly model?: string;

  constructor(clientOrConfig: LlmClient | OpenAiCompatibleClientOptions, options: LlmSkillOptions = {}) {
    this.client = isClient(clientOrConfig) ? clientOrConfig : new OpenAiCompatibleClient(clientOrConfig);
    this.prices = options.prices ?? {};
    this.mcpServers = options.mcpServers ?? {};
    this.model = options.model ?? (this.client instanceof OpenAiCompatibleClient ? this.client.model : undefined);
    const model = this.model === undefined ? '' : ` (model ${this.model})`;
    const servers = Object.keys(this.mcpServers);
    this.description =
      `Chat completion on an OpenAI-compatible endpoint${model}: the instruction is the system message, the prompt template (default: the text) the user message. ` +
      `Params: instruction (string, required), prompt ({{text}}, {{id}}, {{params.x}}), schema (JSON schema of the answer), ` +
      `tools (MCP servers: ${servers.length > 0 ? servers.join(', ') : 'none configured'}), maxToolRounds (1..${LLM_MAX_TOOL_ROUNDS}), ` +
      `temperature (0..${LLM_MAX_TEMPERATURE}), maxTokens (integer 1..${LLM_MAX_TOKENS}).`;
  }

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const params = parseLlmParams(input, this.mcpServers);
    const calls = new RunCalls(this.client, input, context, this.prices, this.model);
    const request: LlmCompletionRequest = {
      system: params.instruction,
      prompt: userMessage(input, text, params),
      temperature: params.temperature,
      maxTokens: params.maxTokens,
      ...(params.schema ? { responseFormat: { name: 'answer', schema: params.schema.json } } : {}),
    };
    const toolCalls: RecordedToolCall[] = [];
    const completion =
      params.tools.length === 0
        ? await calls.complete(request)
        : await this.toolLoop(request, params, calls, toolCalls, context.signal);
    const output: LlmOutput = {
      text: completion.text,
      answer: completion.text.trim(),
      model: completion.model,
      calls: calls.count,
    };
    if (params.schema) {
      const json = this.parseAnswer(input, completion.text, params.schema.validate);
      output.json = json;
      output.answer =
        json !== null && typeof json === 'object' && !Array.isArray(json) && Object.hasOwn(json, 'answer')
          ? (json as Record<string, unknown>)['answer']
          : json;
    }
    if (calls.sawUsage) {
      output.promptTokens = calls.promptTokens;
      output.completionTokens = calls.completionTokens;
    }
    if (calls.costUsd !== undefined) output.costUsd = calls.costUsd;
    if (params.tools.length > 0) output.toolCalls = toolCalls;
    if (params.round !== undefined) output.round = params.round;
    if (params.solver !== undefined) output.solver = params.solver;
    return output;
  }

  /**
   * Asks, and while the model answers with tool calls, calls the MCP tools and asks again with
   * their results — at most `maxToolRounds` rounds of calls. A model still calling tools after
   * them fails the run (an ordinary, retried failure).
   */
  private async toolLoop(
    request: LlmCompletionRequest,
    params: LlmParams,
    calls: RunCalls,
    recorded: RecordedToolCall[],
    signal: AbortSignal,
  ): Promise<LlmCompletion> {
    // Loaded on first use: the MCP SDK costs ~150 ms at start-up, and most workers never need it.
    const { McpToolbox } = await import('./mcp-tools');
    const toolbox = await McpToolbox.open(params.tools, signal);
    try {
      const conversation: LlmConversationMessage[] = [];
      for (let round = 0; ; round++) {
        const completion = await calls.complete({ ...request, tools: toolbox.definitions, conversation });
        if (!completion.toolCalls || completion.toolCalls.length === 0) return completion;
        if (round >= params.maxToolRounds) {
          throw new Error(
            `${this.name}: the model still called tools after ${params.maxToolRounds} rounds (param "maxToolRounds")`,
          );
        }
        conversation.push({ role: 'assistant', content: completion.text, toolCalls: completion.toolCalls });
        for (const call of completion.toolCalls) {
          const result = await toolbox.call(call.name, call.arguments);
          recorded.push(result);
          conversation.push({ role: 'tool', toolCallId: call.id, content: result.result });
        }
      }
    } finally {
      await toolbox.close();
    }
  }

  /** The answer as JSON conforming to the schema; else an ordinary (retried) Error with ajv's errors. */
  private parseAnswer(
    input: SkillInput,
    text: string,
    validate: NonNullable<LlmParams['schema']>['validate'],
  ): unknown {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${this.name}: input ${input.id}: the answer is not JSON: ${text.slice(0, 200)}`);
    }
    if (!validate(json)) {
      const problems = (validate.errors ?? [])
        .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
        .join('; ');
      throw new Error(`${this.name}: input ${input.id}: the answer does not match param "schema": ${problems}`);
    }
    return json;
  }

  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const texts = outputs.map((branch) => ({
      inputId: branch.inputId,
      text: new OutputReader(this.name, branch).string('text'),
      answer: branch.output['answer'] ?? null,
    }));
    const result: CombinedLlmOutput = { outputs: texts, text: texts.map((t) => t.text).join('\n\n') };
    return result;
  }
}

/** Where the LLM skill's model is, and what the operator configured beside it. */
export interface LlmSettings extends OpenAiCompatibleClientOptions {
  readonly prices?: LlmPriceTable;
  readonly mcpServers?: McpServerTable;
}

export interface CreateLlmSkillOptions {
  /** Wraps the endpoint's client (a journal, a shared rate limiter): the skill calls what this returns. */
  readonly wrapClient?: (client: LlmClient) => LlmClient;
}

/** The LLM skill on an OpenAI-compatible endpoint; `wrapClient` decorates its client. */
export function createLlmSkill(settings: LlmSettings, options: CreateLlmSkillOptions = {}): LlmSkill {
  const { prices, mcpServers, ...clientOptions } = settings;
  const client = new OpenAiCompatibleClient(clientOptions);
  return new LlmSkill(options.wrapClient ? options.wrapClient(client) : client, {
    prices,
    mcpServers,
    model: client.model,
  });
}

/**
 * The LLM skill configured from `LLM_BASE_URL`, `LLM_MODEL`, `LLM_API_KEY`, `LLM_PRICES` and
 * `LLM_MCP_SERVERS`, or undefined when `LLM_BASE_URL` is unset or blank. Throws naming the
 * setting when one is invalid.
 */
export function createLlmSkillFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: CreateLlmSkillOptions = {},
): LlmSkill | undefined {
  const baseUrl = env['LLM_BASE_URL']?.trim();
  if (!baseUrl) return undefined;
  const model = env['LLM_MODEL']?.trim();
  if (!model) throw new Error('LLM_MODEL must be set when LLM_BASE_URL is set');
  const apiKey = env['LLM_API_KEY']?.trim() || undefined;
  const prices = parseLlmPrices(env['LLM_PRICES']);
  const mcpServers = parseMcpServers(env['LLM_MCP_SERVERS']);
  try {
    return createLlmSkill({ baseUrl, model, apiKey, prices, mcpServers }, options);
  } catch (error) {
    throw new Error(`LLM_BASE_URL: ${error instanceof Error ? error.message : String(error)}`);
  }
}
