package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.read.ListAppender;
import ch.qos.logback.core.spi.FilterReply;
import dev.jdm.fuse.proto.MountTable;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * A jdm device mapper with the FUSE frontend mounted on a fresh temporary directory, for one test.
 * Targets come from the test class path. Everything a test attaches through it (loop devices,
 * mounts, child processes) is undone after the test, also when the test failed; a FUSE mount or
 * loop device still left after that fails the test.
 */
final class JdmMount implements BeforeEachCallback, AfterEachCallback {
  private final String config;
  private Path dir;
  private Path mountpoint;
  private TargetRegistry registry;
  private DeviceMapper mapper;
  private Frontend frontend;
  private final Deque<Path> mounts = new ArrayDeque<>();
  private final List<String> loops = new ArrayList<>();
  private final List<Process> processes = new ArrayList<>();
  private final ListAppender<ILoggingEvent> errors = new ListAppender<>();

  /** A fixture whose frontend has the defaults plus {@code config} (keys of jdm.frontends.fuse). */
  JdmMount(String config) {
    this.config = config;
  }

  JdmMount() {
    this("");
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    for (String tool : List.of("losetup", "mount", "umount")) {
      Tools.require(tool);
    }
    errors.addFilter(new ThresholdFilter());
    errors.start();
    jdmLogger().addAppender(errors);
    dir = Files.createTempDirectory("jdm-fuse-");
    mountpoint = Files.createDirectory(dir.resolve("mnt"));
    registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
    start();
  }

  /** Starts the frontend (again, after {@link #stop}). */
  Frontend start() throws Exception {
    frontend = new FuseFrontendProvider().start(mapper, settings("")).orElseThrow();
    return frontend;
  }

  /** The fixture's configuration with {@code extra} added to its section. */
  Config settings(String extra) {
    return ConfigFactory.parseString("jdm.frontends.fuse { enabled = true, mountpoint = \""
        + mountpoint + "\"\n" + config + "\n" + extra + "\n}")
        .withFallback(ConfigFactory.defaultReference());
  }

  /** Unmounts the frontend. */
  void stop() {
    if (frontend != null) {
      frontend.close();
      frontend = null;
    }
  }

  DeviceMapper mapper() {
    return mapper;
  }

  TargetRegistry registry() {
    return registry;
  }

  Frontend frontend() {
    return frontend;
  }

  Path mountpoint() {
    return mountpoint;
  }

  /** The fixture's temporary directory (backing files live here). */
  Path dir() {
    return dir;
  }

  /** The device file of {@code name}. */
  Path file(String name) {
    return mountpoint.resolve(name);
  }

  /** A sparse backing file of {@code bytes} in the temporary directory. */
  Path backing(String name, long bytes) throws IOException {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /** Creates a device with {@code table}, live at once. */
  MappedDevice device(String name, String table) throws DmException {
    return mapper.create(name, table, false);
  }

  /** Attaches a loop device to {@code file}; it is detached after the test. */
  String losetup(Path file) {
    String loop = Tools.run("losetup", "-f", "--show", file.toString()).ok().out().strip();
    loops.add(loop);
    return loop;
  }

  /** Detaches a loop device attached by {@link #losetup}. */
  void detach(String loop) {
    Tools.run("losetup", "-d", loop).ok();
    loops.remove(loop);
  }

  /** Mounts block device {@code dev} on a new directory; it is unmounted after the test. */
  Path mount(String dev, String name) throws IOException {
    Path at = Files.createDirectories(dir.resolve(name));
    Tools.run("mount", dev, at.toString()).ok();
    mounts.push(at);
    return at;
  }

  /** Unmounts what {@link #mount} mounted. */
  void umount(Path at) {
    Tools.run("umount", at.toString()).ok();
    mounts.remove(at);
  }

  /** Keeps a child process to kill after the test if it still runs. */
  Process own(Process p) {
    processes.add(p);
    return p;
  }

  private static Logger jdmLogger() {
    return (Logger) LoggerFactory.getLogger("dev.jdm");
  }

  /** Passes ERROR events only. */
  private static final class ThresholdFilter extends Filter<ILoggingEvent> {
    @Override
    public FilterReply decide(ILoggingEvent event) {
      return event.getLevel().isGreaterOrEqual(Level.ERROR) ? FilterReply.NEUTRAL
          : FilterReply.DENY;
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    List<String> leftovers = new ArrayList<>();
    for (Process p : processes) {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    while (!mounts.isEmpty()) {
      Path at = mounts.pop();
      if (Tools.run("umount", at.toString()).exit() != 0) {
        Tools.run("umount", "-l", at.toString());
      }
    }
    // Only loop devices still on this test's files: a detached number may serve another test now.
    List<String> ours = loops.isEmpty() ? List.of() : LoopDevices.backedBy(dir);
    for (String loop : loops) {
      if (ours.contains(loop)) {
        Tools.run("losetup", "-d", loop);
      }
    }
    try {
      stop();
    } finally {
      if (mapper != null) {
        mapper.close();
      }
    }
    if (dir == null) {
      jdmLogger().detachAppender(errors);
      return;
    }
    for (String loop : LoopDevices.backedBy(dir)) {
      leftovers.add("loop device " + loop);
      Tools.run("losetup", "-d", loop);
    }
    for (MountTable.Mount m : MountTable.read()) {
      if (m.mountPoint().startsWith(dir.toString())) {
        leftovers.add(m.type() + " mount on " + m.mountPoint());
        Tools.run("umount", "-l", m.mountPoint());
      }
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
    jdmLogger().detachAppender(errors);
    assertEquals(List.of(), leftovers, "left behind after the test");
    assertEquals(List.of(), errors.list.stream().map(ILoggingEvent::getFormattedMessage).toList(),
        "errors logged during the test");
  }
}
