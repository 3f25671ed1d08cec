package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A device that shows every request to {@code watcher} before passing it to {@code device}, and
 * says it supports the ops {@code ops} accepts.
 */
record WatchedDevice(BlockDevice device, Consumer<IoRequest> watcher, Predicate<IoOp> ops)
    implements BlockDevice {
  /** Watches {@code device}, supporting what it supports. */
  WatchedDevice(BlockDevice device, Consumer<IoRequest> watcher) {
    this(device, watcher, device::supports);
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
    return device.readOnly();
  }

  @Override
  public boolean supports(IoOp op) {
    return ops.test(op);
  }

  @Override
  public void submit(IoRequest request) {
    watcher.accept(request);
    device.submit(request);
  }
}
