import Ajv, { type ValidateFunction } from 'ajv';
import { SkillInputError, type SkillInput } from '../skill';
import type { McpServerTable } from './llm-settings';

export const LLM_SKILL_NAME = 'llm';
export const LLM_MAX_TEMPERATURE = 2;
export const LLM_MAX_TOKENS = 8192;
export const LLM_DEFAULT_MAX_TOOL_ROUNDS = 5;
export const LLM_MAX_TOOL_ROUNDS = 20;

/** A previous round's answer, as solver rounds pass it in `params.peers`. */
export interface PeerAnswer {
  /** The solver that gave it, when its output says so. */
  readonly solver?: number;
  /** Its `answer` (or `text`) as the prompt shows it. */
  readonly answer: string;
}

export interface LlmParams {
  /** System message, e.g. "Summarize in one sentence". */
  readonly instruction: string;
  /** The user message as a template over the input (prompt-template.ts); default: the text. */
  readonly prompt?: string;
  readonly temperature?: number;
  readonly maxTokens?: number;
  /** The JSON schema the answer must conform to, compiled. */
  readonly schema?: { readonly json: Record<string, unknown>; readonly validate: ValidateFunction };
  /** The MCP servers whose tools the model may call, in the spec's order. */
  readonly tools: readonly (readonly [string, string])[];
  readonly maxToolRounds: number;
  /** Solver rounds: the round (from 1), this solver's index and the previous round's answers. */
  readonly round?: number;
  readonly solver?: number;
  readonly peers?: readonly PeerAnswer[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isInteger(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

const ajv = new Ajv({ allErrors: true, strict: false });
/** Compiled schemas by their JSON: a fan-out's branches share one schema; bounded, cleared when full. */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 200;

function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  const cached = compiled.get(key);
  if (cached) return cached;
  // Compiled without a $id so the same schema can be compiled again after the cache is cleared.
  const { $id: _ignored, ...withoutId } = schema;
  const validate = ajv.compile(withoutId);
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, validate);
  return validate;
}

/** The params of one input, or SkillInputError naming what is wrong. */
export function parseLlmParams(input: SkillInput, servers: McpServerTable = {}): LlmParams {
  const fail = (message: string): never => {
    throw new SkillInputError(LLM_SKILL_NAME, `input ${input.id}: ${message}`);
  };
  const params: unknown = input.params;
  if (params === undefined || params === null) return fail('param "instruction" is required');
  if (!isRecord(params)) return fail('params must be an object');

  const instruction = params['instruction'];
  if (typeof instruction !== 'string' || instruction.trim() === '') {
    return fail(`param "instruction" must be a non-empty string, got ${JSON.stringify(instruction) ?? 'undefined'}`);
  }
  const prompt = params['prompt'];
  if (prompt !== undefined && (typeof prompt !== 'string' || prompt.trim() === ''))
    return fail(`param "prompt" must be a non-empty string (a template), got ${JSON.stringify(prompt)}`);
  const temperature = params['temperature'];
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
  const maxTokens = params['maxTokens'];
  if (maxTokens !== undefined && !isInteger(maxTokens, 1, LLM_MAX_TOKENS)) {
    return fail(`param "maxTokens" must be an integer from 1 to ${LLM_MAX_TOKENS}, got ${JSON.stringify(maxTokens)}`);
  }
  const maxToolRounds = params['maxToolRounds'] ?? LLM_DEFAULT_MAX_TOOL_ROUNDS;
  if (!isInteger(maxToolRounds, 1, LLM_MAX_TOOL_ROUNDS)) {
    return fail(
      `param "maxToolRounds" must be an integer from 1 to ${LLM_MAX_TOOL_ROUNDS}, got ${JSON.stringify(maxToolRounds)}`,
    );
  }
  const round = params['round'];
  if (round !== undefined && !isInteger(round, 1, 1000))
    return fail(`param "round" must be an integer from 1, got ${JSON.stringify(round)}`);
  const solver = params['solver'];
  if (solver !== undefined && !isInteger(solver, 0, 1000))
    return fail(`param "solver" must be an integer from 0, got ${JSON.stringify(solver)}`);
  return {
    instruction,
    ...(prompt === undefined ? {} : { prompt: prompt as string }),
    ...(temperature === undefined ? {} : { temperature: temperature as number }),
    ...(maxTokens === undefined ? {} : { maxTokens: maxTokens as number }),
    ...(params['schema'] === undefined ? {} : { schema: parseSchema(params['schema'], fail) }),
    tools: parseTools(params['tools'], servers, fail),
    maxToolRounds,
    ...(round === undefined ? {} : { round: round as number }),
    ...(solver === undefined ? {} : { solver: solver as number }),
    ...(params['peers'] === undefined ? {} : { peers: parsePeers(params['peers'], fail) }),
  };
}

function parseSchema(schema: unknown, fail: (message: string) => never): NonNullable<LlmParams['schema']> {
  if (!isRecord(schema)) return fail('param "schema" must be a JSON schema object');
  try {
    return { json: schema, validate: compileSchema(schema) };
  } catch (error) {
    return fail(`param "schema" is not a valid JSON schema: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Server names → their configured URLs; a name the operator did not configure is refused (no URLs from specs). */
function parseTools(
  tools: unknown,
  servers: McpServerTable,
  fail: (message: string) => never,
): (readonly [string, string])[] {
  if (tools === undefined) return [];
  if (!Array.isArray(tools) || tools.some((t) => typeof t !== 'string'))
    return fail('param "tools" must be a list of MCP server names');
  const names = [...new Set(tools as string[])];
  const unknown = names.filter((name) => !Object.hasOwn(servers, name));
  if (unknown.length > 0) {
    const known = Object.keys(servers);
    return fail(
      `param "tools" names MCP servers that are not configured: ${unknown.join(', ')} (LLM_MCP_SERVERS has ${known.length > 0 ? known.join(', ') : 'none'})`,
    );
  }
  return names.map((name) => [name, servers[name]] as const);
}

/** Each previous output's `answer` (JSON unless a string), else its `text`. */
function parsePeers(peers: unknown, fail: (message: string) => never): PeerAnswer[] {
  if (!Array.isArray(peers)) return fail('param "peers" must be a list of previous answers');
  return peers.map((peer: unknown, i) => {
    if (!isRecord(peer)) return fail(`param "peers[${i}]" must be an object (a previous output)`);
    const value = peer['answer'] ?? peer['text'];
    if (value === undefined || value === null) return fail(`param "peers[${i}]" has no "answer" or "text"`);
    const answer = typeof value === 'string' ? value.trim() : JSON.stringify(value);
    return isInteger(peer['solver'], 0, 1000) ? { solver: peer['solver'], answer } : { answer };
  });
}
