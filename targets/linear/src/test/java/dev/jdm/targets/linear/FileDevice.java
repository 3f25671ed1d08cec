package dev.jdm.targets.linear;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A backing device over a real file, opened by path the way the core opens one. */
final class FileDevice implements BlockDevice, AutoCloseable {
  private final String path;
  private final FileChannel channel;
  private final boolean readOnly;

  FileDevice(String path, DeviceMode mode) throws IOException {
    this.path = path;
    this.readOnly = mode == DeviceMode.READ_ONLY;
    this.channel =
        readOnly
            ? FileChannel.open(Path.of(path), StandardOpenOption.READ)
            : FileChannel.open(Path.of(path), StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public long sizeInSectors() {
    try {
      return channel.size() >> IoRequest.SECTOR_SHIFT;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public void submit(IoRequest request) {
    ByteBuffer window = request.data().duplicate();
    window.limit(request.dataOffset() + request.bytes()).position(request.dataOffset());
    long position = request.sector() << IoRequest.SECTOR_SHIFT;
    try {
      while (window.hasRemaining()) {
        long at = position + window.position() - request.dataOffset();
        int n = request.op() == IoOp.READ ? channel.read(window, at) : channel.write(window, at);
        if (n < 0) {
          request.complete(IoStatus.EIO);
          return;
        }
      }
      request.complete(IoStatus.OK);
    } catch (IOException e) {
      request.complete(IoStatus.EIO);
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /**
   * A context that opens real files and remembers how, as the core would; paths in {@link #stubs}
   * resolve to those devices instead.
   */
  static final class Context implements TargetContext, AutoCloseable {
    final boolean readOnly;
    final List<DeviceMode> modes = new ArrayList<>();
    final Map<String, BlockDevice> stubs = new HashMap<>();
    private final List<FileDevice> opened = new ArrayList<>();

    Context(boolean readOnly) {
      this.readOnly = readOnly;
    }

    @Override
    public String deviceName() {
      return "test";
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
      if (stubs.containsKey(path)) {
        modes.add(mode);
        return stubs.get(path);
      }
      if (!Files.isRegularFile(Path.of(path))) {
        throw new TargetException("Device lookup failed");
      }
      try {
        FileDevice device = new FileDevice(path, mode);
        opened.add(device);
        modes.add(mode);
        return device;
      } catch (IOException e) {
        throw new TargetException("Device lookup failed", e);
      }
    }

    @Override
    public void close() throws IOException {
      for (FileDevice device : opened) {
        device.close();
      }
    }
  }
}
