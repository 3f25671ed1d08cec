package dev.jdm.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.jdm.kernel.DeviceListener;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TraceRecorder;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The traces the daemon is recording: at most one per device, each a {@link TraceRecorder} hooked
 * on the device. A trace ends with {@code trace stop}, with its device's removal, or with the
 * daemon.
 */
final class Traces implements DeviceListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Traces.class);
  /** The ring is an array of a power of two slots. */
  private static final int MAX_RECORDS = 1 << 30;
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

  private final DeviceMapper mapper;
  private final Path dir;
  private final int capacity;
  private final Duration drainInterval;
  private final Map<String, Trace> running = new HashMap<>();

  /** One trace being recorded. */
  record Trace(MappedDevice device, Path file, TraceRecorder recorder) {}

  /** How a trace ended. */
  record Summary(Path file, long records, long dropped) {}

  /** Traces of {@code mapper}'s devices, configured by {@code jdm.trace}. */
  Traces(DeviceMapper mapper, Config config) {
    Config t = config.getConfig("jdm.trace");
    this.mapper = mapper;
    this.dir = Path.of(t.getString("dir"));
    this.capacity = t.getInt("buffer-records");
    this.drainInterval = t.getDuration("drain-interval");
    if (capacity < 2 || capacity > MAX_RECORDS) {
      throw new ConfigException.BadValue(t.getValue("buffer-records").origin(),
          "jdm.trace.buffer-records",
          "must be from 2 to " + MAX_RECORDS);
    }
    mapper.addListener(this);
  }

  /**
   * Starts recording device {@code name} into {@code output}, or into a new file in the trace
   * directory when it is null. An existing file is refused unless {@code replace}; a symbolic
   * link always is.
   *
   * @return the trace file
   */
  synchronized Path start(String name, Path output, boolean replace) throws DmException {
    MappedDevice d = mapper.get(name);
    Trace t = running.get(name);
    if (t != null) {
      throw new DmException(name + ": already traced into " + t.file + "; stop that trace first");
    }
    Path file = output != null ? output : defaultFile(name);
    TraceRecorder rec;
    try {
      rec = TraceRecorder.toFile(name, file, capacity, drainInterval, replace);
    } catch (NoSuchFileException e) {
      throw new DmException(name + ": " + file + ": cannot write the trace: no such directory");
    } catch (FileAlreadyExistsException e) {
      throw new DmException(name + ": " + file + ": exists; --force overwrites it");
    } catch (FileSystemException e) {
      throw new DmException(name + ": " + file + ": cannot write the trace: "
          + (e.getReason() != null ? e.getReason() : e.getMessage()));
    } catch (IOException e) {
      throw new DmException(name + ": " + file + ": cannot write the trace: " + e.getMessage());
    }
    running.put(name, new Trace(d, file, rec));
    d.trace(rec);
    LOG.info("{}: tracing into {}", name, file);
    return file;
  }

  private Path defaultFile(String name) throws DmException {
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
    } catch (FileAlreadyExistsException e) {
      throw new DmException(dir + ": cannot hold traces: it is not a directory");
    } catch (IOException e) {
      throw new DmException(dir + ": cannot create the trace directory: " + e.getMessage());
    }
    return dir.resolve(name + "-" + LocalDateTime.now().format(STAMP) + ".csv");
  }

  /** Stops tracing device {@code name} and closes its file. */
  synchronized Summary stop(String name) throws DmException {
    Trace t = running.remove(name);
    if (t == null) {
      mapper.get(name);
      throw new DmException(name + ": not being traced");
    }
    return end(t);
  }

  private static Summary end(Trace t) throws DmException {
    if (t.device.tracer() == t.recorder) {
      t.device.trace(null);
    }
    try {
      t.recorder.close();
    } catch (IOException e) {
      throw new DmException(t.device.name() + ": " + e.getMessage() + "; "
          + t.recorder.recorded() + " requests written, " + t.recorder.dropped() + " lost");
    }
    if (t.recorder.dropped() > 0) {
      LOG.warn("{}: trace into {} dropped {} requests: raise jdm.trace.buffer-records",
          t.device.name(), t.file, t.recorder.dropped());
    }
    return new Summary(t.file, t.recorder.recorded(), t.recorder.dropped());
  }

  /** The trace of device {@code name}, if one is running. */
  synchronized Optional<Trace> of(String name) {
    return Optional.ofNullable(running.get(name));
  }

  @Override
  public void removed(MappedDevice device) {
    Trace t;
    synchronized (this) {
      t = running.get(device.name());
      if (t == null || t.device != device) {
        return;
      }
      running.remove(device.name());
    }
    stopQuietly(t, "device removed");
  }

  /** Ends every trace, keeping what each recorded. */
  @Override
  public synchronized void close() {
    mapper.removeListener(this);
    running.values().forEach(t -> stopQuietly(t, "daemon stopping"));
    running.clear();
  }

  private static void stopQuietly(Trace t, String why) {
    try {
      Summary s = end(t);
      LOG.info("{}: trace stopped ({}): {} requests in {}, {} dropped", t.device.name(), why,
          s.records, s.file, s.dropped);
    } catch (DmException e) {
      LOG.warn("{}", e.getMessage());
    }
  }
}
