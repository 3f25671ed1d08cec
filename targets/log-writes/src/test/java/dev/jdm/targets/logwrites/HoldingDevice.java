package dev.jdm.targets.logwrites;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.testkit.MemoryDevice;

/**
 * A device that keeps each request until the test completes it, so that the test chooses the
 * order in which writes complete.
 */
final class HoldingDevice implements BlockDevice {
  private final MemoryDevice device;

  HoldingDevice(MemoryDevice device) {
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
    // held until complete()
  }

  /** Performs and completes a request submitted earlier. */
  void complete(IoRequest request) {
    device.submit(request);
  }
}
