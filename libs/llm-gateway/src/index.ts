/**
 * What stands between a worker's LLM skill and the model endpoint: a journal of completions by
 * call key (a call is paid once across redeliveries, replays and fail-overs) and rate limits
 * shared by every worker process through the StateStore. Start at llm-gateway.ts.
 */
export { gatewayLlmClient, type LlmGatewaySettings } from './llm-gateway';
export { JournaledLlmClient, journalKey, LLM_JOURNAL_DEFAULT_TTL_SECONDS } from './journaled-llm-client';
export {
  estimateTokens,
  LLM_LEASE_MS,
  LLM_RATE_WINDOW_MS,
  RateLimitedLlmClient,
  type LlmRateLimits,
  type RateLimitedLlmClientOptions,
} from './rate-limited-llm-client';
