package dev.jdm.luks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.Cryptsetup;
import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Images formatted by the real cryptsetup open with the volume key cryptsetup reports. */
class LuksVolumeTest {
  private static final byte[] PASSPHRASE = "correct horse".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path dir;
  private ExternalTools tools;
  private Path image;
  private Path keyFile;

  @BeforeEach
  void setUp() throws Exception {
    tools = new ExternalTools(dir);
    image = dir.resolve("volume.img");
    try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
      raf.setLength(24L << 20);
    }
    keyFile = Files.write(dir.resolve("key"), PASSPHRASE);
  }

  @AfterEach
  void tearDown() throws Exception {
    tools.close();
  }

  @ParameterizedTest(name = "{0} {1} sector {2}")
  @CsvSource({
      "luks1, pbkdf2, 512",
      "luks2, pbkdf2, 512",
      "luks2, argon2id, 512",
      "luks2, argon2i, 4096",
      "luks2, argon2id, 4096",
  })
  void opensWithTheKeyCryptsetupReports(String type, String kdf, int sectorSize)
      throws Exception {
    tools.ok(Cryptsetup.luksFormat(type, kdf, sectorSize, keyFile, image), 120);
    LuksVolume v = LuksVolume.read(image);
    assertEquals(type.equals("luks1") ? 1 : 2, v.version());
    byte[] key = v.unlock(PASSPHRASE);
    assertArrayEquals(Cryptsetup.volumeKey(tools, keyFile, image), key);
    assertThrows(NoKeyException.class, () -> v.unlock("wrong".getBytes(StandardCharsets.UTF_8)));

    LuksVolume.Segment s = v.segment();
    assertEquals("aes-xts-plain64", s.cipher());
    assertEquals(sectorSize, s.sectorSize());
    String table = v.table(key, image.toString(), Files.size(image));
    long data = Files.size(image) - s.offsetBytes();
    assertEquals("0 " + data / 512 + " crypt aes-xts-plain64 " + HexFormat.of().formatHex(key)
        + " 0 " + image + " " + s.offsetBytes() / 512
        + (sectorSize == 512 ? "" : " 1 sector_size:" + sectorSize), table);

    String dump = v.dump();
    assertTrue(dump.contains(v.uuid()), dump);
    assertTrue(dump.contains(type.equals("luks1") ? "Key Slot 0: ENABLED" : "PBKDF:      " + kdf),
        dump);
    assertFalse(dump.contains(HexFormat.of().formatHex(key).substring(0, 16)), dump);
  }

  @Test
  void aDamagedFirstHeaderFallsBackToTheSecond() throws Exception {
    tools.ok(Cryptsetup.luksFormat("luks2", "pbkdf2", 512, keyFile, image), 120);
    byte[] expected = LuksVolume.read(image).unlock(PASSPHRASE);
    try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
      raf.seek(4096 + 10); // inside the first copy's JSON: its checksum no longer matches
      raf.write('#');
    }
    assertArrayEquals(expected, LuksVolume.read(image).unlock(PASSPHRASE));
    try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
      raf.seek(16384 + 4096 + 10);
      raf.write('#');
    }
    LuksException e = assertThrows(LuksException.class, () -> LuksVolume.read(image));
    assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
  }

  @Test
  void aPlainFileIsNotLuks() {
    LuksException e = assertThrows(LuksException.class, () -> LuksVolume.read(image));
    assertEquals("not a LUKS volume", e.getMessage());
  }

  @Test
  void jsonIsReadStrictly() throws Exception {
    assertEquals(java.util.Map.of("a", List.of(1L, "x", true), "b", java.util.Map.of()),
        Json.parse(" {\"a\": [1, \"x\", true], \"b\": {}} "));
    for (String bad : List.of("{", "{\"a\":1,}", "{\"a\":1} x", "[1.5]", "{\"a\":1,\"a\":2}",
        "[".repeat(100))) {
      assertThrows(LuksException.class, () -> Json.parse(bad), bad);
    }
  }
}
