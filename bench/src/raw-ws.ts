/**
 * The framework-free baseline on Pulsar: the `ws` package against the broker's WebSocket API,
 * a producer that waits for receipts and a Shared consumer that acks — nothing else.
 */
import WebSocket from 'ws';

export function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { handshakeTimeout: 5000, perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', (error: Error) => reject(new Error(`${url}: ${error.message}`)));
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`${url}: HTTP ${response.statusCode ?? 0}`));
    });
  });
}

export function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 2000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close();
  });
}

interface Receipt {
  readonly result: string;
  readonly context?: string;
  readonly errorMsg?: string;
}

interface Delivery {
  readonly messageId: string;
  readonly payload: string;
}

/** `persistent/<tenant>/<namespace>/<topic>` of the WebSocket API. */
export function wsTopicPath(tenant: string, namespace: string, topic: string): string {
  return `persistent/${tenant}/${namespace}/${topic}`;
}

export class RawProducer {
  private context = 0;
  private readonly receipts = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: WebSocket.RawData) => {
      const receipt = JSON.parse(data.toString()) as Receipt;
      if (receipt.context === undefined) return;
      const waiter = this.receipts.get(receipt.context);
      if (!waiter) return;
      this.receipts.delete(receipt.context);
      if (receipt.result === 'ok') waiter.resolve();
      else waiter.reject(new Error(`raw publish failed: ${receipt.result} ${receipt.errorMsg ?? ''}`));
    });
  }

  static async open(wsBase: string, path: string): Promise<RawProducer> {
    return new RawProducer(await openSocket(`${wsBase}/producer/${path}`));
  }

  /** Sends `body` (JSON) and resolves on the broker's receipt. */
  send(body: unknown): Promise<void> {
    const context = String(++this.context);
    const payload = Buffer.from(JSON.stringify(body)).toString('base64');
    return new Promise<void>((resolve, reject) => {
      this.receipts.set(context, { resolve, reject });
      this.socket.send(JSON.stringify({ payload, context }));
    });
  }

  close(): Promise<void> {
    return closeSocket(this.socket);
  }
}

export class RawConsumer {
  private constructor(private readonly socket: WebSocket) {}

  /** A Shared consumer; `onMessage` gets each parsed JSON body, the message is acked after it. */
  static async open(
    wsBase: string,
    path: string,
    subscription: string,
    onMessage: (body: unknown) => void,
  ): Promise<RawConsumer> {
    const socket = await openSocket(
      `${wsBase}/consumer/${path}/${subscription}?subscriptionType=Shared&receiverQueueSize=100`,
    );
    socket.on('message', (data: WebSocket.RawData) => {
      const delivery = JSON.parse(data.toString()) as Delivery;
      onMessage(JSON.parse(Buffer.from(delivery.payload, 'base64').toString('utf8')) as unknown);
      socket.send(JSON.stringify({ messageId: delivery.messageId }));
    });
    return new RawConsumer(socket);
  }

  close(): Promise<void> {
    return closeSocket(this.socket);
  }
}
