package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.Copier;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.Region;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.testkit.ManualScheduler;
import dev.jdm.testkit.TestTargetContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A {@link TestTargetContext} with the services it leaves out, small and synchronous, for unit
 * tests of the snapshot targets over {@link dev.jdm.testkit.MemoryDevice}s: dm-io and metadata
 * blocks do their I/O at once on the caller's thread; the copier keeps its jobs until the test
 * {@link #runCopies runs} them (or runs each at once when {@link #copyAtOnce} is set), so a test
 * can look at I/O waiting for a copy. Every metadata write and flush is logged, for checking the
 * commit order. One context serves all the targets of a test, so they share state as the
 * targets of one daemon do.
 */
final class ServicesContext implements TargetContext {
  final TestTargetContext base = new TestTargetContext();
  private final ArrayDeque<Runnable> copies = new ArrayDeque<>();
  /** "write N" and "flush" of the metadata, in order. */
  final List<String> metadataLog = new ArrayList<>();
  boolean copyAtOnce = true;
  final AtomicLong copiesDone = new AtomicLong();

  <D extends BlockDevice> D add(D device) {
    return base.add(device);
  }

  @Override
  public String deviceName() {
    return base.deviceName();
  }

  @Override
  public long beginSector() {
    return base.beginSector();
  }

  @Override
  public boolean readOnly() {
    return base.readOnly();
  }

  @Override
  public BlockDevice openDevice(String path, DeviceMode mode) throws TargetException {
    return base.openDevice(path, mode);
  }

  @Override
  public ManualScheduler scheduler() {
    return base.scheduler();
  }

  @Override
  public void raiseEvent() {
    base.raiseEvent();
  }

  int events() {
    return base.events();
  }

  @Override
  public <T> T shared(String key, Class<T> type, Supplier<? extends T> factory) {
    return base.shared(key, type, factory);
  }

  /** Runs the copies waiting, in the order they were asked for (and those they lead to). */
  void runCopies() {
    for (Runnable r; (r = pollCopy()) != null; ) {
      r.run();
    }
  }

  /** Runs the oldest copy waiting; returns false when none waits. */
  boolean runOneCopy() {
    Runnable r = pollCopy();
    if (r == null) {
      return false;
    }
    r.run();
    return true;
  }

  int copiesWaiting() {
    synchronized (copies) {
      return copies.size();
    }
  }

  private Runnable pollCopy() {
    synchronized (copies) {
      return copies.poll();
    }
  }

  @Override
  public Copier copier() {
    return new Copier() {
      @Override
      public CopyJob copy(Region from, Region[] to, int count, CopyJob.Done done) {
        Region src = new Region(from.device(), from.sector(), from.sectors());
        List<Region> dst = new ArrayList<>();
        for (int i = 0; i < count; i++) {
          dst.add(new Region(to[i].device(), to[i].sector(), to[i].sectors()));
        }
        return job(src.sectors(), () -> {
          ByteBuffer data = ByteBuffer.allocateDirect(
              Math.toIntExact(src.sectors() << IoRequest.SECTOR_SHIFT));
          if (transfer(IoOp.READ, src, data) != IoStatus.OK) {
            done.done(true, 0, false);
            return;
          }
          long mask = 0;
          for (int i = 0; i < dst.size(); i++) {
            if (transfer(IoOp.WRITE, dst.get(i), data) != IoStatus.OK) {
              mask |= 1L << i;
            }
          }
          copiesDone.incrementAndGet();
          done.done(false, mask, false);
        });
      }

      @Override
      public CopyJob zero(Region[] to, int count, CopyJob.Done done) {
        Region dst = new Region(to[0].device(), to[0].sector(), to[0].sectors());
        return job(dst.sectors(), () -> {
          ByteBuffer zeros = ByteBuffer.allocateDirect(
              Math.toIntExact(dst.sectors() << IoRequest.SECTOR_SHIFT));
          done.done(false, transfer(IoOp.WRITE, dst, zeros) == IoStatus.OK ? 0 : 1, false);
        });
      }

      @Override
      public long rate() {
        return 0;
      }

      @Override
      public void rate(long bytesPerSecond) {}
    };
  }

  private CopyJob job(long sectors, Runnable work) {
    AtomicBoolean finished = new AtomicBoolean();
    Runnable run = () -> {
      work.run();
      finished.set(true);
    };
    if (copyAtOnce) {
      run.run();
    } else {
      synchronized (copies) {
        copies.add(run);
      }
    }
    return new CopyJob() {
      @Override
      public long sectorsDone() {
        return finished.get() ? sectors : 0;
      }

      @Override
      public long sectors() {
        return sectors;
      }

      @Override
      public boolean finished() {
        return finished.get();
      }

      @Override
      public void cancel() {}
    };
  }

  /** One synchronous request to a region's device. */
  static IoStatus transfer(IoOp op, Region where, ByteBuffer data) {
    IoRequest r = new IoRequest();
    IoStatus[] status = {null};
    if (op.hasData()) {
      r.prepare(op, 0, where.sector(), Math.toIntExact(where.sectors() << 9), data, 0,
          q -> status[0] = q.status());
    } else {
      r.prepareRange(op, 0, where.sector(), where.sectors() << 9, q -> status[0] = q.status());
    }
    where.device().submit(r);
    if (status[0] == null) {
      throw new IllegalStateException("test devices complete at once");
    }
    return status[0];
  }

  @Override
  public DeviceIo io() {
    return new DeviceIo() {
      @Override
      public void submit(IoOp op, int flags, Region[] regions, int count, ByteBuffer data,
          int dataOffset, Done done) {
        long mask = run(op, flags, regions, count, data, dataOffset);
        done.done(mask, mask == 0 ? IoStatus.OK : IoStatus.EIO);
      }

      @Override
      public long run(IoOp op, int flags, Region[] regions, int count, ByteBuffer data,
          int dataOffset) {
        long mask = 0;
        for (int i = 0; i < count; i++) {
          ByteBuffer b = data == null ? null : data.slice(dataOffset, data.capacity() - dataOffset);
          if (transfer(op, regions[i], b) != IoStatus.OK) {
            mask |= 1L << i;
          }
        }
        return mask;
      }
    };
  }

  @Override
  public MetadataBlocks metadata(BlockDevice device, long offsetSectors, int blockSize,
      boolean checksums) {
    return new MetadataBlocks() {
      private final Map<Long, ByteBuffer> cached = new HashMap<>();
      private final Map<Long, Boolean> dirty = new HashMap<>();
      private final int sectors = blockSize >> IoRequest.SECTOR_SHIFT;

      @Override
      public int blockSize() {
        return blockSize;
      }

      @Override
      public long blockCount() {
        return (device.sizeInSectors() - offsetSectors) / sectors;
      }

      private Region region(long block) {
        if (block < 0 || block >= blockCount()) {
          throw new IllegalArgumentException("block " + block + " outside the area");
        }
        return new Region(device, offsetSectors + block * sectors, sectors);
      }

      @Override
      public ByteBuffer read(long block) throws IOException {
        Region where = region(block);
        ByteBuffer b = cached.get(block);
        if (b == null) {
          b = ByteBuffer.allocateDirect(blockSize);
          if (transfer(IoOp.READ, where, b) != IoStatus.OK) {
            throw new IOException("read failed");
          }
          cached.put(block, b);
        }
        return b.clear();
      }

      @Override
      public ByteBuffer zeroed(long block) {
        region(block);
        ByteBuffer b = ByteBuffer.allocateDirect(blockSize);
        cached.put(block, b);
        dirty.put(block, true);
        return b;
      }

      @Override
      public void markDirty(long block) {
        dirty.put(block, true);
      }

      @Override
      public void commit(long commitBlock) throws IOException {
        for (Long b : dirty.keySet().stream().sorted().toList()) {
          if (b != commitBlock) {
            write(b);
          }
        }
        flush();
        if (commitBlock >= 0) {
          write(commitBlock);
          flush();
        }
        dirty.clear();
      }

      private void write(long block) throws IOException {
        synchronized (metadataLog) {
          metadataLog.add("write " + block);
        }
        if (transfer(IoOp.WRITE, region(block), cached.get(block).clear()) != IoStatus.OK) {
          throw new IOException("write failed");
        }
      }

      private void flush() throws IOException {
        synchronized (metadataLog) {
          metadataLog.add("flush");
        }
        if (transfer(IoOp.FLUSH, new Region(device, 0, 0), null) != IoStatus.OK) {
          throw new IOException("flush failed");
        }
      }

      @Override
      public void close() {}
    };
  }
}
