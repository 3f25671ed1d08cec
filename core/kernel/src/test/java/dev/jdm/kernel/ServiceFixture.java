package dev.jdm.kernel;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * A device mapper with the {@code probe}, {@code kill} and {@code pass} test targets over sparse
 * files, for the service tests.
 */
final class ServiceFixture implements AutoCloseable {
  final TargetRegistry registry = new TargetRegistry();
  final ProbeTarget.Type probe = new ProbeTarget.Type();
  final DeviceMapper dm;

  ServiceFixture() throws DmException {
    this(com.typesafe.config.ConfigFactory.defaultReference());
  }

  ServiceFixture(com.typesafe.config.Config config) throws DmException {
    registry.register(probe, "test");
    registry.register(new ProbeTarget.Kill(), "test");
    dm = new DeviceMapper(registry, config);
  }

  /** A sparse file of {@code bytes} bytes. */
  static Path sparse(Path file, long bytes) throws IOException {
    try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "rw")) {
      r.setLength(bytes);
    }
    return file;
  }

  /** Creates {@code name} as one probe segment of {@code sectors} and returns its target. */
  ProbeTarget probe(String name, long sectors, Object... devices) throws DmException {
    StringBuilder line = new StringBuilder("0 " + sectors + " probe");
    for (Object d : devices) {
      line.append(' ').append(d);
    }
    dm.create(name, line.toString(), false);
    return probe.made.get(name);
  }

  /** The names of the live threads called jdm-*. */
  static Set<String> jdmThreads() {
    Set<String> names = new TreeSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith("jdm-")) {
        names.add(t.getName());
      }
    }
    return names;
  }

  /** Waits up to five seconds for the jdm-* threads to be {@code expected}; returns the last. */
  static Set<String> awaitJdmThreads(Set<String> expected) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    Set<String> now = jdmThreads();
    while (!now.equals(expected) && System.nanoTime() < deadline) {
      Thread.sleep(20);
      now = jdmThreads();
    }
    return now;
  }

  @Override
  public void close() {
    dm.close();
  }
}
