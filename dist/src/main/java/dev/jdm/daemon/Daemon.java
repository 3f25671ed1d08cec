package dev.jdm.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.FrontendProvider;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.PluginDirectory;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code jdm serve}: the device mapper with its targets, the configured images and devices, the
 * frontends, and the control socket, started in that order and stopped in the reverse one. The
 * control socket comes last, so a client that can connect finds everything up. While it runs,
 * {@link #reload} applies a configuration read again (SIGHUP).
 */
public final class Daemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  private final RuntimeDir runtime;
  private final DeviceMapper mapper;
  private final List<Frontend> frontends;
  private final Plugins plugins;
  private final ConfigReload reload;
  /** What to close on stop, most recent first. */
  private final Deque<AutoCloseable> started;

  private Daemon(RuntimeDir runtime, DeviceMapper mapper, List<Frontend> frontends,
      Plugins plugins, ConfigReload reload, Deque<AutoCloseable> started) {
    this.runtime = runtime;
    this.mapper = mapper;
    this.frontends = frontends;
    this.plugins = plugins;
    this.reload = reload;
    this.started = started;
  }

  /**
   * Starts everything the configuration asks for, or nothing: on any failure what was started is
   * stopped again.
   */
  public static Daemon start(JdmConfig config) throws StartFailed {
    Deque<AutoCloseable> started = new ArrayDeque<>();
    RuntimeDir runtime = RuntimeDir.claim(config.runtimeDir());
    started.push(runtime);
    try {
      TargetRegistry registry = new TargetRegistry();
      registry.discover(Daemon.class.getClassLoader(), "class path")
          .forEach(p -> LOG.warn("target on the class path skipped: {}", p));
      if (!Files.isDirectory(config.pluginsDir())) {
        LOG.warn("plugins directory {} does not exist: only targets on the class path",
            config.pluginsDir());
      }
      PluginDirectory directory = new PluginDirectory(config.pluginsDir(), registry);
      started.push(directory);
      directory.loadNew().refused().forEach(p -> LOG.warn("plugin {}", p));
      Plugins plugins = new Plugins(directory);

      DeviceMapper mapper = new DeviceMapper(registry, config.config());
      Duration wait = config.shutdownTimeout();
      started.push(() -> {
        flush(mapper, wait);
        mapper.close();
      });
      // Traces end after the frontends, so they keep every request until the last.
      Traces traces = new Traces(mapper, config.config());
      started.push(traces);
      createImages(config.images());
      createDevices(mapper, config.devices());

      List<Frontend> frontends = startFrontends(mapper, config, started);
      Verbs verbs = new Verbs(mapper, traces, plugins, JdmVersion.get());
      ControlServer control = ControlServer.start(runtime.socket(), verbs,
          config.maxControlRequests(), config.controlRequestTimeout());
      started.push(() -> {
        verbs.stop();
        control.close(wait);
      });
      LOG.info("jdm {} serving {} device(s), control socket {}", JdmVersion.get(),
          mapper.list().size(), runtime.socket());
      return new Daemon(runtime, mapper, frontends, plugins, new ConfigReload(config), started);
    } catch (ConfigException e) {
      stop(started);
      throw new StartFailed(e.getMessage(), e);
    } catch (StartFailed | RuntimeException e) {
      stop(started);
      throw e;
    } catch (IOException e) {
      stop(started);
      throw new StartFailed(runtime.socket() + ": cannot listen: " + e.getMessage(), e);
    }
  }

  private static void createImages(List<ImageSpec> images) throws StartFailed {
    for (ImageSpec i : images) {
      try {
        if (i.createIfAbsent()) {
          LOG.info("created sparse image {} ({} bytes)", i.path(), i.sizeInBytes());
        }
      } catch (IOException e) {
        throw new StartFailed("jdm.images." + i.name() + ": " + i.path() + ": cannot create: "
            + e.getMessage(), e);
      }
    }
  }

  private static void createDevices(DeviceMapper mapper, List<DeviceSpec> devices)
      throws StartFailed {
    for (DeviceSpec d : devices) {
      try {
        mapper.create(d.name(), d.table(), d.readOnly());
      } catch (DmException e) {
        throw new StartFailed(d.where(e.getMessage()) + ": " + e.getMessage(), e);
      }
    }
  }

  private static List<Frontend> startFrontends(DeviceMapper mapper, JdmConfig config,
      Deque<AutoCloseable> started) throws StartFailed {
    List<String> names = new ArrayList<>();
    List<Frontend> running = new ArrayList<>();
    for (FrontendProvider p : ServiceLoader.load(FrontendProvider.class,
        Daemon.class.getClassLoader())) {
      names.add(p.name());
      try {
        var f = p.start(mapper, config.config());
        if (f.isPresent()) {
          running.add(f.get());
          started.push(f.get());
          LOG.info("frontend {}: {}", p.name(), f.get().describe());
        }
      } catch (Exception e) {
        // Name the frontend once: its own message may already start with its name.
        String m = String.valueOf(e.getMessage());
        throw new StartFailed(m.startsWith(p.name() + ":") ? m : p.name() + ": " + m, e);
      }
    }
    Config c = config.config();
    for (String section : config.frontendSections()) {
      String enabled = "jdm.frontends." + section + ".enabled";
      if (!names.contains(section) && c.hasPath(enabled) && c.getBoolean(enabled)) {
        throw new StartFailed(c.getValue(enabled).origin().description() + ": " + enabled
            + ": no frontend called " + section + " is installed (installed: "
            + (names.isEmpty() ? "none" : String.join(", ", names.stream().sorted().toList()))
            + ")");
      }
    }
    return running;
  }

  /** Flushes every live, writable device, so what was written is on its backing files. */
  private static void flush(DeviceMapper mapper, Duration wait) {
    List<MappedDevice> devices = mapper.list().stream()
        .filter(d -> d.sizeInSectors() > 0 && !d.readOnly() && !d.suspended())
        .toList();
    CountDownLatch done = new CountDownLatch(devices.size());
    for (MappedDevice d : devices) {
      d.submit(new IoRequest().prepare(IoOp.FLUSH, 0, 0, 0, null, 0, r -> {
        if (!r.status().ok()) {
          LOG.warn("{}: flush on stop failed: {}", d.name(), r.status());
        }
        done.countDown();
      }));
    }
    try {
      if (!done.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warn("{} device flush(es) still running after {}", done.getCount(), wait);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Applies {@code fresh}, the configuration read again: creates the devices new in it, in file
   * order, and logs one line for each difference it leaves alone (a changed table of a running
   * device, a device gone from the file, a changed frontend or other setting). Nothing running
   * changes. Does nothing once the daemon stops.
   *
   * @return the lines logged, in order: {@code NAME: created from the configuration} for each new
   *     device, then each difference not applied
   */
  public List<String> reload(JdmConfig fresh) {
    synchronized (started) {
      if (started.isEmpty()) {
        return List.of();
      }
      ConfigReload.Outcome o = reload.apply(fresh, mapper, plugins);
      List<String> lines = new ArrayList<>();
      for (String name : o.created()) {
        lines.add(name + ": created from the configuration");
        LOG.info("{}", lines.getLast());
      }
      for (String line : o.notApplied()) {
        lines.add(line);
        LOG.warn("{}", line);
      }
      LOG.info("configuration read again: {} device(s) created, {} difference(s) not applied",
          o.created().size(), o.notApplied().size());
      return lines;
    }
  }

  /** The runtime directory's control socket. */
  public Path socket() {
    return runtime.socket();
  }

  /** The device mapper being served. */
  public DeviceMapper mapper() {
    return mapper;
  }

  /** The line printed when the daemon is up: {@code jdm ready: ...} with what it serves. */
  public String readyLine() {
    List<String> parts = new ArrayList<>();
    parts.add("control socket " + runtime.socket());
    List<MappedDevice> devices = mapper.list();
    parts.add(devices.isEmpty() ? "no devices"
        : "devices " + devices.stream().map(MappedDevice::name).collect(Collectors.joining(", ")));
    frontends.forEach(f -> parts.add(f.describe()));
    return "jdm ready: " + String.join("; ", parts);
  }

  /** How to reach each device, for a person reading the daemon's output. */
  public List<String> hints(String runtimeDirOption) {
    List<String> lines = new ArrayList<>();
    for (MappedDevice d : mapper.list()) {
      lines.add("  " + d.name() + " (" + d.sizeInBytes() + " bytes): jdm" + runtimeDirOption
          + " table " + d.name());
    }
    frontends.forEach(f -> lines.add("  " + f.describe()));
    return lines;
  }

  /**
   * Stops: the control socket stops taking requests (those being answered finish), frontends finish
   * their I/O and close, devices are flushed and removed, plugins unloaded, the socket and lock
   * removed. Idempotent.
   */
  @Override
  public void close() {
    synchronized (started) {
      if (!started.isEmpty()) {
        LOG.info("stopping");
        stop(started);
        LOG.info("stopped");
      }
    }
  }

  private static void stop(Deque<AutoCloseable> started) {
    while (!started.isEmpty()) {
      AutoCloseable c = started.pop();
      try {
        c.close();
      } catch (Exception e) {
        LOG.warn("while stopping: {}", e.toString());
      }
    }
  }
}
