package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.Region;
import dev.jdm.spi.Scheduler;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Services end with their target: no thread left, copies cancelled, shared objects closed. */
class ServicesLifecycleTest {
  @TempDir Path dir;
  ServiceFixture f;
  Path a;
  Path b;

  @BeforeEach
  void setUp() throws Exception {
    f = new ServiceFixture();
    a = ServiceFixture.sparse(dir.resolve("a.img"), 16 << 20);
    b = ServiceFixture.sparse(dir.resolve("b.img"), 16 << 20);
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  /** A shared object that counts its closes. */
  static final class Counted implements AutoCloseable {
    final AtomicInteger closes = new AtomicInteger();

    @Override
    public void close() {
      closes.incrementAndGet();
    }
  }

  /** Starts every service on {@code t}; returns the shared object it holds. */
  private Counted useEverything(ProbeTarget t) throws Exception {
    Scheduler s = t.ctx.scheduler();
    s.schedule(() -> { }, TimeUnit.HOURS.toNanos(1));
    CompletableFuture<Boolean> ran = new CompletableFuture<>();
    s.execute(() -> ran.complete(true));
    s.compute(() -> { });
    assertTrue(ran.get(5, TimeUnit.SECONDS));
    t.ctx.copier().rate(1 << 20);
    t.message(List.of("copy"));
    MetadataBlocks m = t.ctx.metadata(t.dev, 0, 4096, true);
    m.zeroed(1).putInt(0, 7);
    m.zeroed(0).putLong(0, 1);
    m.commit(0);
    ByteBuffer buf = ByteBuffer.allocateDirect(4096);
    assertEquals(0, t.ctx.io().run(IoOp.READ, 0, new Region[] {new Region(t.dev, 0, 8)}, 1, buf,
        0));
    t.ctx.raiseEvent();
    return t.ctx.shared("counted", Counted.class, Counted::new);
  }

  @Test
  void aTargetUsingEveryServiceLeavesNoThreadWhenItCloses() throws Exception {
    Set<String> before = ServiceFixture.jdmThreads();
    ProbeTarget t = f.probe("all", 16 << 11, a, b);
    Counted shared = useEverything(t);
    Set<String> during = ServiceFixture.jdmThreads();
    assertTrue(during.contains("jdm-timer"), during.toString());
    assertTrue(during.stream().anyMatch(n -> n.startsWith("jdm-worker-all-")), during.toString());
    assertTrue(during.stream().anyMatch(n -> n.startsWith("jdm-compute-all-")),
        during.toString());
    assertFalse(t.ended.isDone());

    f.dm.remove("all", false);
    assertTrue(t.closed);
    // The running copy was cancelled and its done ran before the target's threads stopped.
    assertEquals("false 0 true", t.ended.getNow("not ended"));
    assertEquals(1, shared.closes.get());
    assertEquals(before, ServiceFixture.awaitJdmThreads(before));
    assertEquals(0, f.dm.openBackingDevices());
  }

  @Test
  void closingTheDeviceMapperLeavesNoThread() throws Exception {
    Set<String> before = ServiceFixture.jdmThreads();
    useEverything(f.probe("one", 16 << 11, a, b));
    useEverything(f.probe("two", 16 << 11, b, a));
    f.dm.close();
    assertEquals(before, ServiceFixture.awaitJdmThreads(before));
  }

  @Test
  void sharedObjectsLiveWhileAnyHolderDoes() throws Exception {
    ProbeTarget origin = f.probe("origin", 2048, a);
    ProbeTarget snap = f.probe("snap", 2048, b);
    Counted c = origin.ctx.shared("origin:" + a, Counted.class, Counted::new);
    assertSame(c, origin.ctx.shared("origin:" + a, Counted.class, Counted::new));
    assertSame(c, snap.ctx.shared("origin:" + a, Counted.class, () -> {
      throw new AssertionError("made twice");
    }));
    ClassCastException e = assertThrows(ClassCastException.class,
        () -> snap.ctx.shared("origin:" + a, String.class, () -> "no"));
    assertTrue(e.getMessage().contains("not a java.lang.String"), e.getMessage());
    // A reload of the snapshot takes a new hold before the old table lets go.
    f.dm.load("snap", "0 2048 probe " + b);
    ProbeTarget reloaded = f.probe.made.get("snap");
    assertSame(c, reloaded.ctx.shared("origin:" + a, Counted.class, Counted::new));
    f.dm.resume("snap");
    f.dm.remove("origin", false);
    assertEquals(0, c.closes.get());
    f.dm.remove("snap", false);
    assertEquals(1, c.closes.get());
    // Gone: the next one asking makes a new one.
    ProbeTarget again = f.probe("again", 2048, a);
    Counted fresh = again.ctx.shared("origin:" + a, Counted.class, Counted::new);
    assertFalse(fresh == c);
  }

  @Test
  void wrongSettingsAreRefusedWithTheirKey() {
    for (String setting : List.of("copier.chunk = 1000", "copier.chunk = 128M",
        "copier.rate = -1", "workers = 0", "copier.chunks-in-flight = 0",
        "metadata.cache-blocks = 0")) {
      ConfigException e = assertThrows(ConfigException.class, () -> new DeviceMapper(
          f.registry, ConfigFactory.parseString("jdm.kernel." + setting)
              .withFallback(ConfigFactory.defaultReference())));
      assertTrue(e.getMessage().contains(setting.substring(0, setting.indexOf(' '))),
          e.getMessage());
    }
  }

  @Test
  void raiseEventBumpsTheDevicesEventNumberAndWakesWaiters() throws Exception {
    ProbeTarget t = f.probe("events", 2048, a);
    MappedDevice d = f.dm.get("events");
    long seen = d.info().eventNumber();
    CompletableFuture<Long> woken = CompletableFuture.supplyAsync(() -> {
      try {
        return d.awaitEvent(seen, 10_000);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    Thread.sleep(100);
    assertFalse(woken.isDone());
    t.ctx.raiseEvent();
    assertEquals(seen + 1, woken.get(5, TimeUnit.SECONDS));
    assertEquals(seen + 1, d.info().eventNumber());
  }
}
