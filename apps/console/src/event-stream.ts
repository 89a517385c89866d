import { createParser } from 'eventsource-parser';
import { authHeaders, type ConsoleEvent } from './api';

export type StreamState = 'connecting' | 'live' | 'unauthorized' | 'reconnecting';

/** Wait before connecting again after the stream ended or failed. */
const RECONNECT_MS = 2_000;

/**
 * Follows `GET /console/events` (Server-Sent Events). Read with fetch, not EventSource: EventSource
 * cannot send the `Authorization` header the API key travels in. Reconnects until `stop()`.
 */
export function followEvents(
  onEvent: (event: ConsoleEvent) => void,
  onState: (state: StreamState) => void,
): () => void {
  const controller = new AbortController();
  let stopped = false;

  const connect = async (): Promise<void> => {
    while (!stopped) {
      try {
        const response = await fetch('/console/events', {
          headers: { accept: 'text/event-stream', ...authHeaders() },
          signal: controller.signal,
        });
        if (response.status === 401) {
          onState('unauthorized');
          return; // a new key restarts the stream
        }
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        await readEvents(response.body, (event) => {
          if (event.kind === 'ready') onState('live');
          onEvent(event);
        });
      } catch {
        if (stopped) return;
      }
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  };
  onState('connecting');
  void connect();
  return () => {
    stopped = true;
    controller.abort();
  };
}

/** Reads the text/event-stream body with eventsource-parser; `ping` keep-alives and unparseable data are skipped. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: ConsoleEvent) => void): Promise<void> {
  const parser = createParser({
    onEvent: ({ event, data }) => {
      const kind = event ?? 'message';
      if (kind === 'ping' || data.length === 0) return;
      try {
        onEvent({ kind, ...(JSON.parse(data) as object) } as ConsoleEvent);
      } catch {
        // not JSON: not one of ours
      }
    },
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.feed(decoder.decode(value, { stream: true }));
  }
}
