package dev.jdm.fuse;

import dev.jdm.fuse.proto.Errno;
import dev.jdm.fuse.proto.LinuxCalls;
import dev.jdm.fuse.proto.LinuxException;
import dev.jdm.fuse.proto.MountTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Readies the mount point: clears a stale FUSE mount a killed daemon left there (stat says "not
 * connected", or its server no longer answers), refuses one a live jdm still serves, and checks
 * that what is left is a directory.
 */
final class Mountpoint {
  private static final Logger LOG = LoggerFactory.getLogger(Mountpoint.class);
  /** More stale mounts than this stacked on one directory means clearing does not work. */
  private static final int MAX_STALE = 8;

  private Mountpoint() {}

  /** How the directory answered stat(2). */
  private enum Probe { OK, NOT_CONNECTED, HUNG, MISSING }

  /**
   * Readies {@code dir} (absolute) for mounting and returns it as the kernel will list it, with
   * symbolic links resolved (those in its parent first: a stale mount on the directory itself
   * cannot be resolved until it is cleared).
   */
  static Path prepare(Path dir, Duration probeTimeout) throws IOException {
    Path p = dir.toAbsolutePath().normalize();
    if (p.getParent() != null && Files.isDirectory(p.getParent())) {
      p = p.getParent().toRealPath().resolve(p.getFileName());
    }
    for (int i = 0; i <= MAX_STALE; i++) {
      Probe probe = probe(p, probeTimeout);
      MountTable.Mount top = MountTable.top(p);
      boolean fuse = top != null && top.type().startsWith("fuse");
      boolean stale = probe == Probe.NOT_CONNECTED || (fuse && probe == Probe.HUNG);
      if (!stale) {
        if (top != null && top.type().equals("fuse.jdm")) {
          throw new IOException("mountpoint " + p + " is already served by a running jdm;"
              + " stop it or choose another mountpoint");
        }
        if (probe == Probe.HUNG) {
          throw new IOException("mountpoint " + p + " does not answer within " + probeTimeout);
        }
        if (!Files.isDirectory(p)) {
          throw new IOException("mountpoint " + p + (Files.exists(p) ? " is not a directory"
              : " does not exist"));
        }
        return p.toRealPath();
      }
      try {
        LinuxCalls.umount2(p.toString(), LinuxCalls.MNT_DETACH);
        LOG.warn("fuse: cleared a stale {} mount on {} ({})", top == null ? "FUSE" : top.type(), p,
            probe == Probe.HUNG ? "its server does not answer" : "its server is gone");
      } catch (LinuxException e) {
        throw new IOException("mountpoint " + p + " is a stale mount; clear it with: umount -l "
            + p + " (" + e.getMessage() + ")");
      }
    }
    throw new IOException("mountpoint " + p + " is a stale mount; clear it with: umount -l " + p);
  }

  /** stat(2)s the directory on another thread, so that a hung FUSE server cannot hang start-up. */
  private static Probe probe(Path p, Duration timeout) throws IOException {
    CompletableFuture<Probe> f = new CompletableFuture<>();
    Thread.ofPlatform().daemon().name("jdm-fuse-probe").start(() -> {
      try {
        LinuxCalls.stat(p.toString());
        f.complete(Probe.OK);
      } catch (LinuxException e) {
        f.complete(e.errno() == Errno.ENOTCONN ? Probe.NOT_CONNECTED : Probe.MISSING);
      } catch (RuntimeException e) {
        f.completeExceptionally(e);
      }
    });
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return Probe.HUNG;
    } catch (ExecutionException e) {
      throw new IOException("cannot stat mountpoint " + p + ": " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while checking mountpoint " + p, e);
    }
  }
}
