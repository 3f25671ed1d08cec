package dev.jdm.fuse;

import dev.jdm.kernel.MappedDevice;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The mount's directory: one node per device, by name and by node id. The data path finds a node
 * by id in an array, without locks or allocation; names change under a lock, on the control path
 * and in LOOKUP / FORGET.
 *
 * <p>A node stays reachable by id after its device is removed until the kernel forgot every
 * lookup of it (files may still be open); then its slot is reused, with a new generation so that
 * the kernel never mixes the two up.
 */
final class DeviceTree {
  /** The root directory's node id. */
  static final long ROOT = 1;

  /** A device shown as a file. {@code lookups} and {@code removed} are guarded by the tree. */
  static final class Node {
    final long id;
    final long generation;
    final String name;
    final byte[] nameBytes;
    final MappedDevice device;
    final long createdSeconds;
    final int createdNanos;
    long lookups;
    volatile boolean removed;

    Node(long id, long generation, String name, MappedDevice device, long nowMillis) {
      this.id = id;
      this.generation = generation;
      this.name = name;
      this.nameBytes = name.getBytes(StandardCharsets.UTF_8);
      this.device = device;
      this.createdSeconds = Math.floorDiv(nowMillis, 1000);
      this.createdNanos = Math.floorMod(nowMillis, 1000) * 1_000_000;
    }
  }

  private final ConcurrentSkipListMap<String, Node> byName = new ConcurrentSkipListMap<>();
  private volatile AtomicReferenceArray<Node> byId = new AtomicReferenceArray<>(16);
  private final ArrayDeque<Integer> freeIds = new ArrayDeque<>();
  private final AtomicLong generations = new AtomicLong(1);
  private int nextId = (int) ROOT + 1;

  /** The node with {@code id}, or null. */
  Node byId(long id) {
    AtomicReferenceArray<Node> table = byId;
    return id > ROOT && id < table.length() ? table.get((int) id) : null;
  }

  /** Adds a node for {@code device}; null when one of that name exists already. */
  synchronized Node add(MappedDevice device) {
    if (byName.containsKey(device.name())) {
      return null;
    }
    int id = freeIds.isEmpty() ? nextId++ : freeIds.pop();
    Node n = new Node(id, generations.getAndIncrement(), device.name(), device,
        System.currentTimeMillis());
    if (id >= byId.length()) {
      AtomicReferenceArray<Node> bigger = new AtomicReferenceArray<>(byId.length() * 2);
      for (int i = 0; i < byId.length(); i++) {
        bigger.set(i, byId.get(i));
      }
      byId = bigger;
    }
    byId.set(id, n);
    byName.put(n.name, n);
    return n;
  }

  /** Removes the node of {@code device}'s name; returns it, or null when there was none. */
  synchronized Node remove(MappedDevice device) {
    Node n = byName.get(device.name());
    if (n == null || n.device != device) {
      return null;
    }
    byName.remove(n.name);
    n.removed = true;
    release(n);
    return n;
  }

  /** Finds {@code name} and counts one kernel lookup of it; null when absent. */
  synchronized Node lookup(String name) {
    Node n = byName.get(name);
    if (n != null) {
      n.lookups++;
    }
    return n;
  }

  /** The kernel dropped {@code count} lookups of node {@code id}. */
  synchronized void forget(long id, long count) {
    Node n = byId(id);
    if (n != null) {
      n.lookups = Math.max(0, n.lookups - count);
      release(n);
    }
  }

  private void release(Node n) {
    if (n.removed && n.lookups == 0 && byId.get((int) n.id) == n) {
      byId.set((int) n.id, null);
      freeIds.push((int) n.id);
    }
  }

  /** The devices now shown, by name. */
  List<Node> list() {
    return List.copyOf(byName.values());
  }
}
