import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { peerStorageSuite } from '../../shared/peer-storage-suite';

// The memory storage is its own disk (the simulator keeps it across a
// simulated crash), so there is no second object to reopen it with.
peerStorageSuite('MemoryPeerStorage', async (body) => body(new MemoryPeerStorage(), () => {
  throw new Error('MemoryPeerStorage has no underlying store to reopen');
}), { reopen: false });
