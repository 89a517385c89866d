import type { MessageCounters, TypeCounters } from '@agent-mesh/contracts';
import type { SettledMessage } from '@agent-mesh/nest-pulsar';

type Totals = Omit<TypeCounters, 'type'>;

/**
 * What an agent's heartbeat reports: messages handled (a handler ran and it was acked), failed
 * (a handler threw: retried, nacked or dead-lettered) and dead-lettered (for any reason), in all
 * and per event type, since the process started. Messages no handler of the subscription wanted
 * are acked without counting.
 */
export class AgentCounters {
  private readonly totals: Totals = { handled: 0, failed: 0, deadLettered: 0 };
  private readonly perType = new Map<string, Totals>();

  messageSettled({ type, outcome, handlerSeconds }: SettledMessage): void {
    const handlerRan = handlerSeconds !== undefined;
    const handled = handlerRan && outcome === 'acked' ? 1 : 0;
    const failed = handlerRan && outcome !== 'acked' ? 1 : 0;
    const deadLettered = outcome === 'dead_lettered' ? 1 : 0;
    if (handled + failed + deadLettered === 0) return;
    let forType = this.perType.get(type);
    if (!forType) this.perType.set(type, (forType = { handled: 0, failed: 0, deadLettered: 0 }));
    for (const totals of [this.totals, forType]) {
      totals.handled += handled;
      totals.failed += failed;
      totals.deadLettered += deadLettered;
    }
  }

  counters(inFlight: number): MessageCounters {
    return { ...this.totals, inFlight };
  }

  byType(): TypeCounters[] {
    return [...this.perType]
      .map(([type, totals]) => ({ type, ...totals }))
      .sort((a, b) => a.type.localeCompare(b.type));
  }
}
