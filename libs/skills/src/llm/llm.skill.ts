import { SkillInputError, type Skill, type SkillContext, type SkillInput, type SkillOutput } from '../skill';
import { ensureNotAborted, OutputReader, requireText, type BranchOutput } from '../builtins/common';
import {
  LlmRequestError,
  OpenAiCompatibleClient,
  type LlmClient,
  type LlmCompletion,
  type OpenAiCompatibleClientOptions,
} from './llm-client';

export const LLM_SKILL_NAME = 'llm';
export const LLM_MAX_TEMPERATURE = 2;
export const LLM_MAX_TOKENS = 8192;

export interface LlmParams {
  /** System message, e.g. "Summarize in one sentence". */
  readonly instruction: string;
  readonly temperature?: number;
  readonly maxTokens?: number;
}

export type LlmOutput = { text: string; model: string; promptTokens?: number; completionTokens?: number };

export type CombinedLlmOutput = {
  /** Each input's completion in branch order. */
  outputs: { inputId: string; text: string }[];
  /** Every completion in branch order, separated by blank lines. */
  text: string;
};

/** HTTP statuses that mean the endpoint rejected this request's content: redelivery cannot help. */
const INPUT_REJECTED_STATUSES = new Set([400, 413, 422]);

/** The params of one input, or SkillInputError naming what is wrong. */
export function parseLlmParams(input: SkillInput): LlmParams {
  const fail = (message: string): never => {
    throw new SkillInputError(LLM_SKILL_NAME, `input ${input.id}: ${message}`);
  };
  const params: unknown = input.params;
  if (params === undefined || params === null) return fail('param "instruction" is required');
  if (typeof params !== 'object' || Array.isArray(params)) return fail('params must be an object');
  const record = params as Record<string, unknown>;

  const instruction = record['instruction'];
  if (typeof instruction !== 'string' || instruction.trim() === '') {
    return fail(`param "instruction" must be a non-empty string, got ${JSON.stringify(instruction) ?? 'undefined'}`);
  }
  const temperature = record['temperature'];
  if (
    temperature !== undefined &&
    (typeof temperature !== 'number' ||
      !Number.isFinite(temperature) ||
      temperature < 0 ||
      temperature > LLM_MAX_TEMPERATURE)
  ) {
    return fail(
      `param "temperature" must be a number from 0 to ${LLM_MAX_TEMPERATURE}, got ${JSON.stringify(temperature)}`,
    );
  }
  const maxTokens = record['maxTokens'];
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > LLM_MAX_TOKENS)
  ) {
    return fail(`param "maxTokens" must be an integer from 1 to ${LLM_MAX_TOKENS}, got ${JSON.stringify(maxTokens)}`);
  }
  return {
    instruction,
    ...(temperature === undefined ? {} : { temperature: temperature as number }),
    ...(maxTokens === undefined ? {} : { maxTokens: maxTokens as number }),
  };
}

function isClient(value: LlmClient | OpenAiCompatibleClientOptions): value is LlmClient {
  return typeof (value as Partial<LlmClient>).complete === 'function';
}

/**
 * Runs the input text through a chat model: the `instruction` param is the system message,
 * the text the user message. Endpoint failures are retried by the client; a 400/413/422 (the
 * endpoint rejects this request) becomes a SkillInputError so the mesh does not redeliver it.
 */
export class LlmSkill implements Skill {
  readonly name = LLM_SKILL_NAME;
  readonly description: string;
  private readonly client: LlmClient;

  constructor(clientOrConfig: LlmClient | OpenAiCompatibleClientOptions) {
    this.client = isClient(clientOrConfig) ? clientOrConfig : new OpenAiCompatibleClient(clientOrConfig);
    const model = this.client instanceof OpenAiCompatibleClient ? ` (model ${this.client.model})` : '';
    this.description =
      `Chat completion on an OpenAI-compatible endpoint${model}: the instruction is the system message, the text the user message. ` +
      `Params: instruction (string, required), temperature (0..${LLM_MAX_TEMPERATURE}), maxTokens (integer 1..${LLM_MAX_TOKENS}).`;
  }

  async run(input: SkillInput, context: SkillContext): Promise<SkillOutput> {
    ensureNotAborted(context);
    const text = requireText(this.name, input);
    const params = parseLlmParams(input);
    let completion: LlmCompletion;
    try {
      completion = await this.client.complete(
        { system: params.instruction, prompt: text, temperature: params.temperature, maxTokens: params.maxTokens },
        context.signal,
      );
    } catch (error) {
      if (error instanceof LlmRequestError && error.status !== undefined && INPUT_REJECTED_STATUSES.has(error.status)) {
        throw new SkillInputError(this.name, `input ${input.id}: the endpoint rejected the request: ${error.message}`);
      }
      throw error;
    }
    const output: LlmOutput = { text: completion.text, model: completion.model };
    if (completion.usage) {
      output.promptTokens = completion.usage.promptTokens;
      output.completionTokens = completion.usage.completionTokens;
    }
    return output;
  }

  combine(outputs: readonly BranchOutput[]): SkillOutput {
    const texts = outputs.map((branch) => ({
      inputId: branch.inputId,
      text: new OutputReader(this.name, branch).string('text'),
    }));
    const result: CombinedLlmOutput = { outputs: texts, text: texts.map((t) => t.text).join('\n\n') };
    return result;
  }
}

/**
 * The LLM skill configured from `LLM_BASE_URL`, `LLM_MODEL` and `LLM_API_KEY`, or undefined
 * when `LLM_BASE_URL` is unset or blank. Throws when the base URL is set without a model or
 * is not a valid http(s) URL.
 */
export function createLlmSkillFromEnv(env: Readonly<Record<string, string | undefined>>): LlmSkill | undefined {
  const baseUrl = env['LLM_BASE_URL']?.trim();
  if (!baseUrl) return undefined;
  const model = env['LLM_MODEL']?.trim();
  if (!model) throw new Error('LLM_MODEL must be set when LLM_BASE_URL is set');
  const apiKey = env['LLM_API_KEY']?.trim() || undefined;
  try {
    return new LlmSkill({ baseUrl, model, apiKey });
  } catch (error) {
    throw new Error(`LLM_BASE_URL: ${error instanceof Error ? error.message : String(error)}`);
  }
}
