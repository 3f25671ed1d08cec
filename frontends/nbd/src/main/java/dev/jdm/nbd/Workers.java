package dev.jdm.nbd;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * The platform threads that serve one connection while its client is busy, taking turns at the
 * socket (leader/follower). The one reading pulls everything the client has sent, keeps the first
 * request, queues the rest, and runs its request itself by calling the device's {@code submit}
 * (which does file I/O on the calling thread). Another thread is woken only when the queued work
 * outlasts a wake-up, so page-cache-speed devices run whole batches without a hand-off and slow
 * devices get every thread. Waiting is {@code park} on a stack of idle threads, so turn-taking
 * allocates nothing.
 *
 * <p>A turn ends when the input ends, or when the client has sent nothing for {@code idle-after}
 * and nothing is in flight: then every thread ends and the connection waits for its client on a
 * virtual thread again, holding no platform thread.
 */
final class Workers {
  /** Queued work, in expected nanoseconds, above which another thread is woken to share it. */
  private static final long HANDOFF_NANOS = 200_000;
  /** A request this long keeps a thread busy long enough to read the next ones meanwhile. */
  private static final long LARGE = 256 * 1024;

  private final String name;
  private final RequestReader reader;
  private final Commands commands;
  private final Replies replies;
  private final Slots slots;
  private final int max;
  private final long idleNanos;

  // Turn-taking at the socket and the queue of requests read but not started; under lock.
  private final Object lock = new Object();
  private final Thread[] idleThreads;
  private final List<Thread> threads = new ArrayList<>();
  private boolean reading;
  private int idle;
  private boolean over;
  private RequestSlot readyHead;
  private RequestSlot readyTail;
  private int readyCount;
  /** Recent time a request takes to start (and, for file I/O, to finish), smoothed. */
  private volatile long serviceNanos;

  Workers(String name, RequestReader reader, Commands commands, Replies replies, Slots slots,
      int threads, long idleNanos) {
    this.name = name;
    this.reader = reader;
    this.commands = commands;
    this.replies = replies;
    this.slots = slots;
    this.max = threads;
    this.idleThreads = new Thread[threads];
    this.idleNanos = idleNanos;
  }

  /**
   * Serves requests on platform threads, starting with {@code batch} (read by the caller), until
   * the input ends or the client goes quiet; returns when every thread has ended.
   */
  void turn(RequestSlot batch) {
    Thread first;
    synchronized (lock) {
      over = false;
      reading = false;
      enqueue(batch);
      first = spawn();
    }
    first.start();
    while (true) {
      Thread t;
      synchronized (lock) {
        if (threads.isEmpty()) {
          break;
        }
        t = threads.getLast();
      }
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      synchronized (lock) {
        threads.remove(t);
      }
    }
  }

  private void work() {
    for (RequestSlot s; (s = nextRequest()) != null; ) {
      long t0 = System.nanoTime();
      commands.start(s);
      long took = System.nanoTime() - t0;
      serviceNanos += (took - serviceNanos) >> 3;
    }
    replies.flush();
  }

  /**
   * The next request to run: one already read, or, when none is and nobody is reading, a batch this
   * thread reads. Pending replies are sent before the thread sleeps or reads. Null when the turn is
   * over.
   */
  private RequestSlot nextRequest() {
    Thread me = Thread.currentThread();
    while (true) {
      boolean flushed = false;
      while (true) {
        Thread wake = null;
        RequestSlot next = null;
        boolean flushFirst = false;
        boolean sleep = false;
        synchronized (lock) {
          removeIdle(me);
          if (readyHead != null) {
            next = readyHead;
            readyHead = next.next;
            next.next = null;
            readyCount--;
            if (readyHead != null && worthWaking(readyCount)) {
              wake = helper();
            }
          } else if (over) {
            return null;
          } else if (!flushed && replies.pending()) {
            flushFirst = true;
          } else if (!reading) {
            reading = true;
          } else {
            idleThreads[idle++] = me;
            sleep = true;
          }
        }
        if (next != null) {
          wakeOrStart(wake);
          return next;
        }
        if (flushFirst) {
          replies.flush();
          flushed = true;
        } else if (sleep) {
          LockSupport.park(this);
          flushed = false;
        } else {
          break;
        }
      }
      RequestSlot batch = reader.read(idleNanos);
      Thread[] wake = null;
      Thread one = null;
      synchronized (lock) {
        reading = false;
        if (batch == null && !reader.ended()) {
          // Quiet for idle-after: the turn ends if nothing is left to do, else read on.
          if (readyHead != null || slots.inFlight() > 0 || replies.pending()) {
            continue;
          }
          over = true;
        }
        if (reader.ended()) {
          over = true;
        }
        enqueueRest(batch);
        if (over) {
          wake = Arrays.copyOf(idleThreads, idle);
          Arrays.fill(idleThreads, null);
          idle = 0;
        } else if (worthWaking(readyCount + 1) || (batch != null && batch.length >= LARGE)) {
          // Another thread runs the queued requests, or reads the next ones while this one works.
          one = helper();
        }
      }
      if (wake != null) {
        for (Thread t : wake) {
          LockSupport.unpark(t);
        }
      }
      wakeOrStart(one);
      if (batch != null) {
        return batch;
      }
    }
  }

  /** Queues a whole batch. Under the lock. */
  private void enqueue(RequestSlot batch) {
    if (batch == null) {
      return;
    }
    RequestSlot rest = batch.next;
    batch.next = null;
    append(batch);
    if (rest != null) {
      append(rest);
    }
  }

  /** Queues all of a batch but its first request, which the reading thread runs. Under lock. */
  private void enqueueRest(RequestSlot batch) {
    if (batch != null && batch.next != null) {
      append(batch.next);
      batch.next = null;
    }
  }

  private void append(RequestSlot list) {
    if (readyHead == null) {
      readyHead = list;
    } else {
      readyTail.next = list;
    }
    RequestSlot t = list;
    readyCount++;
    while (t.next != null) {
      t = t.next;
      readyCount++;
    }
    readyTail = t;
  }

  /**
   * An idle thread to wake, or a new one (not yet started) while the connection has fewer than
   * {@code threads-per-connection}; null when all are busy. Called under the lock.
   */
  private Thread helper() {
    Thread t = popIdle();
    if (t == null && threads.size() < max) {
      t = spawn();
    }
    return t;
  }

  private Thread spawn() {
    Thread t = Thread.ofPlatform().daemon().name("nbd-" + name + "-" + threads.size())
        .unstarted(this::work);
    threads.add(t);
    return t;
  }

  private static void wakeOrStart(Thread t) {
    if (t == null) {
      return;
    }
    if (t.getState() == Thread.State.NEW) {
      t.start();
    } else {
      LockSupport.unpark(t);
    }
  }

  private Thread popIdle() {
    if (idle == 0) {
      return null;
    }
    Thread t = idleThreads[--idle];
    idleThreads[idle] = null;
    return t;
  }

  /** Takes {@code t} off the idle stack if it is there (it woke by itself). */
  private void removeIdle(Thread t) {
    for (int i = 0; i < idle; i++) {
      if (idleThreads[i] == t) {
        idleThreads[i] = idleThreads[--idle];
        idleThreads[idle] = null;
        return;
      }
    }
  }

  /**
   * Whether {@code requests} of work ahead of this thread are worth waking another for: only when
   * they would keep it busy longer than a wake-up costs. Fast devices (page cache) then run a whole
   * batch on the thread that read it; slow ones, and large requests, get more threads of the
   * connection.
   */
  private boolean worthWaking(int requests) {
    return requests * serviceNanos > HANDOFF_NANOS;
  }
}
