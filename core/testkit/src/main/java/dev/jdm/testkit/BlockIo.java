package dev.jdm.testkit;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Blocking reads and writes on a {@link BlockDevice}, for tests: each call submits one request and
 * waits (at most a minute) for its completion.
 */
public final class BlockIo {
  private final BlockDevice device;

  /** Blocking I/O on {@code device}. */
  public BlockIo(BlockDevice device) {
    this.device = device;
  }

  /** Writes {@code data} (a multiple of 512 bytes) at {@code sector}. */
  public IoStatus write(long sector, byte[] data) {
    ByteBuffer b = ByteBuffer.allocateDirect(data.length);
    b.put(0, data);
    IoStatus s = run(IoOp.WRITE, 0, sector, data.length, b);
    // The submitter's buffer is the client's data: a target never changes it.
    if (b.duplicate().clear().mismatch(ByteBuffer.wrap(data)) != -1) {
      throw new AssertionError("the write of " + data.length + " bytes at sector " + sector
          + " on " + device.path() + " changed the submitter's buffer");
    }
    return s;
  }

  /** Reads {@code bytes} bytes at {@code sector}; throws if the read fails. */
  public byte[] read(long sector, int bytes) {
    ByteBuffer b = ByteBuffer.allocateDirect(bytes);
    IoStatus s = run(IoOp.READ, 0, sector, bytes, b);
    if (s != IoStatus.OK) {
      throw new AssertionError("read of " + bytes + " bytes at sector " + sector + " on "
          + device.path() + " failed: " + s);
    }
    byte[] out = new byte[bytes];
    b.get(0, out);
    return out;
  }

  /** Reads and returns only the status. */
  public IoStatus readStatus(long sector, int bytes) {
    return run(IoOp.READ, 0, sector, bytes, ByteBuffer.allocateDirect(bytes));
  }

  /** Flushes the device. */
  public IoStatus flush() {
    return run(IoOp.FLUSH, 0, 0, 0, null);
  }

  /** Runs any op; {@code data} may be null for ops without data. */
  public IoStatus run(IoOp op, int flags, long sector, int bytes, ByteBuffer data) {
    CompletableFuture<IoStatus> done = new CompletableFuture<>();
    IoRequest r = new IoRequest().prepare(op, flags, sector, bytes, data, 0, req -> {
      if (!done.complete(req.status())) {
        done.obtrudeException(new AssertionError(req + " on " + device.path()
            + " completed twice"));
      }
    });
    device.submit(r);
    try {
      return done.get(1, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for " + r, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError(r + " on " + device.path() + " did not complete", e);
    }
  }
}
