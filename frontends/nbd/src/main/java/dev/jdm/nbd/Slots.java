package dev.jdm.nbd;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A connection's request slots: at most {@code max-in-flight}, made as needed, taken only by the
 * thread reading requests and given back by whoever is done with one (the reply writer, or the
 * reader for a request that gets no reply). Lock-free; nothing is allocated once all are made.
 */
final class Slots {
  private final Commands commands;
  private final BufferPool pool;
  private final int max;
  private final AtomicReference<RequestSlot> free = new AtomicReference<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private int created;
  private volatile Thread slotWaiter;
  private volatile Thread drainWaiter;
  private volatile boolean closed;

  Slots(Commands commands, BufferPool pool, int max) {
    this.commands = commands;
    this.pool = pool;
    this.max = max;
  }

  /**
   * A free slot for the reader; waits for one when all are in flight and {@code mayWait}, else
   * returns null then (and null once the connection is closed).
   */
  RequestSlot take(boolean mayWait) {
    RequestSlot s = pop();
    if (s == null && created < max) {
      s = new RequestSlot(commands, created++);
    }
    if (s == null && mayWait) {
      slotWaiter = Thread.currentThread();
      while ((s = pop()) == null && !closed) {
        LockSupport.park(this);
      }
      slotWaiter = null;
    }
    if (s != null) {
      inFlight.incrementAndGet();
    }
    return s;
  }

  private RequestSlot pop() {
    RequestSlot t;
    do {
      t = free.get();
      if (t == null) {
        return null;
      }
    } while (!free.compareAndSet(t, t.next));
    t.next = null;
    return t;
  }

  /** Returns a slot whose request is over (answered, or never to be). */
  void giveBack(RequestSlot s) {
    s.recycle(pool);
    RequestSlot t;
    do {
      t = free.get();
      s.next = t;
    } while (!free.compareAndSet(t, s));
    unpark(slotWaiter);
    if (inFlight.decrementAndGet() == 0) {
      unpark(drainWaiter);
    }
  }

  /** Requests read and not yet answered. */
  int inFlight() {
    return inFlight.get();
  }

  /** Waits until every request read has been answered. */
  void awaitDrained() {
    drainWaiter = Thread.currentThread();
    while (inFlight.get() > 0) {
      LockSupport.parkNanos(this, 10_000_000L);
    }
    drainWaiter = null;
  }

  /** The connection is closing: a reader waiting for a slot gives up. */
  void close() {
    closed = true;
    unpark(slotWaiter);
  }

  private static void unpark(Thread t) {
    if (t != null) {
      LockSupport.unpark(t);
    }
  }
}
