package dev.jdm.targets.logwrites;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.TargetContext;
import dev.jdm.testkit.MemoryDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * A context over two memory devices, and a data device that holds each request until the test
 * completes it, so that the test chooses the order in which writes complete.
 */
final class TestDevices implements TargetContext {
  final MemoryDevice data;
  final MemoryDevice log;
  final Holding held;

  TestDevices(long dataSectors, long logSectors) {
    data = new MemoryDevice("/dev/data", dataSectors);
    log = new MemoryDevice("/dev/log", logSectors);
    held = new Holding(data);
  }

  @Override
  public String deviceName() {
    return "lw";
  }

  @Override
  public long beginSector() {
    return 0;
  }

  @Override
  public boolean readOnly() {
    return false;
  }

  @Override
  public BlockDevice openDevice(String path, DeviceMode mode) {
    return path.equals("/dev/log") ? log : held;
  }

  /** Passes requests to a device only when the test says so. */
  static final class Holding implements BlockDevice {
    private final MemoryDevice device;
    final List<IoRequest> waiting = new ArrayList<>();

    Holding(MemoryDevice device) {
      this.device = device;
    }

    @Override
    public String path() {
      return device.path();
    }

    @Override
    public long sizeInSectors() {
      return device.sizeInSectors();
    }

    @Override
    public boolean readOnly() {
      return false;
    }

    @Override
    public boolean supports(IoOp op) {
      return true;
    }

    @Override
    public void submit(IoRequest request) {
      waiting.add(request);
    }

    /** Performs and completes the {@code i}th request submitted. */
    void complete(IoRequest request) {
      waiting.remove(request);
      device.submit(request);
    }
  }
}
