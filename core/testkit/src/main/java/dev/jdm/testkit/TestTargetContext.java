package dev.jdm.testkit;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A {@link TargetContext} for unit tests of one target without a daemon: devices are the
 * {@link BlockDevice}s the test {@linkplain #add adds} under their paths, the scheduler is a
 * {@link ManualScheduler}, events are counted, and shared state lives in a map. Services that need
 * the real kernel (dm-io, the copier, metadata blocks) are not offered here: test those targets
 * through {@link TargetConformance} or a real {@code DeviceMapper}.
 */
public final class TestTargetContext implements TargetContext {
  private final String deviceName;
  private final long beginSector;
  private final boolean readOnly;
  private final Map<String, BlockDevice> devices = new LinkedHashMap<>();
  private final List<String> opened = new ArrayList<>();
  private final ManualScheduler scheduler = new ManualScheduler();
  private final AtomicInteger events = new AtomicInteger();
  private final Map<String, Object> shared = new ConcurrentHashMap<>();

  /** A context for a read-write segment at sector 0 of device {@code test}. */
  public TestTargetContext() {
    this("test", 0, false);
  }

  /** A context for a segment at {@code beginSector} of {@code deviceName}. */
  public TestTargetContext(String deviceName, long beginSector, boolean readOnly) {
    this.deviceName = deviceName;
    this.beginSector = beginSector;
    this.readOnly = readOnly;
  }

  /** Makes {@code device} openable under its {@link BlockDevice#path()}; returns it. */
  public <D extends BlockDevice> D add(D device) {
    devices.put(device.path(), device);
    return device;
  }

  @Override
  public String deviceName() {
    return deviceName;
  }

  @Override
  public long beginSector() {
    return beginSector;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public synchronized BlockDevice openDevice(String path, DeviceMode mode)
      throws TargetException {
    BlockDevice d = devices.get(path);
    if (d == null) {
      throw new TargetException("Device lookup failed");
    }
    if (mode == DeviceMode.READ_WRITE && (readOnly || d.readOnly())) {
      throw new TargetException("Device lookup failed");
    }
    opened.add(path);
    return d;
  }

  /** The paths the target opened, in order (the same path twice if opened twice). */
  public synchronized List<String> opened() {
    return List.copyOf(opened);
  }

  @Override
  public ManualScheduler scheduler() {
    return scheduler;
  }

  @Override
  public void raiseEvent() {
    events.incrementAndGet();
  }

  /** How many events the target raised. */
  public int events() {
    return events.get();
  }

  @Override
  public <T> T shared(String key, Class<T> type, Supplier<? extends T> factory) {
    return type.cast(shared.computeIfAbsent(key, k -> factory.get()));
  }

}
