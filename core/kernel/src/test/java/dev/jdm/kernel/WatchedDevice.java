package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import java.util.function.Consumer;

/** A device that shows every request to {@code watcher} before passing it to {@code device}. */
record WatchedDevice(BlockDevice device, Consumer<IoRequest> watcher) implements BlockDevice {
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
    return device.supports(op);
  }

  @Override
  public void submit(IoRequest request) {
    watcher.accept(request);
    device.submit(request);
  }
}
