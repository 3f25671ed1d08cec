package dev.jdm.fuse;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * One worker's I/O to devices: a reused request and the wait for its completion, which may come on
 * this thread before {@code submit} returns or later on another. A worker answers a FUSE request
 * only once its I/O is done, so it has one request out at a time; concurrency comes from the
 * number of workers.
 */
final class DeviceIo implements IoCompletion {
  private final IoRequest request = new IoRequest();
  private volatile boolean done;
  private Thread waiter;

  /** Runs one request on {@code device} and waits for it to end. */
  IoStatus run(BlockDevice device, IoOp op, int flags, long sector, long bytes, ByteBuffer data,
      int dataOffset) {
    waiter = Thread.currentThread();
    done = false;
    if (op.hasData()) {
      request.prepare(op, flags, sector, (int) bytes, data, dataOffset, this);
    } else {
      request.prepareRange(op, flags, sector, bytes, this);
    }
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
