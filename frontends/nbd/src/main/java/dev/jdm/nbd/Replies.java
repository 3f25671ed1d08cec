package dev.jdm.nbd;

import dev.jdm.nbd.protocol.Transport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection's encoded replies on their way out: a lock-free stack any thread pushes to as its
 * request completes, and one writer at a time that takes all of it and sends it with one
 * gathering write, in completion order. Each slot goes back once its reply is written.
 */
final class Replies {
  private static final Logger LOG = LoggerFactory.getLogger(Replies.class);

  private final String peer;
  private final Slots slots;
  private final AtomicReference<RequestSlot> queued = new AtomicReference<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  private final ByteBuffer[] gather;
  private final RequestSlot[] sent;
  private volatile Transport transport;
  private volatile boolean broken;

  Replies(String peer, Slots slots, int maxInFlight) {
    this.peer = peer;
    this.slots = slots;
    this.gather = new ByteBuffer[maxInFlight];
    this.sent = new RequestSlot[maxInFlight];
  }

  /** The stream replies go to, from the start of transmission. */
  void to(Transport t) {
    transport = t;
  }

  /** Queues an encoded reply. */
  void push(RequestSlot s) {
    RequestSlot t;
    do {
      t = queued.get();
      s.next = t;
    } while (!queued.compareAndSet(t, s));
  }

  /** Whether replies wait to be written. */
  boolean pending() {
    return queued.get() != null;
  }

  /** Sends every queued reply unless another thread is already at it (it then sends ours too). */
  void flush() {
    while (queued.get() != null) {
      if (!writing.compareAndSet(false, true)) {
        return;
      }
      try {
        writeQueued();
      } finally {
        writing.set(false);
      }
    }
  }

  private void writeQueued() {
    RequestSlot list = queued.getAndSet(null);
    // The stack is newest first; reverse it so replies leave in completion order.
    RequestSlot fifo = null;
    while (list != null) {
      RequestSlot n = list.next;
      list.next = fifo;
      fifo = list;
      list = n;
    }
    int n = 0;
    for (RequestSlot s = fifo; s != null; s = s.next) {
      gather[n] = s.reply[0];
      sent[n++] = s;
    }
    if (!broken) {
      try {
        transport.write(gather, 0, n);
      } catch (IOException e) {
        broken = true;
        LOG.debug("{}: reply not delivered: {}", peer, e.toString());
        transport.shutdownInput();
      }
    }
    for (int i = 0; i < n; i++) {
      gather[i] = null;
      RequestSlot s = sent[i];
      sent[i] = null;
      slots.giveBack(s);
    }
  }
}
