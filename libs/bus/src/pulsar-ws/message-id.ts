/**
 * Pulsar's WebSocket API gives message ids as base64 of the MessageIdData protobuf
 * (1: ledgerId, 2: entryId, 3: partition, 4: batch_index, ...). The driver reads the position
 * to order ids and to start a reader just before a given message (an inclusive start, which
 * the WebSocket reader cannot ask for).
 */
export interface MessagePosition {
  readonly ledgerId: bigint;
  readonly entryId: bigint;
  readonly batchIndex: bigint;
}

function readVarint(bytes: Buffer, offset: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = offset; i < bytes.length; i++) {
    const byte = bytes[i];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw new Error('truncated varint in message id');
}

function writeVarint(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

export function decodeMessageId(messageId: string): MessagePosition {
  const bytes = Buffer.from(messageId, 'base64');
  let ledgerId = -1n;
  let entryId = -1n;
  let batchIndex = -1n;
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, next] = readVarint(bytes, offset);
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    offset = next;
    if (wireType === 0) {
      const [value, after] = readVarint(bytes, offset);
      offset = after;
      if (field === 1) ledgerId = value;
      else if (field === 2) entryId = value;
      else if (field === 4) batchIndex = value;
    } else if (wireType === 2) {
      const [length, after] = readVarint(bytes, offset);
      offset = after + Number(length);
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType} in message id ${messageId}`);
    }
  }
  if (ledgerId < 0n || entryId < 0n) throw new Error(`not a Pulsar message id: ${messageId}`);
  return { ledgerId, entryId, batchIndex };
}

/** An id for (ledger, entry): enough for a reader's start position. */
export function encodeMessageId(ledgerId: bigint, entryId: bigint): string {
  return Buffer.from([0x08, ...writeVarint(ledgerId), 0x10, ...writeVarint(entryId)]).toString('base64');
}

export function comparePositions(a: MessagePosition, b: MessagePosition): number {
  if (a.ledgerId !== b.ledgerId) return a.ledgerId < b.ledgerId ? -1 : 1;
  if (a.entryId !== b.entryId) return a.entryId < b.entryId ? -1 : 1;
  if (a.batchIndex !== b.batchIndex) return a.batchIndex < b.batchIndex ? -1 : 1;
  return 0;
}
