// A region on real PeerObjects in workerd: three Durable Objects that tick by
// alarms, talk by RPC and keep their state in SQLite. Every test uses peer
// and region ids of its own, so no two tests share an object.
//
// Timing on a shared machine varies a lot, so waits are bounded polls with
// generous limits: the tests assert what happens, not how fast.

import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { RegionMeta } from '../../src/store/region';
import type { RegionError } from '../../src/store/requests';
import { fromUtf8, utf8 } from '../../src/util/bytes';
import {
  RegionClient,
  appliedIndex,
  bootstrapRegion,
  describeStatuses,
  errorText,
  header,
  makeRegion,
  peerStub,
  rawRows,
  regionErrorOf,
  setFaults,
  statuses,
  waitFor,
  waitForApplied,
  waitForLeader,
  waitForRows,
  withTimeout,
  quiesceAfterEach,
} from './region-helpers';

const started = quiesceAfterEach();

/** Peer ids base+1..base+3; the test's region id is `base`. */
function ids(base: number): number[] {
  const peers = [base + 1, base + 2, base + 3];
  started.push(...peers);
  return peers;
}

/** Bootstraps a 3-peer region over all keys and waits for its first leader. */
async function startRegion(base: number): Promise<{ region: RegionMeta; peers: number[]; leader: number }> {
  const peers = ids(base);
  const region = makeRegion(base, peers);
  await bootstrapRegion(region);
  const leader = await waitForLeader(peers);
  return { region, peers, leader };
}

function storeOf(region: RegionMeta, peerId: number): number {
  const p = region.peers.find((q) => q.id === peerId);
  if (p === undefined) throw new Error(`peer ${peerId} is not in region ${region.id}`);
  return p.storeId;
}

function expectRegionError(error: RegionError | undefined, type: RegionError['type']): RegionError {
  expect(error?.type, `expected ${type}, got ${JSON.stringify(error)}`).toBe(type);
  return error!;
}

describe('a region of three PeerObjects', () => {
  it('elects exactly one leader through alarms alone', async () => {
    const { region, peers, leader } = await startRegion(1000);
    expect(peers).toContain(leader);
    const before = await statuses(peers);
    // Bootstrapping again is a no-op: same region, no step back in term or log.
    await bootstrapRegion(makeRegion(1000, peers));
    const after = await statuses(peers);
    for (const id of peers) {
      const [b, a] = [before.get(id), after.get(id)];
      if (b instanceof Error || a instanceof Error || b === undefined || a === undefined) {
        throw new Error(`peer ${id} did not answer: ${describeStatuses(after)}`);
      }
      expect(a.peerId).toBe(id);
      expect(a.region).toEqual(region);
      expect(a.term).toBeGreaterThanOrEqual(b.term);
      expect(a.appliedIndex).toBeGreaterThanOrEqual(b.appliedIndex);
    }
  }, 30_000);

  it('replicates a put to every peer and reads it back from the leader', async () => {
    const { region, peers, leader } = await startRegion(2000);
    const stub = peerStub(leader);
    const put = await stub.write(header(region, leader), [
      { type: 'RawPut', key: utf8('alpha'), value: utf8('one') },
      { type: 'RawPut', key: utf8('beta'), value: utf8('two') },
    ]);
    expect(put).toEqual({ ok: true, value: { type: 'Written' } });

    // Every peer applies the entry and holds the keys in its own SQLite.
    const index = await appliedIndex(leader);
    await waitForApplied(peers, index);
    for (const id of peers) {
      expect(Object.fromEntries(await rawRows(id)), `peer ${id}'s kv table`).toEqual({ alpha: 'one', beta: 'two' });
    }

    const got = await stub.read(header(region, leader), { type: 'RawGet', key: utf8('alpha') });
    expect(got.ok && got.value.type === 'RawGet' && got.value.value !== undefined).toBe(true);
    if (got.ok && got.value.type === 'RawGet') expect(fromUtf8(got.value.value!)).toBe('one');
    const absent = await stub.read(header(region, leader), { type: 'RawGet', key: utf8('gamma') });
    expect(absent).toEqual({ ok: true, value: { type: 'RawGet', value: undefined } });
    const scan = await stub.read(header(region, leader), {
      type: 'RawScan',
      start: utf8(''),
      end: utf8(''),
      limit: 10,
    });
    expect(scan.ok && scan.value.type === 'RawScan' ? scan.value.pairs.map((p) => fromUtf8(p.key)) : scan).toEqual([
      'alpha',
      'beta',
    ]);

    // A delete replicates too.
    expect((await stub.write(header(region, leader), [{ type: 'RawDelete', key: utf8('beta') }])).ok).toBe(true);
    await waitForApplied(peers, await appliedIndex(leader));
    for (const id of peers) expect([...(await rawRows(id)).keys()], `peer ${id}`).toEqual(['alpha']);
  }, 30_000);

  it('answers NotLeader with the leader hint on a follower, and EpochNotMatch for a stale epoch', async () => {
    const { region, peers, leader } = await startRegion(2100);
    const follower = peers.find((id) => id !== leader)!;
    const leaderMeta = region.peers.find((p) => p.id === leader);

    const write = await peerStub(follower).write(header(region, follower), [
      { type: 'RawPut', key: utf8('k'), value: utf8('v') },
    ]);
    expect(expectRegionError(regionErrorOf(write), 'NotLeader')).toEqual({
      type: 'NotLeader',
      regionId: region.id,
      leader: leaderMeta,
    });
    const read = await peerStub(follower).read(header(region, follower), { type: 'RawGet', key: utf8('k') });
    expect(expectRegionError(regionErrorOf(read), 'NotLeader')).toMatchObject({ leader: leaderMeta });

    // Version 0 predates the region's version 1: the caller's view is stale.
    const stale = { ...header(region, leader), epoch: { version: 0, confVer: 1 } };
    const staleWrite = await peerStub(leader).write(stale, [{ type: 'RawPut', key: utf8('k'), value: utf8('v') }]);
    expect(expectRegionError(regionErrorOf(staleWrite), 'EpochNotMatch')).toEqual({
      type: 'EpochNotMatch',
      currentRegions: [region],
    });
    const staleRead = await peerStub(leader).read(stale, { type: 'RawGet', key: utf8('k') });
    expectRegionError(regionErrorOf(staleRead), 'EpochNotMatch');

    // A request for another region, or for another peer of this object, finds no region here.
    const wrongRegion = await peerStub(leader).write({ ...header(region, leader), regionId: region.id + 1 }, [
      { type: 'RawPut', key: utf8('k'), value: utf8('v') },
    ]);
    expectRegionError(regionErrorOf(wrongRegion), 'RegionNotFound');

    // None of it was written anywhere.
    for (const id of peers) expect((await rawRows(id)).size, `peer ${id}`).toBe(0);
  }, 30_000);

  it('answers KeyNotInRegion for a key outside a bounded region', async () => {
    const peers = ids(3000);
    const region = makeRegion(3000, peers, 'b', 'm');
    await bootstrapRegion(region);
    const leader = await waitForLeader(peers);
    const stub = peerStub(leader);
    const h = header(region, leader);

    for (const key of ['a', 'm', 'z']) {
      const put = await stub.write(h, [{ type: 'RawPut', key: utf8(key), value: utf8('v') }]);
      expect(expectRegionError(regionErrorOf(put), 'KeyNotInRegion')).toEqual({
        type: 'KeyNotInRegion',
        key: utf8(key),
        region,
      });
    }
    // One key outside makes the whole batch fail; nothing of it is written.
    const mixed = await stub.write(h, [
      { type: 'RawPut', key: utf8('c'), value: utf8('v') },
      { type: 'RawPut', key: utf8('x'), value: utf8('v') },
    ]);
    expectRegionError(regionErrorOf(mixed), 'KeyNotInRegion');
    const outsideRead = await stub.read(h, { type: 'RawGet', key: utf8('a') });
    expectRegionError(regionErrorOf(outsideRead), 'KeyNotInRegion');

    // The bounds themselves: start is inclusive, end exclusive.
    expect((await stub.write(h, [{ type: 'RawPut', key: utf8('b'), value: utf8('first') }])).ok).toBe(true);
    expect((await stub.write(h, [{ type: 'RawPut', key: utf8('lzz'), value: utf8('last') }])).ok).toBe(true);
    await waitForApplied(peers, await appliedIndex(leader));
    for (const id of peers) {
      expect(Object.fromEntries(await rawRows(id)), `peer ${id}`).toEqual({ b: 'first', lzz: 'last' });
    }
  }, 30_000);
});

describe('the leader object is reset during a stream of writes', () => {
  it('elects a new leader, loses no acknowledged write, and the old peer catches up', async () => {
    const { region, peers, leader: oldLeader } = await startRegion(4000);
    const oldTerm = (await peerStub(oldLeader).status()).term;

    const total = 60;
    const abortAfterAcks = 15;
    const acked = new Map<string, string>();
    const failed: string[] = [];
    let issued = 0;
    let abortDone: Promise<string> | undefined;
    let ackedBeforeAbort = 0;

    // Four clients write fresh keys concurrently; each follows hints and retries.
    const clients = [0, 1, 2, 3].map(() => new RegionClient(region, oldLeader, { deadlineMs: 45_000 }));
    const streams = clients.map(async (client) => {
      while (issued < total) {
        const seq = issued++;
        const key = `key-${String(seq).padStart(3, '0')}`;
        const value = `value-${seq}`;
        try {
          const result = await client.put(key, value);
          if (result.ok) acked.set(key, value);
          else failed.push(`${key}: ${JSON.stringify(result.error)}`);
        } catch (e) {
          failed.push(`${key}: ${errorText(e)}`);
        }
        if (abortDone === undefined && acked.size >= abortAfterAcks) {
          ackedBeforeAbort = acked.size;
          // Memory gone, storage kept; the calls in flight on it reject.
          abortDone = runInDurableObject(peerStub(oldLeader), (_instance, state) => {
            state.abort('test: reset the leader');
          }).then(
            () => 'returned',
            (e: unknown) => `rejected with ${errorText(e)}`,
          );
        }
      }
    });
    await Promise.all(streams);
    expect(abortDone, 'the stream never reached the abort point').toBeDefined();
    const abortOutcome = await abortDone!;

    const stats = clients.map((c) => c.stats);
    console.log(
      `abort stream: ${acked.size}/${total} acknowledged (${ackedBeforeAbort} before the reset); ` +
        `abort ${abortOutcome}; client stats ${JSON.stringify(stats)}`,
    );
    expect(failed, 'writes that never succeeded').toEqual([]);
    expect(acked.size).toBe(total);
    // The reset was felt: some call to the old leader failed or was redirected.
    const disturbed = stats.reduce((n, s) => n + s.thrown + s.timedOut + s.notLeader + s.staleCommand, 0);
    expect(disturbed).toBeGreaterThan(0);

    // A leader of a later term, which every peer (the reset one too) follows.
    // Usually another peer; the reset one may win again (its log is complete,
    // and it times out like the rest), so the term is what proves the change.
    const newLeader = await waitForLeader(peers);
    const leaderStatus = await peerStub(newLeader).status();
    expect(leaderStatus.term).toBeGreaterThan(oldTerm);
    console.log(`abort: leader ${oldLeader} (term ${oldTerm}) -> ${newLeader} (term ${leaderStatus.term})`);

    // Every acknowledged write is readable from the leader (ReadIndex reads).
    const reader = new RegionClient(region, newLeader);
    for (const [key, value] of acked) expect(await reader.get(key), key).toBe(value);

    // The reset peer came back from its storage and caught up.
    const target = await appliedIndex(newLeader);
    await waitForApplied(peers, target);
    for (const id of peers) await waitForRows(id, acked);
    const rows = await rawRows(oldLeader);
    expect(rows.size).toBe(acked.size);
  }, 80_000);

  it('comes back from storage alone when all three objects are evicted at once', async () => {
    const { region, peers, leader } = await startRegion(4100);
    const client = new RegionClient(region, leader);
    expect((await client.put('kept', 'yes')).ok).toBe(true);
    const before = await statuses(peers);
    // Memory gone, storage kept, for every peer. The polls below wake them
    // too, so this checks recovery from storage, not that alarms alone do it
    // (they do: left untouched, evicted peers re-elect on their own alarms).
    await Promise.all(peers.map((id) => evictDurableObject(peerStub(id))));
    const newLeader = await waitForLeader(peers);
    const after = await peerStub(newLeader).status();
    const oldTerm = before.get(leader);
    if (oldTerm === undefined || oldTerm instanceof Error) throw new Error('no status from the first leader');
    expect(after.term).toBeGreaterThan(oldTerm.term);
    expect(await new RegionClient(region, newLeader).get('kept')).toBe('yes');
  }, 40_000);
});

describe('fault injection (FAULT_INJECTION=on in the test project only)', () => {
  it('commits writes while every peer drops 30% of its messages, and converges once faults clear', async () => {
    const { region, peers, leader } = await startRegion(5000);
    await setFaults(peers, { dropRate: 0.3 });
    const client = new RegionClient(region, leader, { attemptTimeoutMs: 3_000, deadlineMs: 30_000 });
    const written = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const key = `lossy-${String(i).padStart(2, '0')}`;
      const result = await client.put(key, `v${i}`);
      expect(result.ok, `${key}: ${JSON.stringify(result)}`).toBe(true);
      written.set(key, `v${i}`);
    }
    console.log(`dropRate 0.3: 20 writes, client stats ${JSON.stringify(client.stats)}`);
    for (const [key, value] of written) expect(await client.get(key), key).toBe(value);

    await setFaults(peers, {});
    const finalLeader = await waitForLeader(peers);
    await waitForApplied(peers, await appliedIndex(finalLeader));
    for (const id of peers) await waitForRows(id, written);
  }, 80_000);

  it('a partitioned leader loses its place to the majority, which serves; healed, it catches up', async () => {
    const { region, peers, leader: oldLeader } = await startRegion(6000);
    const client = new RegionClient(region, oldLeader);
    const before = new Map([
      ['before-1', 'a'],
      ['before-2', 'b'],
    ]);
    for (const [k, v] of before) expect((await client.put(k, v)).ok).toBe(true);
    await waitForApplied(peers, await appliedIndex(oldLeader));

    // Cut the leader's store off from the other two, in both directions.
    const others = peers.filter((id) => id !== oldLeader);
    const cut = { partition: [[storeOf(region, oldLeader)], others.map((id) => storeOf(region, id))] };
    await setFaults(peers, cut);
    // Sent before the cut-off leader can know: it takes them, but cannot commit or confirm them.
    const lostWrite = peerStub(oldLeader)
      .write(header(region, oldLeader), [{ type: 'RawPut', key: utf8('lost'), value: utf8('x') }])
      .then((r) => r, (e: unknown) => new Error(errorText(e)));
    const staleRead = peerStub(oldLeader)
      .read(header(region, oldLeader), { type: 'RawGet', key: utf8('before-1') })
      .then((r) => r, (e: unknown) => new Error(errorText(e)));

    const newLeader = await waitForLeader(others);
    expect(newLeader).not.toBe(oldLeader);
    // Check-quorum: the cut-off leader notices it hears from no majority and steps down.
    await waitFor(
      `peer ${oldLeader} to step down`,
      async () => ((await peerStub(oldLeader).status()).isLeader ? undefined : true),
      () => 'still leader',
    );
    // Its unconfirmed read is refused when it steps down, never served from a deposed leader.
    const read = await staleRead;
    if (read instanceof Error) throw read;
    expectRegionError(regionErrorOf(read), 'NotLeader');

    const majority = new RegionClient(region, newLeader);
    const during = new Map<string, string>();
    for (let i = 0; i < 5; i++) {
      const key = `during-${i}`;
      expect((await majority.put(key, `d${i}`)).ok, key).toBe(true);
      during.set(key, `d${i}`);
    }
    for (const [k, v] of [...before, ...during]) expect(await majority.get(k), k).toBe(v);

    // The minority saw none of it and serves nothing.
    const minorityRows = await rawRows(oldLeader);
    for (const k of during.keys()) expect(minorityRows.has(k), `${k} on the cut-off peer`).toBe(false);
    const refused = await peerStub(oldLeader).write(header(region, oldLeader), [
      { type: 'RawPut', key: utf8('minority'), value: utf8('x') },
    ]);
    expectRegionError(regionErrorOf(refused), 'NotLeader');

    // Heal: one leader for all three, never the peer whose log is behind.
    await setFaults(peers, {});
    const healedLeader = await waitForLeader(peers);
    expect(healedLeader).not.toBe(oldLeader);
    await waitForApplied(peers, await appliedIndex(healedLeader));
    const everything = new Map([...before, ...during]);
    for (const id of peers) await waitForRows(id, everything);
    // The cut-off leader's entry was overwritten by the new term: its caller
    // hears StaleCommand, and no peer holds the key.
    const lost = await withTimeout(lostWrite, 15_000, 'the write taken by the cut-off leader');
    if (lost instanceof Error) throw lost;
    expectRegionError(regionErrorOf(lost), 'StaleCommand');
    for (const id of peers) {
      const rows = await rawRows(id);
      expect(rows.has('lost') || rows.has('minority'), `peer ${id} holds a write the majority never took`).toBe(false);
    }
  }, 80_000);
});
