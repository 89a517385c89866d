import type { Socket } from 'node:net';
import WebSocket from 'ws';

export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 5000 };

/** What every connection of a session sends and trusts. */
export interface WsTarget {
  /** Sent with the upgrade request (the token: `Authorization: Bearer …`). */
  readonly headers: Record<string, string>;
  /** PEM of the CA that signed the broker's certificate (wss:// with a private CA). */
  readonly ca?: Buffer;
}

/** What a refusal means to whoever reads the error (the broker's own page says little). */
function refusalHint(status: number): string {
  if (status === 401) return ' (authentication failed: set PULSAR_TOKEN or PULSAR_TOKEN_FILE to a valid token)';
  if (status === 403)
    return " (the token's role has no permission on this topic: grant it produce/consume on the namespace)";
  return '';
}

/** The broker refused the WebSocket upgrade (e.g. 409 for a busy Exclusive subscription). */
export class UpgradeRefusedError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(
      `Pulsar refused ${url}: HTTP ${status}${refusalHint(status)}${
        body
          ? ` ${body
              .replace(/<[^>]+>/g, ' ')
              .replace(/\s+/g, ' ')
              .trim()
              .slice(0, 300)}`
          : ''
      }`,
    );
    this.name = 'UpgradeRefusedError';
  }
}

export interface WsSessionHandlers {
  /** Every (re)connection: resend what the broker has not confirmed. */
  readonly onOpen: (reconnected: boolean) => void;
  readonly onMessage: (data: string) => void;
  /** The connection dropped; a reconnect follows unless the session is closed. */
  readonly onDrop?: (reason: string) => void;
}

/**
 * The masking key of every frame this client sends: zero, so `ws` writes a frame's text as it
 * is instead of copying it into a buffer and XOR-ing every byte (in JavaScript: Node has no
 * native mask). Masking exists so a browser page cannot make a client send bytes an
 * intermediary might mistake for HTTP (RFC 6455 §10.3); an agent only sends the frames it built
 * itself to its own broker, and the broker unmasks a zero key like any other.
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * One WebSocket to the broker that comes back after the broker goes away: reconnects with
 * exponential backoff until closed. The first connection's failure is reported to the caller
 * (so a wrong URL or a refused subscription fails fast); later drops are retried.
 *
 * Frames sent during one event-loop turn leave together: the first send of a turn corks the
 * TCP socket, and it is uncorked once the turn's callback, its promise continuations and ticks
 * have run (see `startTurn`). A write to a loopback socket costs more than building a frame, and
 * the broker's WebSocket proxy pays per read too, so under load the acks and publishes of one
 * turn go in one write; nothing waits for a later turn. When the session's previous turn sent a
 * single frame, a lone frame does not wait for whatever else the turn runs (e.g. the next event
 * that a handler's result set off): it leaves once the microtasks already queued when it was
 * sent have run. Frames sent by those microtasks — the other messages of the same socket read,
 * handled side by side — leave with it in one write; frames sent after it leave at the end of
 * the turn.
 */
export class WsSession {
  private socket?: WebSocket;
  /** The TCP connection under `socket`, known once the upgrade succeeded. */
  private connection?: Socket;
  /** The connection corked for the current turn's frames, until `flush`. */
  private corked?: Socket;
  /** A frame was sent in the current turn: its end (`endTurn`) is scheduled. */
  private inTurn = false;
  /** Frames sent in the current turn. */
  private framesThisTurn = 0;
  /** The last turn sent several frames: the next turn's first frame waits for its others. */
  private lastTurnBusy = false;
  private closed = false;
  private attempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private everOpen = false;

  constructor(
    /** A function for URLs that change between reconnects (a reader resumes after its last message). */
    private readonly target: string | (() => string),
    private readonly wsTarget: WsTarget,
    private readonly handlers: WsSessionHandlers,
    private readonly reconnect: ReconnectPolicy = DEFAULT_RECONNECT,
  ) {}

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Resolves on the first open; rejects if that first attempt fails. */
  open(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connect(resolve, reject, timeoutMs);
    });
  }

  /** Sends a frame now or with the rest of this turn's (see the class comment); false when the socket is not open (the caller keeps it). */
  send(frame: string): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    if (!this.inTurn) this.startTurn();
    this.cork();
    this.framesThisTurn++;
    socket.send(frame);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.flush(); // frames sent before close() leave ahead of the close frame, not after a tick
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else socket.close();
    });
  }

  /**
   * The first send of a turn schedules its end: a microtask that queues a tick, because Node
   * runs ticks after the whole microtask queue has drained, so sends from the promise
   * continuations of this turn (a listener's ack after its awaits) are still in the same write,
   * while a plain nextTick would run before them. (A tick scheduled by one of those
   * continuations runs after the end and starts a second write.) After a turn of one frame, a
   * microtask queued now releases the frame early if it is still alone by then (`releaseLone`).
   */
  private startTurn(): void {
    this.inTurn = true;
    if (!this.lastTurnBusy) queueMicrotask(() => this.releaseLone());
    queueMicrotask(() => process.nextTick(() => this.endTurn()));
  }

  /** Corks the connection for this turn's frames; a connection replaced by a reconnect within the turn is flushed at once. */
  private cork(): void {
    const connection = this.connection;
    if (!connection || this.corked === connection) return;
    this.flush();
    connection.cork();
    this.corked = connection;
  }

  /**
   * A turn's first frame that no other frame joined while the microtasks queued before it ran
   * leaves now rather than at the end of the turn (a handler's ack does not wait for the work
   * its event set off); frames sent later in the turn wait for its end.
   */
  private releaseLone(): void {
    if (this.framesThisTurn === 1) this.flush();
  }

  private endTurn(): void {
    this.inTurn = false;
    this.lastTurnBusy = this.framesThisTurn > 1;
    this.framesThisTurn = 0;
    this.flush();
  }

  /** Writes what the turn queued (one writev); harmless on a connection already destroyed. */
  private flush(): void {
    const corked = this.corked;
    if (!corked) return;
    this.corked = undefined;
    corked.uncork();
  }

  private get url(): string {
    return typeof this.target === 'string' ? this.target : this.target();
  }

  private connect(onFirstOpen?: () => void, onFirstError?: (error: Error) => void, timeoutMs = 10_000): void {
    if (this.closed) return;
    // No per-message deflate: mesh frames are ~1 KB of JSON on loopback or a LAN, where
    // compressing them costs more CPU and latency than it saves.
    const socket = new WebSocket(this.url, {
      headers: this.wsTarget.headers,
      ...(this.wsTarget.ca ? { ca: this.wsTarget.ca } : {}),
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
      generateMask: zeroMask,
    });
    this.socket = socket;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      if (!this.everOpen && onFirstError) {
        this.closed = true;
        socket.terminate();
        onFirstError(error);
      }
    };
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      // With this listener, ws leaves the socket CONNECTING: terminate it so 'close' fires and a
      // reconnect follows (a broker starting or stopping answers 503 for a moment).
      const refused = () => {
        fail(new UpgradeRefusedError(this.url, response.statusCode ?? 0, body));
        if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      };
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', refused);
      response.on('error', refused);
    });
    // The TCP socket ws writes frames to after the upgrade: corked per turn by coalesce().
    socket.on('upgrade', (response) => {
      if (this.socket === socket) this.connection = response.socket;
    });
    socket.on('open', () => {
      settled = true;
      const reconnected = this.everOpen;
      this.everOpen = true;
      this.attempt = 0;
      this.handlers.onOpen(reconnected);
      onFirstOpen?.();
    });
    socket.on('message', (data: WebSocket.RawData) => this.handlers.onMessage(data.toString()));
    socket.on('error', (error: Error) => fail(new Error(`Pulsar WebSocket ${this.url}: ${error.message}`)));
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.socket !== socket) return;
      this.flush();
      this.connection = undefined;
      if (!this.everOpen && !settled) fail(new Error(`Pulsar WebSocket ${this.url} closed (${code})`));
      if (this.closed) return;
      this.handlers.onDrop?.(`closed with ${code} ${reason.toString()}`.trim());
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.closed || !this.everOpen) return;
    const delay = Math.min(this.reconnect.maxDelayMs, this.reconnect.initialDelayMs * 2 ** this.attempt++);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }
}
