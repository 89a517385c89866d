/**
 * The operator's LLM settings beside the endpoint: prices (LLM_PRICES) and MCP servers
 * (LLM_MCP_SERVERS). Parsed here, validated at start-up by the runtime's mesh-config, so a bad
 * value stops the process naming the setting.
 */

/** US dollars per million tokens. */
export interface LlmPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
}

/** Model name → price. */
export type LlmPriceTable = Readonly<Record<string, LlmPrice>>;

/** MCP server name → its streamable-HTTP URL. */
export type McpServerTable = Readonly<Record<string, string>>;

/** A server name as specs write it in `tools` (also the prefix of its functions' names). */
export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9_-]{0,30}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isPrice(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * LLM_PRICES: JSON `{"<model>": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}`; unset or blank: no
 * prices. Throws an Error naming LLM_PRICES and what is wrong.
 */
export function parseLlmPrices(raw: string | undefined): LlmPriceTable {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('LLM_PRICES must be JSON: {"<model>": {"inputPerMTok": 0.15, "outputPerMTok": 0.6}}');
  }
  if (!isRecord(parsed)) throw new Error('LLM_PRICES must be a JSON object of model → price');
  const table: Record<string, LlmPrice> = {};
  for (const [model, price] of Object.entries(parsed)) {
    if (!isRecord(price) || !isPrice(price['inputPerMTok']) || !isPrice(price['outputPerMTok'])) {
      throw new Error(
        `LLM_PRICES["${model}"] must be {"inputPerMTok": <number >= 0>, "outputPerMTok": <number >= 0>} (got ${JSON.stringify(price)})`,
      );
    }
    table[model] = { inputPerMTok: price['inputPerMTok'] as number, outputPerMTok: price['outputPerMTok'] as number };
  }
  return table;
}

/**
 * LLM_MCP_SERVERS: `name=http://host:port/mcp,name2=...`; unset or blank: none. Throws an Error
 * naming LLM_MCP_SERVERS and the bad entry.
 */
export function parseMcpServers(raw: string | undefined): McpServerTable {
  const table: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const at = entry.indexOf('=');
    const name = entry.slice(0, at).trim();
    const url = entry.slice(at + 1).trim();
    if (at < 0 || !MCP_SERVER_NAME.test(name)) {
      throw new Error(
        `LLM_MCP_SERVERS entries must be name=http(s)://host/path with a name of lower-case letters, digits, _ or - (got ${JSON.stringify(entry.trim())})`,
      );
    }
    if (!/^https?:\/\/[^/\s]+/.test(url)) {
      throw new Error(`LLM_MCP_SERVERS: server ${name} needs an http(s) URL (got ${JSON.stringify(url)})`);
    }
    if (table[name] !== undefined) throw new Error(`LLM_MCP_SERVERS names server ${name} twice`);
    table[name] = url;
  }
  return table;
}

/** What a call cost in US dollars (to 12 significant digits), or undefined when the model has no price. */
export function costUsd(
  prices: LlmPriceTable,
  model: string,
  promptTokens: number,
  completionTokens: number,
): number | undefined {
  const price = Object.hasOwn(prices, model) ? prices[model] : undefined;
  if (price === undefined) return undefined;
  const cost = (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1_000_000;
  return Number(cost.toPrecision(12));
}
