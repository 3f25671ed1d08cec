package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.Copier;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.Scheduler;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A target's view of the core: it remembers what the target opened and which services it started,
 * to release it all when the target closes (or its constructor fails): copies first, then the
 * scheduler's threads, metadata caches, shared objects, and the devices last.
 */
final class SegmentContext implements TargetContext {
  private static final Logger LOG = LoggerFactory.getLogger(SegmentContext.class);

  private final String device;
  private final long begin;
  private final boolean readOnly;
  private final BackingDevices backing;
  private final DeviceMapper mapper;
  private final KernelServices services;
  private final List<BlockDevice> opened = new ArrayList<>();
  private final List<MetadataCache> metadata = new ArrayList<>();
  private final Set<String> sharedKeys = new LinkedHashSet<>();
  private TargetScheduler scheduler;
  private TargetCopier copier;
  private boolean released;

  SegmentContext(String device, long begin, boolean readOnly, BackingDevices backing,
      DeviceMapper mapper, KernelServices services) {
    this.device = device;
    this.begin = begin;
    this.readOnly = readOnly;
    this.backing = backing;
    this.mapper = mapper;
    this.services = services;
  }

  @Override
  public String deviceName() {
    return device;
  }

  @Override
  public long beginSector() {
    return begin;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public synchronized BlockDevice openDevice(String path, DeviceMode mode)
      throws TargetException {
    if (readOnly && mode == DeviceMode.READ_WRITE) {
      throw new TargetException("Device lookup failed: " + path
          + ": read-write open in a read-only table");
    }
    BlockDevice d = backing.open(path, mode, device);
    opened.add(d);
    return d;
  }

  @Override
  public DeviceIo io() {
    return services.io;
  }

  @Override
  public synchronized Scheduler scheduler() {
    return ownScheduler();
  }

  private TargetScheduler ownScheduler() {
    if (scheduler == null) {
      checkOpen();
      scheduler = services.scheduler(device);
    }
    return scheduler;
  }

  @Override
  public synchronized Copier copier() {
    if (copier == null) {
      checkOpen();
      copier = services.copier(device, ownScheduler());
    }
    return copier;
  }

  @Override
  public MetadataBlocks metadata(BlockDevice dev, long offsetSectors, int blockSize,
      boolean checksums) throws TargetException {
    if (!MetadataCache.validBlockSize(blockSize)) {
      throw new TargetException("Invalid metadata block size");
    }
    if (offsetSectors < 0 || offsetSectors >= dev.sizeInSectors()) {
      throw new TargetException("Invalid metadata offset");
    }
    if (dev.sizeInSectors() - offsetSectors < blockSize >>> IoRequest.SECTOR_SHIFT) {
      throw new TargetException("Metadata device too small");
    }
    MetadataCache m = services.metadata(device, dev, offsetSectors, blockSize, checksums);
    synchronized (this) {
      checkOpen();
      metadata.add(m);
    }
    return m;
  }

  @Override
  public void raiseEvent() {
    mapper.raiseEvent(device);
  }

  @Override
  public <T> T shared(String key, Class<T> type, Supplier<? extends T> factory) {
    synchronized (this) {
      checkOpen();
      if (sharedKeys.contains(key)) {
        return services.shared.get(key, type);
      }
    }
    T value = services.shared.acquire(key, type, factory);
    synchronized (this) {
      if (!released && sharedKeys.add(key)) {
        return value;
      }
    }
    // Released meanwhile, or asked twice at once: hold it once.
    services.shared.release(key);
    return value;
  }

  private void checkOpen() {
    if (released) {
      throw new IllegalStateException(device + ": the target is closed");
    }
  }

  /**
   * Releases what this target holds: cancels its copies (their done runs), stops its scheduler,
   * closes its metadata caches, lets go of shared objects, and releases its devices.
   */
  void releaseAll() {
    TargetCopier c;
    TargetScheduler s;
    List<MetadataCache> caches;
    List<String> keys;
    List<BlockDevice> devices;
    synchronized (this) {
      released = true;
      c = copier;
      s = scheduler;
      caches = List.copyOf(metadata);
      keys = List.copyOf(sharedKeys);
      devices = List.copyOf(opened);
      metadata.clear();
      sharedKeys.clear();
      opened.clear();
    }
    // Outside the lock: a copy's done may still ask this context for its scheduler.
    List<AutoCloseable> order = new ArrayList<>();
    if (c != null) {
      order.add(c);
    }
    if (s != null) {
      order.add(s);
    }
    order.addAll(caches);
    for (AutoCloseable a : order) {
      try {
        a.close();
      } catch (Exception e) {
        LOG.warn("{}: closing {} failed: {}", device, a, e.toString());
      }
    }
    keys.forEach(services.shared::release);
    for (BlockDevice d : devices) {
      backing.release(d);
    }
  }
}
