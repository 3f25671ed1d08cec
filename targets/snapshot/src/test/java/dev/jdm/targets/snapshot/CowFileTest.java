package dev.jdm.targets.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The targets in the real kernel over real files: the COW file jdm writes is the kernel's format
 * (read back with {@link KernelCow}, which shares no code with the store), and a COW file written
 * to that format loads.
 */
class CowFileTest {
  private static final int SECTORS = 32768;
  private static final int CHUNK = 8;

  @TempDir Path dir;
  private DeviceMapper mapper;
  private Path origin;
  private Path cow;
  private byte[] original;

  @BeforeEach
  void files() throws Exception {
    origin = dir.resolve("origin.img");
    cow = dir.resolve("cow.img");
    original = new byte[SECTORS * 512];
    new Random(1).nextBytes(original);
    Files.write(origin, original);
    Files.write(cow, new byte[8 << 20]);
    mapper = newMapper();
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  private static DeviceMapper newMapper() {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(CowFileTest.class.getClassLoader(), "class path"));
    return new DeviceMapper(registry);
  }

  private MappedDevice snapshot(String name) throws Exception {
    return mapper.create(name, "0 " + SECTORS + " snapshot " + origin + " " + cow + " P " + CHUNK,
        false);
  }

  @Test
  void theCowFileIsTheKernelsFormatAndLoadsAgain() throws Exception {
    MappedDevice base = mapper.create("base", "0 " + SECTORS + " snapshot-origin " + origin,
        false);
    MappedDevice snap = snapshot("snap");
    byte[] now = original.clone();
    Set<Long> touched = new HashSet<>();
    Random rnd = new Random(2);
    BlockIo io = new BlockIo(base);
    for (int i = 0; i < 300; i++) {
      int sectors = 1 + rnd.nextInt(32);
      long sector = rnd.nextInt(SECTORS - sectors);
      byte[] data = new byte[sectors * 512];
      rnd.nextBytes(data);
      assertEquals(IoStatus.OK, io.write(sector, data));
      System.arraycopy(data, 0, now, Math.toIntExact(sector * 512), data.length);
      for (long c = sector / CHUNK; c <= (sector + sectors - 1) / CHUNK; c++) {
        touched.add(c);
      }
    }
    assertArrayEquals(now, Files.readAllBytes(origin));
    assertArrayEquals(original, new BlockIo(snap).read(0, SECTORS * 512));
    String status = snap.status();
    mapper.close();

    byte[] image = Files.readAllBytes(cow);
    assertEquals(new KernelCow.Header(KernelCow.SNAP_MAGIC, 1, 1, CHUNK), KernelCow.header(image));
    List<KernelCow.Exception> ex = KernelCow.exceptions(image);
    Set<Long> olds = new HashSet<>();
    for (KernelCow.Exception e : ex) {
      assertTrue(olds.add(e.oldChunk()), "one exception per chunk: " + e);
      byte[] kept = new byte[CHUNK * 512];
      System.arraycopy(image, Math.toIntExact(e.newChunk() * CHUNK * 512), kept, 0, kept.length);
      byte[] old = new byte[CHUNK * 512];
      System.arraycopy(original, Math.toIntExact(e.oldChunk() * CHUNK * 512), old, 0, old.length);
      assertArrayEquals(old, kept, "COW chunk " + e.newChunk() + " holds origin chunk "
          + e.oldChunk() + " as it was");
    }
    assertEquals(touched, olds);
    // Allocated in order: the data chunks after each area, one after the other.
    for (int i = 0; i < ex.size(); i++) {
      long perArea = CHUNK * 512 / 16;
      assertEquals(KernelCow.areaChunk(CHUNK, i / perArea) + 1 + i % perArea,
          ex.get(i).newChunk());
    }
    // Status: chunks up to the last one allocated; metadata is the header and the areas so far.
    long allocated = (ex.getLast().newChunk() + 1) * CHUNK;
    long areas = ex.size() / (CHUNK * 512 / 16) + 1;
    assertEquals("0 " + SECTORS + " snapshot " + allocated + "/16384 " + (1 + areas) * CHUNK,
        status);

    mapper = newMapper();
    assertArrayEquals(original, new BlockIo(snapshot("again")).read(0, SECTORS * 512));
  }

  @Test
  void aCowFileWrittenToTheKernelsLayoutLoads() throws Exception {
    List<Long> olds = new ArrayList<>();
    List<byte[]> data = new ArrayList<>();
    Random rnd = new Random(3);
    // 300 exceptions of 4 KiB chunks: area 0 (256 of them) is full, area 1 holds the rest.
    for (int i = 0; i < 300; i++) {
      olds.add((long) (i * 13 % (SECTORS / CHUNK)));
      byte[] d = new byte[CHUNK * 512];
      rnd.nextBytes(d);
      data.add(d);
    }
    Files.write(cow, KernelCow.image(CHUNK, 8 << 20, olds, data));
    BlockIo snap = new BlockIo(snapshot("snap"));
    byte[] expected = original.clone();
    for (int i = 0; i < olds.size(); i++) {
      System.arraycopy(data.get(i), 0, expected, Math.toIntExact(olds.get(i) * CHUNK * 512),
          CHUNK * 512);
    }
    assertArrayEquals(expected, snap.read(0, SECTORS * 512));
  }

  @Test
  void originAndSnapshotWritersAtOnceEachSeeTheirOwnData() throws Exception {
    MappedDevice base = mapper.create("base", "0 " + SECTORS + " snapshot-origin " + origin,
        false);
    MappedDevice snap = snapshot("snap");
    int threads = 4;
    int region = SECTORS / threads;
    byte[] baseModel = original.clone();
    byte[] snapModel = original.clone();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t * region;
        int seed = 10 + t;
        done.add(pool.submit(() -> {
          Random rnd = new Random(seed);
          BlockIo b = new BlockIo(base);
          BlockIo s = new BlockIo(snap);
          for (int i = 0; i < 60; i++) {
            int sectors = 1 + rnd.nextInt(24);
            long sector = first + rnd.nextInt(region - sectors);
            byte[] data = new byte[sectors * 512];
            rnd.nextBytes(data);
            boolean toSnap = rnd.nextBoolean();
            assertEquals(IoStatus.OK, (toSnap ? s : b).write(sector, data));
            System.arraycopy(data, 0, toSnap ? snapModel : baseModel,
                Math.toIntExact(sector * 512), data.length);
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertArrayEquals(baseModel, new BlockIo(base).read(0, SECTORS * 512));
    assertArrayEquals(snapModel, new BlockIo(snap).read(0, SECTORS * 512));
  }
}
