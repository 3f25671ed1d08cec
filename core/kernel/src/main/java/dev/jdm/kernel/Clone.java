package dev.jdm.kernel;

import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.RequestData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One piece of a split request on its way through a target, the kernel's {@code dm_target_io}: the
 * request the target sees, the segment it belongs to, and the target's per-request data. Pooled;
 * its completion runs the target's end_io, then counts the piece off its {@link DmIo}.
 */
final class Clone implements IoCompletion {
  private static final Logger LOG = LoggerFactory.getLogger(Clone.class);

  final IoRequest request = new IoRequest();
  private final FreeList<Clone> pool;
  private DmIo io;
  private Segment segment;
  private RequestData data;

  Clone(FreeList<Clone> pool) {
    this.pool = pool;
  }

  /**
   * Readies the clone for a piece of {@code io} that {@code segment}'s target will map, or that the
   * core sends to a device itself ({@code segment} null: a FLUSH fanned out).
   */
  IoRequest start(DmIo io, Segment segment) {
    this.io = io;
    this.segment = segment;
    return request;
  }

  /** Whether the clone still carries a piece of {@code io} (it is not yet completed). */
  boolean belongsTo(DmIo io) {
    return this.io == io;
  }

  /** Binds the segment's per-request data, when its target keeps any; just before map. */
  void bindData() {
    if (segment != null && segment.requestData != null) {
      data = segment.requestData.take();
      data.reset();
      request.bindTargetData(data);
    }
  }

  @Override
  public void completed(IoRequest r) {
    IoStatus status = r.status();
    if (segment != null && segment.endIo) {
      EndIoResult res;
      // Running again unless end_io says DONE; a target that resubmits or completes later needs it.
      r.overrideStatus(null);
      try {
        res = segment.target.endIo(r, status);
      } catch (RuntimeException e) {
        LOG.error("{}: {}: end_io failed for {}", segment.context.deviceName(), segment.typeName, r,
            e);
        res = EndIoResult.DONE;
        r.overrideStatus(IoStatus.EIO);
      }
      if (res == EndIoResult.INCOMPLETE) {
        return;
      }
      if (res == null) {
        res = EndIoResult.DONE;
      }
      IoStatus override = r.status();
      if (override != null) {
        status = override;
      }
      if (res != EndIoResult.DONE) {
        io.requeue = true;
        status = IoStatus.OK;
      }
    }
    DmIo owner = io;
    if (status != IoStatus.OK) {
      owner.fail(status);
    }
    recycle();
    owner.release();
  }

  /** Returns the clone and its per-request data to their pools. */
  void recycle() {
    if (data != null) {
      segment.requestData.give(data);
      data = null;
    }
    request.prepare(dev.jdm.spi.IoOp.READ, 0, 0, 0, null, 0, null);
    io = null;
    segment = null;
    pool.give(this);
  }

  /** Names the target in a double-completion report. */
  @Override
  public String toString() {
    Segment s = segment;
    return s == null ? "the core" : s.context.deviceName() + ": " + s.typeName;
  }
}
