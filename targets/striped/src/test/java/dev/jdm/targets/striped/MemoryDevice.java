package dev.jdm.targets.striped;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A device in a byte array, with per-sector allocation flags for block status. Requests must lie
 * inside it, as the SPI promises; a stray one fails the test loudly.
 */
class MemoryDevice implements BlockDevice {
  final byte[] bytes;
  /** Block-status flags of each sector; 0 (data) unless a test sets them. */
  final int[] flags;
  private final String path;
  private final long size;
  private final Set<IoOp> ops = EnumSet.of(IoOp.READ, IoOp.WRITE, IoOp.FLUSH);
  private IoLimits limits = IoLimits.DEFAULT;

  MemoryDevice(String path, int sectors) {
    this(path, sectors, sectors);
  }

  private MemoryDevice(String path, long size, int stored) {
    this.path = path;
    this.size = size;
    this.bytes = new byte[stored * IoRequest.SECTOR_SIZE];
    this.flags = new int[stored];
  }

  /** A device of {@code sectors} that stores nothing, for tests that only map. */
  static MemoryDevice sizeOnly(String path, long sectors) {
    return new MemoryDevice(path, sectors, 0);
  }

  MemoryDevice supporting(IoOp... more) {
    ops.addAll(Arrays.asList(more));
    return this;
  }

  MemoryDevice hinting(IoLimits hints) {
    limits = hints;
    return this;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public long sizeInSectors() {
    return size;
  }

  @Override
  public boolean readOnly() {
    return false;
  }

  @Override
  public boolean supports(IoOp op) {
    return ops.contains(op);
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  @Override
  public void submit(IoRequest request) {
    int at = Math.toIntExact(request.sector() * IoRequest.SECTOR_SIZE);
    if (at < 0 || at + request.bytes() > bytes.length) {
      throw new AssertionError(path + " got a request outside it: " + request);
    }
    switch (request.op()) {
      case READ -> request.data().put(request.dataOffset(), bytes, at, request.bytes());
      case WRITE -> request.data().get(request.dataOffset(), bytes, at, request.bytes());
      default -> Arrays.fill(bytes, at, at + request.bytes(), (byte) 0);
    }
    request.complete(IoStatus.OK);
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    int at = Math.toIntExact(sector);
    int end = Math.toIntExact(sector + sectors);
    while (at < end) {
      int run = at;
      while (run < end && flags[run] == flags[at]) {
        run++;
      }
      if (!sink.extent(run - at, flags[at])) {
        return;
      }
      at = run;
    }
  }

  /** Opens the devices it was given by path; anything else is a lookup failure. */
  static final class Context implements TargetContext {
    final Map<String, MemoryDevice> devices = new LinkedHashMap<>();
    final List<String> opened = new ArrayList<>();
    boolean readOnly;
    DeviceMode lastMode;

    Context with(MemoryDevice... more) {
      for (MemoryDevice device : more) {
        devices.put(device.path(), device);
      }
      return this;
    }

    @Override
    public String deviceName() {
      return "stripes";
    }

    @Override
    public long beginSector() {
      return 0;
    }

    @Override
    public boolean readOnly() {
      return readOnly;
    }

    @Override
    public BlockDevice openDevice(String path, DeviceMode mode) throws TargetException {
      MemoryDevice device = devices.get(path);
      if (device == null) {
        throw new TargetException("Device lookup failed");
      }
      opened.add(path);
      lastMode = mode;
      return device;
    }
  }
}
