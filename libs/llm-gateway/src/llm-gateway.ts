import type { LlmClient } from '@agent-mesh/skills';
import type { StateStore } from '@agent-mesh/state';
import { JournaledLlmClient } from './journaled-llm-client';
import { RateLimitedLlmClient, type LlmRateLimits, type RateLimitedLlmClientOptions } from './rate-limited-llm-client';

export interface LlmGatewaySettings extends RateLimitedLlmClientOptions {
  readonly limits: LlmRateLimits;
  /** LLM_JOURNAL_TTL_S. */
  readonly journalTtlSeconds: number;
}

/**
 * The client a worker's LLM skill calls through: the journal outside (a journaled answer costs no
 * request, token or slot), the shared rate limits inside it, the endpoint's own client innermost
 * (which retries 429 and 5xx, honouring Retry-After).
 */
export function gatewayLlmClient(client: LlmClient, store: StateStore, settings: LlmGatewaySettings): LlmClient {
  const limited = new RateLimitedLlmClient(client, store, settings.limits, settings);
  return new JournaledLlmClient(limited, store, settings.journalTtlSeconds);
}
