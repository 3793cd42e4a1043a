// ReadIndex (Raft thesis §6.4): a leader serves a linearizable read without
// writing the log by recording its commit index, then confirming with a
// heartbeat round that a quorum still follows it.

import { assert } from '../util/assert';
import { bytesKey } from '../util/bytes';
import type { Message } from './types';

export interface ReadIndexStatus {
  /** The request as received; `from` is None or the leader for a local request. */
  req: Message;
  /** The leader's commit index when the request arrived. */
  index: number;
  /** Nodes that acknowledged a heartbeat carrying this request's context. */
  acks: Set<number>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Contexts in arrival order; a confirmation of one confirms all before it. */
  private queue: string[] = [];

  addRequest(index: number, req: Message): void {
    const ctx = requestContext(req);
    if (this.pending.has(ctx)) return;
    this.pending.set(ctx, { req, index, acks: new Set() });
    this.queue.push(ctx);
  }

  /** Records a heartbeat ack for the context; returns the acks so far (undefined if unknown). */
  recvAck(id: number, context: Uint8Array): Set<number> | undefined {
    const status = this.pending.get(bytesKey(context));
    if (status === undefined) return undefined;
    status.acks.add(id);
    return status.acks;
  }

  /** Dequeues every request up to and including the one whose context was confirmed. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const ctx = bytesKey(context);
    const at = this.queue.indexOf(ctx);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1).map((c) => {
      const status = this.pending.get(c);
      assert(status !== undefined, 'read index queue and pending map disagree');
      this.pending.delete(c);
      return status;
    });
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** The context of the newest pending request, if any (carried by heartbeats). */
  lastPendingContext(): Uint8Array | undefined {
    const last = this.queue[this.queue.length - 1];
    return last === undefined ? undefined : this.pending.get(last)!.req.entries[0]!.data;
  }
}

export function requestContext(req: Message): string {
  const entry = req.entries[0];
  assert(entry !== undefined, 'read index request without a context entry');
  return bytesKey(entry.data);
}
