package dev.jdm.targets.dust;

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
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dust target through the real core, over a real file, driven by its messages. */
class DustTargetTest {
  @TempDir Path dir;
  private DeviceMapper mapper;
  private Path file;

  @BeforeEach
  void mapper() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
    file = dir.resolve("disk.img");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(4096 * 512);
    }
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  private String message(String... words) throws DmException {
    return mapper.message("dust1", 0, List.of(words));
  }

  private String refused(String... words) {
    return assertThrows(DmException.class, () -> message(words)).getMessage();
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType t = ServiceLoader.load(TargetType.class).stream().map(ServiceLoader.Provider::get)
        .filter(x -> x.name().equals("dust")).findFirst().orElseThrow();
    assertEquals("v1.0.0", t.version().toString());
    assertEquals("<dev_path> <offset> <blksz>", t.usage());
  }

  @Test
  void badBlocksFailReadsOnlyWhileEnabledAndAWriteClearsThem() throws Exception {
    MappedDevice d = mapper.create("dust1", "0 4096 dust " + file + " 0 512", false);
    BlockIo io = new BlockIo(d);
    assertEquals(file + " bypass verbose", d.status().substring("0 4096 dust ".length()));
    assertEquals("", message("addbadblock", "60"));
    assertEquals("", message("addbadblock", "67"));
    assertEquals("", message("addbadblock", "72"));
    assertEquals(IoStatus.OK, io.readStatus(60, 512), "bypass: bad blocks read");

    assertEquals("", message("enable"));
    assertEquals("0 4096 dust " + file + " fail_read_on_bad_block verbose", d.status());
    assertEquals(IoStatus.EIO, io.readStatus(67, 512));
    assertEquals(IoStatus.EIO, io.readStatus(0, 128 * 512), "a read over a bad block fails");
    assertEquals(IoStatus.OK, io.readStatus(68, 512));

    byte[] data = new byte[128 * 512];
    data[67 * 512] = 42;
    assertEquals(IoStatus.OK, io.write(0, data), "writes succeed over bad blocks");
    assertEquals("countbadblocks: 0 badblock(s) found", message("countbadblocks"));
    assertArrayEquals(data, io.read(0, data.length));

    assertEquals("", message("addbadblock", "5"));
    assertEquals("", message("disable"));
    assertEquals(IoStatus.OK, io.readStatus(5, 512));
    assertEquals(IoStatus.OK, io.write(5, new byte[512]));
    assertEquals("dust_query_block: block 5 found in badblocklist", message("queryblock", "5"),
        "a write in bypass mode leaves the block bad, as the kernel does");
  }

  @Test
  void blocksAreCountedInBlockSizeUnitsOnTheDevice() throws Exception {
    MappedDevice d = mapper.create("dust1", "0 2048 dust " + file + " 8 4096", false);
    BlockIo io = new BlockIo(d);
    message("addbadblock", "3");
    message("enable");
    // Device block 3 is sectors 24..31 of the file, sectors 16..23 of the segment.
    assertEquals(IoStatus.OK, io.readStatus(15, 512));
    assertEquals(IoStatus.EIO, io.readStatus(16, 512));
    assertEquals(IoStatus.EIO, io.readStatus(23, 512));
    assertEquals(IoStatus.OK, io.readStatus(24, 512));
  }

  @Test
  void aWriteFailCountFailsThatManyWritesFirst() throws Exception {
    MappedDevice d = mapper.create("dust1", "0 4096 dust " + file + " 0 512", false);
    BlockIo io = new BlockIo(d);
    assertEquals("", message("addbadblock", "9", "2"));
    message("enable");
    assertEquals(IoStatus.EIO, io.write(9, new byte[512]));
    assertEquals(IoStatus.EIO, io.write(9, new byte[512]));
    assertEquals(IoStatus.OK, io.write(9, new byte[512]));
    assertEquals(IoStatus.OK, io.readStatus(9, 512));
  }

  @Test
  void messagesAnswerAsTheKernelDoes() throws Exception {
    MappedDevice d = mapper.create("dust1", "0 4096 dust " + file + " 0 512", false);
    assertEquals("dust_clear_badblocks: no badblocks found", message("clearbadblocks"));
    assertEquals("No blocks in badblocklist", message("listbadblocks"));
    message("addbadblock", "88");
    message("addbadblock", "7");
    assertEquals("dust1: dust: block 88 already in badblocklist", refused("addbadblock", "88"));
    assertEquals("dust1: dust: block 87 not found in badblocklist", refused("removebadblock", "87"));
    assertEquals("dust_query_block: block 72 not found in badblocklist", message("queryblock", "72"));
    assertEquals("countbadblocks: 2 badblock(s) found", message("countbadblocks"));
    assertEquals("7\n88\n", message("listbadblocks"));
    assertEquals("", message("removebadblock", "7"));
    assertEquals("dust_clear_badblocks: badblocks cleared", message("clearbadblocks"));
    assertEquals("countbadblocks: 0 badblock(s) found", message("countbadblocks"));

    assertEquals("", message("quiet"));
    assertEquals("0 4096 dust " + file + " bypass quiet", d.status());
    assertEquals("", message("QUIET"));
    assertEquals("0 4096 dust " + file + " bypass verbose", d.status());

    assertEquals("dust1: dust: addbadblock requires an additional argument", refused("addbadblock"));
    assertEquals("dust1: dust: unrecognized message 'frobnicate' received", refused("frobnicate"));
    assertEquals("dust1: dust: unrecognized message 'queryblock' received",
        refused("queryblock", "1", "1"));
    assertEquals("dust1: dust: selected block value out of range", refused("addbadblock", "4097"));
    assertEquals("dust1: dust: selected write fail count out of range",
        refused("addbadblock", "1", "256"));
    assertEquals("dust1: dust: Invalid argument", refused("addbadblock", "x"));
    assertEquals("dust1: dust: invalid number of arguments '4'", refused("a", "b", "c", "d"));
    assertEquals("", message("addbadblock", "4096"), "the kernel's bound lets the last one in");
  }

  @Test
  void refusesWithTheKernelsPhrases() {
    assertRefused("Invalid argument count", "0 4096 dust " + file + " 0");
    assertRefused("Invalid block size parameter", "0 4096 dust " + file + " 0 0");
    assertRefused("Invalid block size parameter", "0 4096 dust " + file + " 0 4k");
    assertRefused("Block size must be at least 512", "0 4096 dust " + file + " 0 256");
    assertRefused("Block size must be a power of 2", "0 4096 dust " + file + " 0 1536");
    assertRefused("Block size is too large", "0 4 dust " + file + " 0 4096");
    assertRefused("Invalid device offset sector", "0 4096 dust " + file + " -1 512");
    assertRefused("Device lookup failed", "0 4096 dust /no/such/file 0 512");
    assertRefused("Device too small", "0 4096 dust " + file + " 1 512");
    assertEquals(0, mapper.openBackingDevices());
  }

  private void assertRefused(String phrase, String table) {
    DmException e = assertThrows(DmException.class, () -> mapper.create("bad", table, false));
    assertEquals("bad: dust: " + phrase + " (line 1)", e.getMessage().replaceFirst(
        "Device lookup failed: .*\\(line 1\\)$", "Device lookup failed (line 1)"));
  }
}
