package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * One request at a time on a device, waiting for its end, which may come on this thread before
 * {@code submit} returns or later on another: for a frontend thread that has nothing else to do
 * meanwhile (a FUSE worker, an NBD read-modify-write). Reuses its request; not for sharing between
 * threads.
 */
public final class SyncIo implements IoCompletion {
  private final IoRequest request = new IoRequest();
  private volatile boolean done;
  private Thread waiter;

  /** Runs a READ, WRITE or FLUSH of {@code bytes} at {@code sector} and waits for it. */
  public IoStatus run(BlockDevice device, IoOp op, int flags, long sector, int bytes,
      ByteBuffer data, int dataOffset) {
    start();
    request.prepare(op, flags, sector, bytes, data, dataOffset, this);
    return finish(device);
  }

  /** Runs a DISCARD or WRITE_ZEROES of {@code sectors} at {@code sector} and waits for it. */
  public IoStatus runRange(BlockDevice device, IoOp op, int flags, long sector, long sectors) {
    start();
    request.prepareRange(op, flags, sector, sectors << IoRequest.SECTOR_SHIFT, this);
    return finish(device);
  }

  private void start() {
    waiter = Thread.currentThread();
    done = false;
  }

  private IoStatus finish(BlockDevice device) {
    device.submit(request);
    while (!done) {
      LockSupport.park(this);
    }
    IoStatus s = request.status();
    request.prepare(IoOp.READ, 0, 0, 0, null, 0, null);
    return s == null ? IoStatus.EIO : s;
  }

  @Override
  public void completed(IoRequest r) {
    Thread w = waiter;
    done = true;
    LockSupport.unpark(w);
  }
}
