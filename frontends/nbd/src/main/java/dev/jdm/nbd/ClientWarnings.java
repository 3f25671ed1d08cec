package dev.jdm.nbd;

import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Warnings about clients the server refused, dropped or found breaking the protocol: at most one
 * line per interval, the others counted and reported with the next line that goes out. A client
 * flooding the server must not flood its log too.
 */
final class ClientWarnings {
  private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

  private final long intervalNanos;
  private long last;
  private boolean any;
  private long held;

  ClientWarnings(long interval, TimeUnit unit) {
    this.intervalNanos = unit.toNanos(interval);
  }

  /** Logs {@code line} at WARN unless one went out less than an interval ago. */
  void note(String line) {
    long now = System.nanoTime();
    long skipped;
    synchronized (this) {
      if (any && now - last < intervalNanos) {
        held++;
        return;
      }
      any = true;
      last = now;
      skipped = held;
      held = 0;
    }
    if (skipped == 0) {
      LOG.warn("{}", line);
    } else {
      LOG.warn("{} ({} more such warnings left out in the last {} s)", line, skipped,
          TimeUnit.NANOSECONDS.toSeconds(intervalNanos));
    }
  }
}
