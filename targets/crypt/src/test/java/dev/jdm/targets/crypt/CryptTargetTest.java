package dev.jdm.targets.crypt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crypt target's grammar, phrases, status and messages, through the real core. */
class CryptTargetTest {
  private static final String KEY =
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

  @TempDir
  Path dir;
  private DeviceMapper mapper;
  private Path file;

  @BeforeEach
  void mapper() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
    file = dir.resolve("backing.img");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(8192 * 512);
    }
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  private String line(String cipher, String key, String rest) {
    return "0 4096 crypt " + cipher + " " + key + " 0 " + file + " " + rest;
  }

  @Test
  void tableShowsTheKeyInHexAndTheOptionsInTheKernelsOrder() throws Exception {
    MappedDevice d = mapper.create("c", line("aes-xts-plain64", KEY.toUpperCase(),
        "8 4 no_write_workqueue sector_size:4096 ALLOW_DISCARDS same_cpu_crypt"), false);
    String table = d.table();
    assertEquals("0 4096 crypt aes-xts-plain64 " + KEY + " 0 " + file
        + " 8 4 allow_discards same_cpu_crypt no_write_workqueue sector_size:4096", table);
    assertEquals("0 4096 crypt", d.status().strip());
    assertEquals(table, mapper.create("copy", table, false).table());
    assertTrue(d.supports(dev.jdm.spi.IoOp.DISCARD));
  }

  @Test
  void everyOptionalParameterIsAccepted() throws Exception {
    String opts = "8 allow_discards same_cpu_crypt submit_from_crypt_cpus no_read_workqueue"
        + " no_write_workqueue sector_size:512 iv_large_sectors sector_size:1024";
    MappedDevice d = mapper.create("c", line("aes-xts-plain64", KEY, "0 " + opts), false);
    assertTrue(d.table().endsWith(" 0 7 allow_discards same_cpu_crypt submit_from_crypt_cpus"
        + " no_read_workqueue no_write_workqueue sector_size:1024 iv_large_sectors"), d.table());
  }

  @Test
  void theNullCipherStoresPlaintext() throws Exception {
    MappedDevice d = mapper.create("c", line("cipher_null-ecb", "-", "0"), false);
    assertEquals("0 4096 crypt cipher_null-ecb - 0 " + file + " 0", d.table());
    byte[] data = new byte[4096];
    new Random(1).nextBytes(data);
    assertEquals(IoStatus.OK, new BlockIo(d).write(8, data));
    assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(file), 4096, 8192));
    assertArrayEquals(data, new BlockIo(d).read(8, 4096));
  }

  @Test
  void badTablesGetTheKernelsPhrases() {
    String[][] cases = {
        {"0 4096 crypt aes-xts-plain64 " + KEY + " 0 " + file, "Not enough arguments"},
        {line("aes-xts-plain64", ":32:logon:my_prefix:my_key", "0"),
            "Kernel keyring keys are not supported"},
        {line("aes-xts-plain64", KEY, "0 9"), "Invalid number of feature args"},
        {line("aes-xts-plain64", KEY, "0 1 discard"), "Invalid feature arguments"},
        {line("aes-xts-plain64", KEY, "0 1 sector_size:768"),
            "Invalid feature value for sector_size"},
        {"0 4095 crypt aes-xts-plain64 " + KEY + " 0 " + file + " 0 1 sector_size:4096",
            "Device size is not multiple of sector_size feature"},
        {line("aes-xts-plain64", KEY, "0 1 integrity:28:aead"),
            "Integrity profiles are not supported"},
        {line("aes(x)-xts-plain64", KEY, "0"), "Bad cipher specification"},
        {line("aes:3-xts-plain64", KEY, "0"), "Bad cipher key count specification"},
        {line("aes-xts", KEY, "0"), "IV mechanism required"},
        {line("aes-cbc-essiv", KEY, "0"), "Digest algorithm missing for ESSIV mode"},
        {line("serpent-xts-plain64", KEY, "0"), "Error allocating crypto tfm"},
        {line("aes-xts-lmk", KEY, "0"), "Invalid IV mode"},
        {line("aes-xts-plain64", KEY.substring(2), "0"), "Error decoding and setting key"},
        {line("aes-xts-plain64", KEY.replace('0', 'g'), "0"), "Error decoding and setting key"},
        {line("aes-cbc-plain64", KEY + "00", "0"), "Error decoding and setting key"},
        {line("aes-xts-plain64", "-", "0"), "Error decoding and setting key"},
        {"0 4096 crypt aes-xts-plain64 " + KEY + " x " + file + " 0", "Invalid iv_offset sector"},
        {"0 4096 crypt aes-xts-plain64 " + KEY + " 4 " + file + " 0 1 sector_size:4096",
            "Invalid iv_offset sector"},
        {line("aes-xts-plain64", KEY, "-1"), "Invalid device sector"},
        {line("aes-xts-plain64", KEY, "4097"), "Device too small"},
        {"0 4096 crypt aes-xts-plain64 " + KEY + " 0 /no/such 0", "Device lookup failed"},
    };
    for (String[] c : cases) {
      DmException e = assertThrows(DmException.class, () -> mapper.create("bad", c[0], false),
          c[0]);
      assertTrue(e.getMessage().startsWith("bad: crypt: " + c[1]), c[0] + ": " + e.getMessage());
    }
  }

  @Test
  void keyMessagesOnlyWhileSuspendedAndAWipedKeyHoldsIoUntilSetAndResumed() throws Exception {
    MappedDevice d = mapper.create("c", line("aes-cbc-essiv:sha256", KEY, "0"), false);
    byte[] data = new byte[8192];
    new Random(9).nextBytes(data);
    assertEquals(IoStatus.OK, new BlockIo(d).write(16, data));

    DmException notSuspended = assertThrows(DmException.class,
        () -> mapper.message("c", 0, List.of("key", "wipe")));
    assertTrue(notSuspended.getMessage().endsWith("not suspended during key manipulation"),
        notSuspended.getMessage());

    mapper.suspend("c");
    assertThrows(DmException.class, () -> mapper.message("c", 0, List.of("key", "open")));
    mapper.message("c", 0, List.of("key", "wipe"));
    assertTrue(d.table().contains(" " + "0".repeat(64) + " "), d.table());
    DmException refused = assertThrows(DmException.class, () -> mapper.resume("c"));
    assertTrue(refused.getMessage().contains("aborting resume - crypt key is not set"),
        refused.getMessage());
    assertTrue(d.suspended());

    CompletableFuture<byte[]> read =
        CompletableFuture.supplyAsync(() -> new BlockIo(d).read(16, data.length));
    assertThrows(TimeoutException.class, () -> read.get(300, TimeUnit.MILLISECONDS));
    DmException size = assertThrows(DmException.class,
        () -> mapper.message("c", 0, List.of("key", "set", KEY.substring(2))));
    assertTrue(size.getMessage().endsWith("Error decoding and setting key"), size.getMessage());
    mapper.message("c", 0, List.of("key", "set", KEY));
    assertFalse(read.isDone());
    mapper.resume("c");
    assertArrayEquals(data, read.get(10, TimeUnit.SECONDS));
    assertTrue(d.table().contains(" " + KEY + " "));
  }
}
