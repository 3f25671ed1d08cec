package dev.jdm.targets.unstriped;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetType;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The unstriped target through the real core, over real files. */
class UnstripedTargetTest {
  private static final int MEMBER_SECTORS = 4096;
  private static final int CHUNK = 256;

  @TempDir Path dir;
  private DeviceMapper mapper;

  @BeforeEach
  void mapper() {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  private Path file(String name, long sectors) throws Exception {
    Path f = dir.resolve(name);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(sectors * 512);
    }
    return f;
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType t = ServiceLoader.load(TargetType.class).stream().map(ServiceLoader.Provider::get)
        .filter(x -> x.name().equals("unstriped")).findFirst().orElseThrow();
    assertEquals("v1.0.0", t.version().toString());
    assertEquals("<#stripes> <chunk_size> <stripe_#> <dev_path> <offset>", t.usage());
  }

  /** The kernel document's script: each unstriped device is exactly one member of the RAID 0. */
  @Test
  void eachUnstripedDeviceIsOneMemberOfTheStripedDevice() throws Exception {
    int n = 4;
    Path[] members = new Path[n];
    StringBuilder raid = new StringBuilder("0 " + MEMBER_SECTORS * n + " striped " + n + " " + CHUNK);
    for (int i = 0; i < n; i++) {
      members[i] = file("member-" + i, MEMBER_SECTORS);
      raid.append(' ').append(members[i]).append(" 0");
    }
    mapper.create("raid0", raid.toString(), false);
    Random rnd = new Random(5);
    for (int i = 0; i < n; i++) {
      MappedDevice set = mapper.create("set-" + i, "0 " + MEMBER_SECTORS + " unstriped " + n + " "
          + CHUNK + " " + i + " /dev/mapper/raid0 0", false);
      byte[] data = new byte[MEMBER_SECTORS * 512];
      rnd.nextBytes(data);
      for (int at = 0; at < data.length; at += 64 * 1024) {
        assertEquals(IoStatus.OK,
            new BlockIo(set).write(at / 512, Arrays.copyOfRange(data, at, at + 64 * 1024)));
      }
      assertEquals(IoStatus.OK, new BlockIo(set).flush());
      assertArrayEquals(data, Files.readAllBytes(members[i]), "member " + i);
      assertArrayEquals(data, new BlockIo(set).read(0, data.length));
    }
  }

  @Test
  void aSegmentAfterTheFirstMapsFromItsOwnStart() throws Exception {
    Path striped = file("striped", 8192);
    MappedDevice d = mapper.create("two", "0 100 zero\n100 1024 unstriped 2 8 1 " + striped + " 0",
        false);
    byte[] data = new byte[8 * 512];
    new Random(1).nextBytes(data);
    assertEquals(IoStatus.OK, new BlockIo(d).write(100 + 8, data));
    // The member's second chunk is the striped device's fourth: row 1, column 1.
    byte[] onDisk = new byte[data.length];
    try (RandomAccessFile raf = new RandomAccessFile(striped.toFile(), "r")) {
      raf.seek(3 * 8 * 512);
      raf.readFully(onDisk);
    }
    assertArrayEquals(data, onDisk);
  }

  /** Whole chunks of the member, not of the striped device: the kernel document's lengths. */
  @Test
  void takesEveryLengthTheKernelTakesAndTheKernelDocumentsToo() throws Exception {
    Path f = file("striped", 4096);
    mapper.create("k", "0 1024 unstriped 4 256 3 " + f + " 0", false);
    mapper.create("d", "0 512 unstriped 4 256 3 " + f + " 0", false);
    assertEquals(2, mapper.list().size());
  }

  @Test
  void statusIsTheTableBackAndNothingElse() throws Exception {
    Path striped = file("striped", 4096);
    MappedDevice d = mapper.create("u", "0 512 unstriped 2 256 1 " + striped + " 7", false);
    assertEquals("0 512 unstriped 2 256 1 " + striped + " 7", d.table());
    assertEquals("0 512 unstriped", d.status());
  }

  @Test
  void refusesWithTheKernelsPhrases() throws Exception {
    Path f = file("striped", 4096);
    String dev = " " + f + " 0";
    assertRefused("Invalid number of arguments", "0 512 unstriped 2 256 1 " + f);
    assertRefused("Invalid stripe count", "0 512 unstriped 0 256 1" + dev);
    assertRefused("Invalid stripe count", "0 512 unstriped 4294967296 256 1" + dev);
    assertRefused("Invalid chunk_size", "0 512 unstriped 2 0 1" + dev);
    assertRefused("Non power of 2 chunk_size is not supported yet", "0 512 unstriped 2 96 1" + dev);
    assertRefused("Invalid stripe number", "0 512 unstriped 2 256 one" + dev);
    assertRefused("Please provide stripe between [0, # of stripes]",
        "0 512 unstriped 2 256 3" + dev);
    assertRefused("Invalid striped device offset", "0 512 unstriped 2 256 1 " + f + " 1x");
    assertRefused("Target length not divisible by chunk size", "0 511 unstriped 2 256 1" + dev);
    assertRefused("Target length not divisible by chunk size", "0 256 unstriped 2 512 1" + dev);
    assertRefused("Couldn't get striped device", "0 512 unstriped 2 256 1 /no/such 0");
    assertRefused("Device too small", "0 4096 unstriped 2 256 1" + dev);
    assertEquals(0, mapper.openBackingDevices());
  }

  private void assertRefused(String phrase, String table) {
    DmException e = assertThrows(DmException.class, () -> mapper.create("bad", table, false));
    assertEquals("bad: unstriped: " + phrase + " (line 1)", e.getMessage());
  }
}
