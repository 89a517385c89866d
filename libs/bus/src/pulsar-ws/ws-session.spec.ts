import { once } from 'node:events';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { UpgradeRefusedError, WsSession } from './ws-session';

/**
 * WsSession against a real `ws` server on loopback: the client's writes are counted on the real
 * net.Socket (`_write` for one buffered chunk, `_writev` for several — each is one write to the
 * kernel), so "frames of one turn leave in one write" is measured, not assumed.
 */
describe('WsSession frame coalescing', () => {
  let server: WebSocketServer;
  let port: number;
  let received: string[];
  let serverSockets: WebSocket[];
  let sessions: WsSession[];
  let writesToServer: () => number;
  let restoreSpies: () => void;

  beforeEach(async () => {
    received = [];
    serverSockets = [];
    sessions = [];
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (socket) => {
      serverSockets.push(socket);
      socket.on('message', (data: WebSocket.RawData) => received.push(data.toString()));
    });
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;

    const write = jest.spyOn(Socket.prototype, '_write');
    const writev = jest.spyOn(Socket.prototype, '_writev');
    // Only the client's connection writes to the server's port; the server sends nothing here.
    const toServer = (contexts: readonly unknown[]): number =>
      contexts.filter((socket) => socket instanceof Socket && socket.remotePort === port).length;
    writesToServer = () => toServer(write.mock.contexts) + toServer(writev.mock.contexts);
    restoreSpies = () => {
      write.mockRestore();
      writev.mockRestore();
    };
  });

  afterEach(async () => {
    restoreSpies();
    await Promise.all(sessions.map((session) => session.close()));
    for (const socket of serverSockets) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const openSession = async (): Promise<WsSession> => {
    const session = new WsSession(
      `ws://127.0.0.1:${port}`,
      { headers: {} },
      { onOpen: () => undefined, onMessage: () => undefined },
    );
    sessions.push(session);
    const accepted = serverSockets.length;
    await session.open(5000);
    await waitUntil(() => serverSockets.length > accepted, 'the server to accept the connection');
    return session;
  };

  const endOfTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  const waitUntil = async (predicate: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  /** A turn of two frames: the session then coalesces the whole next turn. */
  const busyTurn = async (session: WsSession): Promise<void> => {
    session.send('busy-1');
    session.send('busy-2');
    await endOfTurn();
  };

  // Changed with the lone-frame rule: a turn's first frame after a quiet turn is written at once
  // (before, every turn's frames waited for the end of the turn). Frames still never wait for a
  // later turn, and a busy session still writes a turn's frames in one write.
  it('sends the frames of one turn in one socket write, in order, once the session is busy', async () => {
    const session = await openSession();
    await busyTurn(session);
    const before = writesToServer();
    const frames = Array.from({ length: 50 }, (_, i) => JSON.stringify({ messageId: `id-${i}` }));

    for (const frame of frames) expect(session.send(frame)).toBe(true);
    expect(writesToServer() - before).toBe(0); // held for the rest of the turn
    await endOfTurn();

    expect(writesToServer() - before).toBe(1);
    await waitUntil(() => received.length === frames.length + 2, `${frames.length} frames on the server`);
    expect(received).toEqual(['busy-1', 'busy-2', ...frames]);
  });

  // Changed when the lone frame began to wait for the microtasks queued before it: it used to be
  // written inside send(), so frames sent right after it in the same run (the other messages of
  // one socket read) cost a second write.
  it("writes a lone first frame of a turn early after a quiet turn, and the turn's later frames in one write", async () => {
    const session = await openSession();
    const before = writesToServer();
    const frames = Array.from({ length: 20 }, (_, i) => `f-${i}`);

    session.send(frames[0]);
    await Promise.resolve(); // the microtasks queued before this continuation, the lone frame's release among them
    expect(writesToServer() - before).toBe(1); // a lone frame does not wait for the rest of the turn
    for (const frame of frames.slice(1)) session.send(frame);
    await endOfTurn();
    expect(writesToServer() - before).toBe(2);

    // That turn was busy: the next one's frames all wait for its end, then a quiet turn ...
    session.send('after-busy');
    expect(writesToServer() - before).toBe(2);
    await endOfTurn();
    expect(writesToServer() - before).toBe(3);
    // ... makes the next lone frame leave at once again.
    session.send('lone');
    await Promise.resolve();
    expect(writesToServer() - before).toBe(4);
    await endOfTurn();
    await waitUntil(() => received.length === frames.length + 2, 'every frame on the server');
    expect(received).toEqual([...frames, 'after-busy', 'lone']);
  });

  it("batches sends from the turn's promise continuations (a listener's ack after its awaits) too", async () => {
    const session = await openSession();
    await busyTurn(session);
    const before = writesToServer();
    const sent: string[] = [];
    const send = (frame: string): void => {
      sent.push(frame);
      session.send(frame);
    };

    send('sync');
    process.nextTick(() => send('tick'));
    const listener = async (name: string): Promise<void> => {
      await Promise.resolve();
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      send(name);
    };
    void listener('ack-1');
    void Promise.resolve().then(() => listener('ack-2'));
    await endOfTurn();

    expect(sent).toHaveLength(4);
    expect(writesToServer() - before).toBe(1);
    await waitUntil(() => received.length === sent.length + 2, `${sent.length} frames on the server`);
    expect(received).toEqual(['busy-1', 'busy-2', ...sent]);
  });

  it('does not hold a frame for a later turn: each turn writes its own frames', async () => {
    const session = await openSession();
    const before = writesToServer();

    session.send('first');
    await endOfTurn();
    expect(writesToServer() - before).toBe(1); // written before the next turn starts

    session.send('second');
    session.send('third');
    await endOfTurn();
    expect(writesToServer() - before).toBe(2); // sent side by side after a quiet turn: one write
    session.send('fourth');
    session.send('fifth');
    await endOfTurn();
    expect(writesToServer() - before).toBe(3); // after a busy turn: both at the end of this one
    await waitUntil(() => received.length === 5, '5 frames on the server');
    expect(received).toEqual(['first', 'second', 'third', 'fourth', 'fifth']);
  });

  it('after a quiet turn, sends the frames of handlers run side by side in one write, before the turn ends', async () => {
    const session = await openSession();
    const before = writesToServer();
    // Three messages of one socket read: each handler sends its frame after the same await.
    const handler = async (name: string): Promise<void> => {
      await Promise.resolve();
      session.send(name);
    };
    let afterHandlers = -1;
    void handler('h-1');
    void handler('h-2');
    void handler('h-3');
    await Promise.resolve();
    await Promise.resolve();
    afterHandlers = writesToServer() - before;
    await endOfTurn();

    expect(afterHandlers).toBe(0); // three frames: not a lone one, they wait for the end of the turn ...
    expect(writesToServer() - before).toBe(1); // ... and leave in one write
    await waitUntil(() => received.length === 3, '3 frames on the server');
    expect(received).toEqual(['h-1', 'h-2', 'h-3']);
  });

  it('sends frames queued just before close() ahead of the close frame, and refuses sends after it', async () => {
    const session = await openSession();
    const closedByClient = once(serverSockets[0], 'close');

    expect(session.send('last words')).toBe(true);
    await session.close();
    await closedByClient;

    expect(received).toEqual(['last words']);
    expect(session.send('too late')).toBe(false);
  });

  it('a frame sent when the connection drops mid-turn neither throws nor blocks later sessions', async () => {
    const session = await openSession();
    expect(session.send('before the drop')).toBe(true);
    serverSockets[0].terminate(); // the broker goes away while the frame is corked
    await endOfTurn();
    await waitUntil(() => !session.isOpen, 'the session to see the drop');
    expect(session.send('while down')).toBe(false);

    const other = await openSession();
    expect(other.send('other session')).toBe(true);
    await waitUntil(() => received.includes('other session'), 'the other session’s frame');
  });
});

describe('UpgradeRefusedError', () => {
  it('says what to fix for 401 (no or a bad token) and 403 (a role without permission), and nothing else', () => {
    const url = 'ws://127.0.0.1:8080/ws/v2/producer/persistent/t/ns/x';
    expect(new UpgradeRefusedError(url, 401, '<h1>Unauthorized</h1>').message).toBe(
      `Pulsar refused ${url}: HTTP 401 (authentication failed: set PULSAR_TOKEN or PULSAR_TOKEN_FILE to a valid token) Unauthorized`,
    );
    expect(new UpgradeRefusedError(url, 403, '').message).toMatch(
      /HTTP 403 \(the token's role has no permission on this topic/,
    );
    expect(new UpgradeRefusedError(url, 409, 'busy').message).toBe(`Pulsar refused ${url}: HTTP 409 busy`);
  });
});
